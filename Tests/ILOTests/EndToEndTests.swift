import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime
import Testing

/// ILO end to end on the real 64x64 DCGAN: recovering a generator-made image must beat the
/// observation's naive reconstruction by at least 5 dB PSNR (seeded, a few dozen steps).
@Suite(.enabled(if: TestModels.dcganURL != nil, "skipped: run `bash models/fetch.sh` for the DCGAN weights"))
struct EndToEndTests {
  static func recover(_ op: any ForwardOperator, seed: UInt64 = 3, settings: InversionSettings? = nil) throws -> (psnr: Double, naive: Double, result: InversionResult) {
    let g = try TestModels.dcgan()
    let truth = try TestModels.sample(g, seed: seed)
    let g2 = Graph("measure")
    let x = g2.input("x", truth.shape)
    g2.output("y", op.apply(x))
    let y = try Program(g2).run(inputs: ["x": truth])["y"]!
    var s = settings ?? InversionSettings()
    if settings == nil { s.rounds = [.fixed(40), .fixed(30), .fixed(20), .fixed(20)]; s.ensemble = 1 }
    s.seed = 100  // a different start than the truth's
    let problem = InversionProblem(generator: g, forward: op, observation: y, mask: op as? InpaintMask)
    let result = try Inverter(problem: problem, settings: s).run()
    let naive = try NaiveReconstruction.compute(op, observation: y, size: 64)
    let p = try Scoring.image(result.image, against: truth)["psnr"]!, q = try Scoring.image(naive, against: truth)["psnr"]!
    print(String(format: "[e2e] %@: PSNR %.2f dB, naive %.2f dB", op.task.rawValue, p, q))
    return (p, q, result)
  }

  @Test func inpaintingFromTwentyPercentOfPixels() throws {
    let r = try Self.recover(try InpaintMask(keepProbability: 0.2, seed: 1, height: 64, width: 64))
    #expect(r.psnr >= r.naive + 5)
    // round r starts exactly where round r-1's best iterate ended
    for k in 1..<r.result.roundImages.count {
      let d = r.result.roundStartImages[k].maxRelativeDifference(to: r.result.generatorRoundImages[k - 1])
      #expect(d < 1e-5, "round \(k) start vs round \(k - 1) best: \(d)")
    }
  }

  @Test func superResolutionByFour() throws {
    // DCGAN faces are smooth: nearest-neighbour upsampling of x4 is a strong baseline (~27 dB),
    // so the latent search needs restarts of a first round with PULSE's one-cycle schedule
    // (chosen by data loss, not by the truth), then short intermediate rounds inside an l1
    // ball. Plain 40/30/20/20 ILO steps give only about +2..3 dB here.
    var s = InversionSettings()
    s.rounds = [.fixed(200), .fixed(40), .fixed(30)]
    s.restarts = 4
    s.ensemble = 1
    s.learningRates = [0.4, 0.1, 0.1]
    s.radiusState = [200]
    s.schedule = .pulseOneCycle
    let r = try Self.recover(try BicubicDownsampler(factor: 4), settings: s)
    #expect(r.psnr >= r.naive + 4)  // the naive here is bicubic upsampling (~28.6 dB), not nearest
  }

  @Test func gaussianCompressedSensing() throws {
    let r = try Self.recover(try GaussianSensing(imageSize: 64, measurements: 400, seed: 2))
    #expect(r.psnr >= r.naive + 5)
  }
}

@Suite struct InversionMechanicsTests {
  static func problem(_ g: StyleGAN2Generator) throws -> InversionProblem {
    let truth = try TestModels.sample(g, seed: 1)
    let mask = try InpaintMask(keepProbability: 0.5, seed: 4, height: 32, width: 32)
    let y = HostTensor<Float>(shape: truth.shape, values: truth.values.enumerated().map { i, v in mask.values[i % 1024] * v })
    return InversionProblem(generator: g, forward: mask, observation: y, mask: mask)
  }

  @Test func savedStateRendersTheResultBitForBit() throws {
    let g = try TestModels.styleGAN2()
    var s = InversionSettings()
    s.rounds = [.fixed(4), .fixed(4), .fixed(3)]
    s.ensemble = 1  // one run: the state reproduces its generator image (the result is that, made consistent)
    let p = try Self.problem(g)
    let result = try Inverter(problem: p, settings: s).run()
    #expect(result.rounds.count == 3 && result.state.round == result.selectedRound)  // the state of the chosen round
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-state-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: dir) }
    let saved = SavedState(metadata: .init(round: result.state.round, model: "fixture", modelDescription: g.description, settings: s,
                                           operatorRecord: p.forward.record, observationShape: p.observation.shape, lpipsNet: nil),
                           values: result.state.values)
    try saved.write(to: dir)
    let again = try SavedState.read(dir).render(generator: g)
    #expect(again.values.map(\.bitPattern) == result.generatorImage!.values.map(\.bitPattern))
    // the result keeps the generator's image in the holes and the observed pixels elsewhere
    let mask = (p.forward as! InpaintMask).values
    for (i, v) in result.image.values.enumerated() {
      let kept = mask[i % 1024] == 1 ? p.observation.values[i] : result.generatorImage!.values[i]
      let expected = Swift.min(1, Swift.max(-1, kept))  // the step clips to the image range
      #expect(Swift.abs(v - expected) <= 1e-5, "pixel \(i): \(v) vs \(expected)")
      if Swift.abs(v - expected) > 1e-5 { break }
    }
    // the next round starts from the best state: round r's start image equals round r-1's best
    for k in 1..<3 {
      #expect(result.roundStartImages[k].maxRelativeDifference(to: result.generatorRoundImages[k - 1]) < 1e-5)
    }
  }

  @Test func enginesAgreeOnTheFirstSteps() throws {
    let g = try TestModels.styleGAN2()
    var s = InversionSettings()
    s.rounds = [.fixed(3)]
    s.ensemble = 1
    final class Rec: InversionObserver {
      var losses: [Float] = []
      func roundStarted(_ round: Int, of rounds: Int, program: StageProgram) {}
      func step(_ round: Int, _ step: Int, dataLoss: Float, objective: Float, stepsPerSecond: Double) { losses.append(objective) }
      func roundFinished(_ report: RoundReport, image: HostTensor<Float>) {}
    }
    var all: [[Float]] = []
    for e in Engine.allCases {
      let inv = try Inverter(problem: try Self.problem(g), settings: s, engine: e)
      let rec = Rec()
      inv.observer = rec
      _ = try inv.run()
      all.append(rec.losses)
    }
    #expect(all[0].count == 3)
    for (a, b) in zip(all[0], all[1]) { #expect(Swift.abs(a - b) <= 1e-4 * Swift.abs(b), "\(a) vs \(b)") }
  }

  @Test func nanLossIsAnErrorNotAResult() throws {
    let g = try TestModels.styleGAN2()
    var p = try Self.problem(g)
    p.observation.values[0] = .nan
    var s = InversionSettings()
    s.rounds = [.fixed(2)]
    #expect(throws: InversionError.self) { try Inverter(problem: p, settings: s).run() }
  }

  @Test func radiiMustMatchTheRounds() throws {
    var s = InversionSettings()
    s.rounds = [.fixed(2), .fixed(2), .fixed(2)]
    s.radiusState = [1, 2]
    #expect(throws: InversionError.self) { try s.validate(maxRounds: 4) }
    s.radiusState = [1, 2, 3]
    try s.validate(maxRounds: 4)
    s.rounds = Array(repeating: .fixed(1), count: 5)
    #expect(throws: InversionError.self) { try s.validate(maxRounds: 4) }
  }

  @Test func automaticSwitchingStopsFlatRounds() throws {
    let g = try TestModels.styleGAN2()
    var s = InversionSettings()
    s.rounds = [.auto(window: 3, threshold: 0.5, minSteps: 3, maxSteps: 40)]
    let r = try Inverter(problem: try Self.problem(g), settings: s).run()
    #expect(r.rounds[0].steps < 40, "\(r.rounds[0].switchReason)")
    #expect(r.rounds[0].switchReason.contains("flat") || r.rounds[0].switchReason.contains("improv"), "\(r.rounds[0].switchReason)")
  }
}

/// The LPIPS loss term and metric with the formula backbone of the model fixtures and the real
/// v0.1 heads stored in the LPIPS golden file (trained backbone weights cannot be downloaded).
@Suite struct PerceptualLossTests {
  static func perceptual() throws -> PerceptualLoss {
    let golden = try SafeTensorsFile(contentsOf: TestModels.root.appendingPathComponent("Tests/ModelsTests/Fixtures/lpips/lpips_golden.safetensors"))
    var heads: [String: TensorData] = [:]
    for l in 0..<5 { heads[LPIPS.headKey(l)] = golden.tensors["head.vgg.lin\(l)"]! }
    let lp = LPIPS(net: .vgg)
    return PerceptualLoss(lpips: lp, weights: try lp.merge(backbone: LPIPSFormulaWeights.backbone(.vgg), heads: StateDict(source: "golden", tensors: heads)))
  }

  @Test func lpipsTermIsOptimizedAndScored() throws {
    let g = try TestModels.styleGAN2()
    var p = try InversionMechanicsTests.problem(g)
    p.perceptual = try Self.perceptual()
    var s = InversionSettings()
    s.rounds = [.fixed(2)]
    s.lossWeights = [LossWeightsRecord(mse: 1, lpips: 1, geoCross: 0.01)]
    // (LPIPS-VGG agrees between engines in the model goldens; the interpreter takes minutes here)
    let r = try Inverter(problem: p, settings: s, engine: .jit).run()
    let lp = r.rounds[0].terms[LossOutput.perceptual]
    #expect(lp != nil && lp!.isFinite && lp! > 0)
    // the metric: zero for identical images, positive otherwise
    let x = try TestModels.sample(g, seed: 5), y = try TestModels.sample(g, seed: 6)
    #expect(try Scoring.lpips(x, x, Self.perceptual()) == 0)
    #expect(try Scoring.lpips(x, y, Self.perceptual()) > 0)
  }
}

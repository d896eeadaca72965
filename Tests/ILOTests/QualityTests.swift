import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime
import Testing

/// Records every step's losses and validation errors, per round.
final class StepRecorder: InversionObserver {
  var data: [[Float]] = [], objectives: [[Float]] = [], validation: [[Double]] = []
  func roundStarted(_ round: Int, of rounds: Int, program: StageProgram) {
    data.append([]); objectives.append([]); validation.append([])
  }
  func step(_ round: Int, _ step: Int, dataLoss: Float, objective: Float, stepsPerSecond: Double) {
    data[data.count - 1].append(dataLoss); objectives[objectives.count - 1].append(objective)
  }
  func roundFinished(_ report: RoundReport, image: HostTensor<Float>) {}
  func validated(_ round: Int, _ step: Int, error: Double) { validation[validation.count - 1].append(error) }
  var steps: Int { data.map(\.count).reduce(0, +) }
}

/// Issue 12: `--auto` rounds, restarts that keep their state, the held-out validation split.
@Suite struct QualityTests {
  static func run(_ p: InversionProblem, _ s: InversionSettings) throws -> (InversionResult, StepRecorder) {
    let rec = StepRecorder()
    let inv = try Inverter(problem: p, settings: s)
    inv.observer = rec
    return (try withExtendedLifetime(rec) { try inv.run() }, rec)
  }

  @Test func autoNeverEndsARoundInItsFirstTwentySteps() throws {
    let g = try TestModels.styleGAN2()
    var s = InversionSettings()
    s.validation = nil
    s.rounds = Array(repeating: .auto(window: 5, threshold: 0.5, minSteps: 5, maxSteps: 30), count: 3)
    let (r, _) = try Self.run(try InversionMechanicsTests.problem(g), s)
    for round in r.rounds {
      #expect(round.steps >= InversionSettings.autoMinimumSteps, "round \(round.round): \(round.switchReason)")
      #expect(round.steps < 30, "round \(round.round) never flattened: \(round.switchReason)")
    }
  }

  @Test func restartsKeepTheWinningStartsState() throws {
    let g = try TestModels.styleGAN2()
    let p = try InversionMechanicsTests.problem(g)
    var s = InversionSettings()
    s.validation = nil
    s.rounds = [.fixed(3), .fixed(2)]
    s.restarts = 3
    s.ensemble = 1
    let (r, rec) = try Self.run(p, s)
    #expect(rec.steps == 3 * 3 + 2)  // the winner's first round is not run again
    #expect(r.starts.count == 3)
    let winner = r.starts.min { $0.bestDataLoss < $1.bestDataLoss }!
    #expect(r.rounds[0].bestDataLoss == winner.bestDataLoss)
    // the same as a single run from the winning start
    var one = s
    one.restarts = 1
    one.seed = winner.seed
    let (single, _) = try Self.run(p, one)
    #expect(single.image.values == r.image.values)
    #expect(single.starts.isEmpty)
  }

  /// By default ILO's first round runs from three starts on denoising (and CS, colorization)
  /// and from one on inpainting and super-resolution; the baselines from one unless asked.
  @Test func defaultRestartsDependOnTheTask() throws {
    let g = try TestModels.styleGAN2()
    let inpaint = try InversionMechanicsTests.problem(g)
    let truth = try TestModels.sample(g, seed: 1)
    let denoise = InversionProblem(generator: g, forward: NoiseAddition.identity, observation: truth)
    var s = InversionSettings()
    s.validation = nil
    s.rounds = [.fixed(2), .fixed(1)]
    s.ensemble = 1
    let (d, rec) = try Self.run(denoise, s)
    #expect(d.starts.count == 3 && rec.steps == 3 * 2 + 1)
    let (i, recI) = try Self.run(inpaint, s)
    #expect(i.starts.isEmpty && recI.steps == 2 + 1)
    var csgm = s
    csgm.method = .csgm
    csgm.rounds = [.fixed(2)]
    let (c, recC) = try Self.run(denoise, csgm)
    #expect(c.starts.isEmpty && recC.steps == 2)
    // an ensemble reports every run's starts, each run with its own seeds
    var two = s
    two.ensemble = 2
    let (e, _) = try Self.run(denoise, two)
    let seeds = e.members.map { $0.starts?.map(\.seed) ?? [] }
    #expect(seeds.count == 2 && seeds.allSatisfy { $0.count == 3 })
    #expect(seeds.first == e.starts.map(\.seed) && Set(seeds.joined()).count == 6)
  }

  /// Denoising's last round keeps its feature map in an l1 ball of 0.0015 per element by
  /// default; the other tasks, the baselines and an explicit `radiusState` get no such ball.
  @Test func lastRoundBallDependsOnTheTask() throws {
    var s = InversionSettings()
    #expect(try s.stateRadius(round: 4, rounds: 5, task: .denoise, elements: 1000) == 1.5)
    #expect(try s.stateRadius(round: 3, rounds: 5, task: .denoise, elements: 1000) == nil)
    for task in [Task.superres, .inpaint, .csGaussian, .csCirculant, .colorize] {
      #expect(try s.stateRadius(round: 4, rounds: 5, task: task, elements: 1000) == nil)
    }
    #expect(try s.stateRadius(round: 0, rounds: 1, task: .denoise, elements: 1000) == nil)  // no map
    s.lastRoundRadius = 0
    #expect(try s.stateRadius(round: 4, rounds: 5, task: .denoise, elements: 1000) == nil)
    s.lastRoundRadius = 0.01
    #expect(try s.stateRadius(round: 2, rounds: 3, task: .inpaint, elements: 100) == 1)
    s.radiusState = [7, 8, 9]
    #expect(try s.stateRadius(round: 1, rounds: 3, task: .denoise, elements: 100) == 8)
    var csgm = InversionSettings()
    csgm.method = .csgm
    #expect(csgm.lastRoundRadius(for: .denoise) == 0)
    for bad in [-1, Float.nan, .infinity] {
      s.lastRoundRadius = bad
      #expect(throws: InversionError.self) { try s.validateValues() }
    }
    s.lastRoundRadius = 0.001  // both flags set the last round's ball
    #expect(throws: InversionError.self) { try s.validateValues() }
  }

  /// The `Inverter` writes the task's ball into its settings (what report.json, states and
  /// artifact manifests record); given radii replace it, and record none.
  @Test func inverterResolvesTheLastRoundBall() throws {
    let g = try TestModels.styleGAN2()
    let truth = try TestModels.sample(g, seed: 1)
    let denoise = InversionProblem(generator: g, forward: NoiseAddition.identity, observation: truth)
    let inpaint = try InversionMechanicsTests.problem(g)
    var s = InversionSettings()
    s.rounds = [.fixed(1), .fixed(1)]
    #expect(try Inverter(problem: denoise, settings: s).settings.lastRoundRadius == 0.0015)
    #expect(try Inverter(problem: inpaint, settings: s).settings.lastRoundRadius == 0)
    s.radiusState = [50]
    #expect(try Inverter(problem: denoise, settings: s).settings.lastRoundRadius == 0)
  }

  /// The last round's ball acts on the last round only: earlier rounds give the same bits with
  /// and without it, a tight ball holds the last round's image near its start, and a ball too
  /// large to bind changes no bit.
  @Test func lastRoundBallBindsOnlyTheLastRound() throws {
    let g = try TestModels.styleGAN2()
    let truth = try TestModels.sample(g, seed: 1)
    var rng = SplitMix64(seed: 3)
    let noisy = HostTensor<Float>(shape: truth.shape, values: truth.values.map { $0 + 0.3 * Float(rng.normal()) })
    let p = InversionProblem(generator: g, forward: NoiseAddition.identity, observation: noisy)
    var s = InversionSettings()
    s.validation = nil
    s.rounds = [.fixed(3), .fixed(3), .fixed(6)]
    s.learningRates = [0.1, 0.05, 0.05]
    s.ensemble = 1
    s.restarts = 1
    func run(_ radius: Float?) throws -> InversionResult {
      var t = s
      t.lastRoundRadius = radius
      return try Self.run(p, t).0
    }
    let free = try run(0), still = try run(1e-9), small = try run(1e-4), loose = try run(1e6)
    #expect(free.roundImages[0].values == small.roundImages[0].values)
    #expect(free.roundImages[1].values == small.roundImages[1].values)
    #expect(free.roundImages[2].values != small.roundImages[2].values)
    #expect(loose.image.values == free.image.values)
    // every run starts the last round from the same map (the rounds before agree bit for bit),
    // and `still` hardly moves it: so the others' distance to it is their distance from the start
    let h = { (r: InversionResult) in r.state.values["h"]!.values }
    #expect(free.state.round == 2 && still.state.round == 2 && small.state.round == 2)
    func l1(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).map { Double(Swift.abs($0 - $1)) }.reduce(0, +) }
    let n = Double(h(free).count)
    #expect(l1(h(small), h(still)) <= (1e-4 + 1e-9) * n * 1.0001)
    #expect(l1(h(small), h(still)) >= 0.5e-4 * n)  // the ball binds: the round wants to move further
    #expect(l1(h(free), h(still)) > 3e-4 * n, "\(l1(h(free), h(still)) / n) per element")
  }

  /// Inpainting's LPIPS compares the generated image with the observation filled in by it: zero
  /// at the truth (it compared the masked prediction, black in the holes, with the filled image).
  @Test func inpaintingLPIPSIsZeroAtTheTruth() throws {
    let g = try TestModels.styleGAN2()
    var p = try InversionMechanicsTests.problem(g)  // the truth is the image of seed 1's inputs
    p.perceptual = try PerceptualLossTests.perceptual()
    var s = InversionSettings()
    s.seed = 1
    s.rounds = [.fixed(1)]
    s.lossWeights = [LossWeightsRecord(mse: 1, lpips: 1, geoCross: 0)]
    let (r, _) = try Self.run(p, s)
    let lpips = r.rounds[0].terms[LossOutput.perceptual]
    #expect(lpips != nil && lpips! < 1e-6, "\(String(describing: lpips))")
  }

  @Test func defaultsComeFromTheSweeps() throws {
    let s = InversionSettings()
    try s.validate(maxRounds: 5)
    #expect(s.rounds.count == 5 && (0..<5).map(s.learningRate) == [0.1, 0.01, 0.01, 0.003, 0.003])
    #expect(InversionSettings.defaultValidation(for: .denoise) != nil)
    #expect(InversionSettings.defaultValidation(for: .superres) != nil)
    #expect(InversionSettings.defaultValidation(for: .inpaint) == nil)
  }

  /// A problem and an observation that differs from it only at the held-out measurements.
  static func heldOutVariants(_ g: StyleGAN2Generator, _ s: InversionSettings) throws
    -> (InversionProblem, InversionProblem)
  {
    let p = try InversionMechanicsTests.problem(g)
    let h = try StageProgram.holdout(p, s)!
    var q = p
    for i in h.heldOut { q.observation.values[i] += 0.7 }
    return (p, q)
  }

  @Test func theLossNeverSeesTheHeldOutMeasurements() throws {
    let g = try TestModels.styleGAN2()
    var s = InversionSettings()
    s.validation = ValidationSettings()
    s.rounds = [.fixed(4), .fixed(3)]
    s.lossWeights = [LossWeightsRecord(mse: 1, lpips: 1, geoCross: 0.01, deadZone: 0.5)]
    var (p, q) = try Self.heldOutVariants(g, s)
    p.perceptual = try PerceptualLossTests.perceptual(); q.perceptual = p.perceptual
    let (_, a) = try Self.run(p, s), (_, b) = try Self.run(q, s)
    #expect(a.objectives == b.objectives && a.data == b.data)  // the same trajectory
    #expect(a.validation[0][0] != b.validation[0][0])  // measured on the held-out values
  }

  @Test func theValidationErrorSelectsTheStepAndTheRound() throws {
    let g = try TestModels.styleGAN2()
    var s = InversionSettings()
    s.validation = ValidationSettings(fraction: 0.2, seed: 3)
    s.rounds = [.fixed(6), .fixed(4), .fixed(4)]
    s.learningRates = [0.3]
    s.ensemble = 1
    s.dataConsistency = false  // the rounds' own validation errors select (DataConsistencyTests: after the step)
    let (r, rec) = try Self.run(try InversionMechanicsTests.problem(g), s)
    for (k, round) in r.rounds.enumerated() {
      let v = rec.validation[k]
      #expect(v.count == round.steps)
      #expect(round.bestStep == v.firstIndex(of: v.min()!)!)
      #expect(round.validationError == v.min()!)
    }
    let errors = r.rounds.map { $0.validationError! }
    #expect(r.selectedRound == errors.firstIndex(of: errors.min()!)!)
    #expect(r.image.values == r.roundImages[r.selectedRound].values)
    #expect(r.selection.contains("validation"))
  }
}

/// LPIPS with a trained backbone: DeepScale's SqueezeNet v1.1 (Caffe, converted) in
/// ../shared/weights/ and the lpips package's v0.1 squeeze heads. The expected distances are
/// those measured with the file (its README) on the shipped face; the noise draws differ, so
/// they agree to within a quarter.
@Suite(.enabled(if: TrainedSqueeze.available, "skipped: ../shared/weights or models/cache/lpips is absent"))
struct TrainedSqueezeTests {
  @Test func distancesOrderDamageLikeTheReference() throws {
    let lp = try LPIPS.detect(backbone: TrainedSqueeze.backbone)
    #expect(lp.net == .squeeze && lp.input == .caffe)
    let weights = try lp.loadWeights(backbone: TrainedSqueeze.backbone, heads: TrainedSqueeze.heads)
    let p = PerceptualLoss(lpips: lp, weights: weights)
    let face = try ImageIO.readTensor(TestModels.root.appendingPathComponent("models/samples/face64.png"))
    var rng = SplitMix64(seed: 12)
    let noise = SeededStreams.normals(face.values.count, &rng)
    func noisy(_ sigma: Float) -> HostTensor<Float> {
      HostTensor(shape: face.shape, values: zip(face.values, noise).map { $0 + sigma * $1 })
    }
    #expect(try Scoring.lpips(face, face, p) == 0)
    let d = try [0.05, 0.1, 0.2].map { try Scoring.lpips(noisy(Float($0)), face, p) }
    for (got, want) in zip(d, [0.027, 0.098, 0.386]) { #expect(Swift.abs(got - want) < 0.25 * want, "\(d)") }
    let other = try ImageIO.readTensor(TestModels.root.appendingPathComponent("models/samples/lfw/lfw050.png"))
    #expect(try Scoring.lpips(other, face, p) > d[1])
  }
}

enum TrainedSqueeze {
  static let backbone = TestModels.root.deletingLastPathComponent()
    .appendingPathComponent("shared/weights/squeezenet1_1-features-caffe.safetensors")
  static let heads = TestModels.root.appendingPathComponent("models/cache/lpips/v0.1/squeeze.pth")
  static var available: Bool {
    FileManager.default.fileExists(atPath: backbone.path) && FileManager.default.fileExists(atPath: heads.path)
  }
}

/// report.json says what each restart reached and which round the result comes from.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path),
                "skipped: the iloc executable is not built"))
struct QualityReportTests {
  @Test func reportNamesEachStartAndTheSelectedRound() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let out = d.appendingPathComponent("out"), img = d.appendingPathComponent("x.png")
    try CLITests.png(32, at: img)
    let r = try CLITests.run(["invert", "--model", CLITests.s32, "--fit-samples", "200", "--task", "inpaint", "--mask",
                              "random:0.5", "--observed", img.path, "--steps", "2,2", "--restarts", "2", "--ensemble", "1",
                              "--validation", "0.1", "-o", out.path])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let data = try Data(contentsOf: out.appendingPathComponent("report.json"))
    let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    let starts = json["restarts"] as? [[String: Any]]
    #expect(starts?.count == 2)
    #expect(starts?.allSatisfy { $0["bestDataLoss"] is Double && $0["validationError"] is Double } == true)
    #expect((json["selectedRound"] as? Int).map { (1...2).contains($0) } == true)
    #expect((json["selection"] as? String)?.contains("validation") == true)
    #expect(r.stdout.contains("result: round"))
    #expect(r.stdout.contains("start 2/2 of round 1") && r.stdout.contains("fit best (validation error"), "\(r.stdout)")
    #expect((json["settings"] as? [String: Any])?["restarts"] as? Int == 2)
    // without --restarts the report records the task's default
    let den = d.appendingPathComponent("den")
    let r2 = try CLITests.run(["invert", "--model", CLITests.s32, "--fit-samples", "200", "--task", "denoise", "--sigma", "0.1",
                               "--observed", img.path, "--steps", "1,1", "--ensemble", "1", "-o", den.path])
    #expect(r2.status == 0, "stderr: \(r2.stderr)")
    let j2 = try JSONSerialization.jsonObject(with: Data(contentsOf: den.appendingPathComponent("report.json"))) as! [String: Any]
    #expect((j2["settings"] as? [String: Any])?["restarts"] as? Int == 3 && (j2["restarts"] as? [Any])?.count == 3)
    // and the last round's ball: denoising's default, none for inpainting
    #expect((j2["settings"] as? [String: Any])?["lastRoundRadius"] as? Double == 0.0015)
    #expect((json["settings"] as? [String: Any])?["lastRoundRadius"] as? Double == 0)
    let bad = try CLITests.run(["invert", "--model", CLITests.s32, "--task", "inpaint", "--mask", "random:0.5",
                                "--observed", img.path, "--validation", "1.5", "-o", d.appendingPathComponent("bad").path])
    #expect(bad.status != 0, "\(bad.stderr)")
    #expect(bad.stderr.split(separator: "\n").count == 1 && bad.stderr.contains("--validation"), "\(bad.stderr)")
  }

  /// The naive super-resolution is the operator's bicubic upsampling, not nearest neighbours.
  @Test func naiveSuperResolutionIsBicubic() throws {
    let op = try BicubicDownsampler(factor: 4)
    var rng = SplitMix64(seed: 2)
    let y = HostTensor<Float>(shape: [1, 3, 8, 8], values: SeededStreams.normals(192, &rng))
    let naive = try NaiveReconstruction.compute(op, observation: y, size: 32)
    #expect(naive.shape == [1, 3, 32, 32] && naive.values == op.upsample(y.values, shape: y.shape))
    #expect(naive.values != ImageIO.resize(y, to: 32).values)
  }
}

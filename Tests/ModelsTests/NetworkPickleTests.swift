import Foundation
import GraphIR
import Models
import Runtime
import Testing

/// NVIDIA network pickles (`scripts/fixtures/make_nvidia_pickles.py`): a stylegan2-ada-pytorch
/// pickle and a TensorFlow StyleGAN2 pickle of tiny random-weight generators (size 32), each
/// with the same weights as a reference-port `.pt` and goldens computed in float64 by an
/// implementation of that family working on its own layout.
@Suite struct NetworkPickleTests {
  static let families = ["ada", "tf"]

  static func pickle(_ family: String) -> URL { Fixtures.url("nvidia/\(family)_s32.pkl") }

  /// The image of `synthesisGraph` for the golden's w+ rows and noise maps.
  static func image(_ c: StyleGAN2Checkpoint, _ golden: [String: HostTensor<Float>]) throws -> HostTensor<Float> {
    let mg = try StyleGAN2(config: c.config).synthesisGraph(batch: golden["w_plus"]!.shape[0])
    var feed = try mg.bind(c.stateDict)
    feed["w_plus"] = golden["w_plus"]
    for i in 0..<c.config.noiseCount { feed["noise.\(i)"] = golden["noise.\(i)"] }
    return try Interpreter.run(mg.graph, inputs: feed, outputs: ["image"])["image"]!
  }

  /// The pickle gives the reference-layout tensors of the equivalent `.pt` and the same image.
  @Test(arguments: families)
  func sameAsTheReferenceCheckpoint(_ family: String) throws {
    let pkl = try StyleGAN2Checkpoint(contentsOf: Self.pickle(family))
    let pt = try StyleGAN2Checkpoint(contentsOf: Fixtures.url("nvidia/\(family)_s32.pt"))
    #expect(pkl.config == pt.config)
    #expect(pkl.config.size == 32 && pkl.config.styleDim == 32 && pkl.config.mappingLayers == 2)
    #expect(pkl.config.channels == [4: 16, 8: 16, 16: 16, 32: 8])
    var keys = Array(pt.config.weightShapes.keys) + ["latent_avg"]
    keys += (0..<pt.config.noiseCount).map { "noises.noise_\($0)" }
    for key in keys {
      guard let a = pkl.stateDict[key], let b = pt.stateDict[key] else {
        Issue.record("\(family): '\(key)' missing (pickle \(pkl.stateDict[key] != nil), pt \(pt.stateDict[key] != nil))"); continue
      }
      expectClose(HostTensor(shape: a.shape, values: a.values), HostTensor(shape: b.shape, values: b.values),
                  "\(family) \(key)", tol: 1e-6)
    }
    let golden = try Fixtures.golden("nvidia/\(family)_s32_golden.safetensors")
    expectClose(try Self.image(pkl, golden), try Self.image(pt, golden), "\(family) image pkl vs pt", tol: 1e-5)
  }

  /// Image (w+ rows and z), mapping and mean latent against the family's own implementation.
  @Test(arguments: families)
  func matchesTheFamilyGolden(_ family: String) throws {
    let c = try StyleGAN2Checkpoint(contentsOf: Self.pickle(family))
    let golden = try Fixtures.golden("nvidia/\(family)_s32_golden.safetensors")
    expectClose(try Self.image(c, golden), golden["image"], "\(family) image")
    #expect(c.latentAverage == golden["latent_avg"]!.values)
    let z = golden["z"]!
    let mg = try StyleGAN2(config: c.config).generatorGraph(batch: z.shape[0])
    var feed = try mg.bind(c.stateDict)
    feed["z"] = z
    for i in 0..<c.config.noiseCount { feed["noise.\(i)"] = golden["noise.\(i)"] }
    let out = try Interpreter.run(mg.graph, inputs: feed, outputs: ["image", "w_plus"])
    expectClose(out["image"], golden["image_z"], "\(family) image from z")
    let w = out["w_plus"]!
    let rows = c.config.latentCount, d = c.config.styleDim
    let firstRows = (0..<z.shape[0]).flatMap { b in w.values[(b * rows * d)..<(b * rows * d + d)] }
    expectClose(HostTensor(shape: [z.shape[0], d], values: firstRows), golden["w"], "\(family) mapping")
  }

  /// Gradients of sum(image · R) with respect to the w+ rows and the noise maps, against the
  /// family's own implementation (autograd in float64); `ada_clamp` also checks the clamp's
  /// derivative.
  @Test(arguments: families + ["ada_clamp"])
  func gradientsMatchTheFamilyGolden(_ family: String) throws {
    let c = try StyleGAN2Checkpoint(contentsOf: Self.pickle(family))
    let golden = try Fixtures.golden("nvidia/\(family)_s32_golden.safetensors")
    let mg = try StyleGAN2(config: c.config).synthesisGraph(batch: 2)
    let g = mg.graph, r = golden["grad.R"]!
    let noises = (0..<c.config.noiseCount).map { g.input(named: "noise.\($0)")! }
    let gg = try gradients(of: sum(g.output(named: "image")! * g.constant(r.values, r.shape)),
                           wrt: [g.input(named: "w_plus")!] + noises)
    var feed = try mg.bind(c.stateDict)
    feed["w_plus"] = golden["w_plus"]
    for i in 0..<c.config.noiseCount { feed["noise.\(i)"] = golden["noise.\(i)"] }
    let out = try timed("\(family) gradient (jit)") { try runGraph(.jit, gg, inputs: feed) }
    expectClose(out["grad:w_plus"], golden["grad.w_plus"], "\(family) grad w_plus")
    for i in 0..<c.config.noiseCount {
      expectClose(out["grad:noise.\(i)"], golden["grad.noise.\(i)"], "\(family) grad noise.\(i)")
    }
  }

  /// A generator trained without a W average (`w_avg_beta=None`) loads without `latent_avg`
  /// (`iloc convert` then fits it); made by renaming the fixture's `w_avg` buffer in place.
  @Test func withoutWAverage() throws {
    var bytes = [UInt8](try Data(contentsOf: Self.pickle("ada")))
    let needle: [UInt8] = [0x8C, 0x05] + Array("w_avg".utf8)
    let at = try #require((0...(bytes.count - needle.count)).first { Array(bytes[$0..<$0 + needle.count]) == needle })
    bytes.replaceSubrange((at + 2)..<(at + 7), with: Array("w_xyz".utf8))
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("no_avg.pkl")
    try Data(bytes).write(to: url)
    let c = try StyleGAN2Checkpoint(contentsOf: url), full = try StyleGAN2Checkpoint(contentsOf: Self.pickle("ada"))
    #expect(c.latentAverage == nil && full.latentAverage != nil && c.config == full.config)
  }

  /// The detected format and architecture are reported.
  @Test func reportsFormatAndArchitecture() throws {
    let ada = try #require(try StyleGAN2Checkpoint(contentsOf: Self.pickle("ada")).networkPickle)
    #expect(ada.format == .adaPytorch && ada.network == "G_ema")
    #expect(ada.details["resolution"] == "32" && ada.details["channels"] == "4:16 8:16 16:16 32:8")
    #expect(ada.details["channel_base"] == "256" && ada.details["lr_multiplier"] == "0.01")
    #expect(ada.mapping.contains { $0.hasPrefix("mapping.w_avg -> latent_avg") })
    #expect(ada.notes == ["blocks b16, b32 run in float16 in the original (num_fp16_res); iloc computes every block in float32"])
    let tf = try #require(try StyleGAN2Checkpoint(contentsOf: Self.pickle("tf")).networkPickle)
    #expect(tf.format == .tensorflow && tf.network == "Gs" && tf.details["mapping_layers"] == "2")
    guard case .styleGAN2(let g) = try GeneratorCheckpoint.load(Self.pickle("tf")) else {
      Issue.record("the TF pickle did not load as a StyleGAN2 generator"); return
    }
    #expect(g.networkPickle?.format == .tensorflow)
  }
}

/// stylegan2-ada-pytorch's `conv_clamp`, read from the pickle and applied on both engines; kept
/// through `iloc convert`'s JSON.
@Suite struct ConvClampTests {
  static let pickle = Fixtures.url("nvidia/ada_clamp_s32.pkl")

  @Test(arguments: Engine.allCases)
  func clampedImageMatchesTheGolden(_ engine: Engine) throws {
    let c = try StyleGAN2Checkpoint(contentsOf: Self.pickle)
    #expect(c.config.convClamp == 0.75)
    let golden = try Fixtures.golden("nvidia/ada_clamp_s32_golden.safetensors")
    let unclamped = try NetworkPickleTests.image(try StyleGAN2Checkpoint(contentsOf: NetworkPickleTests.pickle("ada")), golden)
    #expect(unclamped.maxRelativeDifference(to: golden["image"]!) > 0.1, "the clamp should change the image")
    let mg = try StyleGAN2(config: c.config).synthesisGraph(batch: 2)
    var feed = try mg.bind(c.stateDict)
    feed["w_plus"] = golden["w_plus"]
    for i in 0..<c.config.noiseCount { feed["noise.\(i)"] = golden["noise.\(i)"] }
    expectClose(try runGraph(engine, mg.graph, inputs: feed, outputs: ["image"])["image"], golden["image"], "clamped image (\(engine))")
  }

  @Test func convertKeepsTheClamp() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var o = ModelConverter.Options()
    o.fitSamples = 100
    o.engine = .interp
    let report = try ModelConverter.convert(Self.pickle, to: dir.appendingPathComponent("m.safetensors"), options: o)
    #expect(report.manifest.convClamp == 0.75 && report.summary.contains("conv_clamp 0.75"))
    guard case .styleGAN2(let c) = try GeneratorCheckpoint.load(dir.appendingPathComponent("m.json")) else {
      Issue.record("not a StyleGAN2 model"); return
    }
    #expect(c.config.convClamp == 0.75)
  }
}

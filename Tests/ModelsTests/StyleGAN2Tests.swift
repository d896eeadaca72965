import Foundation
import GraphIR
import Numerics
import Models
import Runtime
import Testing

/// StyleGAN2 against the goldens of `scripts/golden/make_stylegan2_golden.py` (an independent
/// PyTorch implementation, computed in float64): tiny random-weight generators of size 32
/// (batch 2, 3 mapping layers) and 64 (batch 1, 8 mapping layers), run in Float.
@Suite struct StyleGAN2Tests {
  struct Case {
    let ckpt: StyleGAN2Checkpoint
    let golden: [String: HostTensor<Float>]
    let psi: Float = 0.7
    var model: StyleGAN2 { StyleGAN2(config: ckpt.config) }
    var batch: Int { golden["w_plus"]!.shape[0] }
    func noises(from i0: Int = 0) -> [String: HostTensor<Float>] {
      Dictionary(uniqueKeysWithValues: (i0..<ckpt.config.noiseCount).map { ("noise.\($0)", golden["noise.\($0)"]!) })
    }
    init(_ size: Int) throws {
      ckpt = try StyleGAN2Checkpoint(contentsOf: Fixtures.url("stylegan2/stylegan2_s\(size).pt"))
      golden = try Fixtures.golden("stylegan2/stylegan2_s\(size)_golden.safetensors")
    }
  }

  @Test(arguments: [32, 64])
  func configFromCheckpoint(_ size: Int) throws {
    let c = try Case(size).ckpt.config
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("stylegan2/stylegan2_s\(size).json"))) as! [String: Any]
    #expect(c.size == json["size"] as! Int)
    #expect(c.styleDim == json["style_dim"] as! Int)
    #expect(c.mappingLayers == json["n_mlp"] as! Int)
    #expect(c.latentCount == json["n_latent"] as! Int)
    #expect(c.noiseCount == json["num_noises"] as! Int)
    #expect(c.blockCount == json["num_blocks"] as! Int)
    let ch = (json["channels"] as! [String: Int])
    #expect(c.channels == Dictionary(uniqueKeysWithValues: ch.map { (Int($0.key)!, $0.value) }))
  }

  @Test func standardConfigs() throws {
    let c = try StyleGAN2Config(size: 1024, channelMultiplier: 2)
    #expect(c.latentCount == 18 && c.noiseCount == 17 && c.blockCount == 9)
    #expect((0..<9).map { c.channels(ofBlock: $0) } == [512, 512, 512, 512, 512, 256, 128, 64, 32])
    #expect(c.latentIndices(ofBlock: 8) == [15, 16, 17] && c.noiseIndices(ofBlock: 8) == [15, 16])
    #expect((0..<17).map { c.noiseResolution($0) } == [4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128, 256, 256, 512, 512, 1024, 1024])
    let c256 = try StyleGAN2Config(size: 256, channelMultiplier: 1)
    #expect(c256.latentCount == 14 && (0..<7).map { c256.channels(ofBlock: $0) } == [512, 512, 512, 512, 256, 128, 64])
    #expect(throws: ModelError.self) { try StyleGAN2Config(size: 48) }
    // every size 8...1024 builds a shape-correct full synthesis graph
    for s in [8, 16, 32, 64, 128, 256, 512, 1024] {
      let m = try StyleGAN2(config: StyleGAN2Config(size: s, channelMultiplier: 1))
      let mg = try m.synthesisGraph(batch: 1)
      #expect(mg.graph.output(named: "image")!.shape == [1, 3, s, s])
      let synthesisKeys = m.config.weightShapes.filter { !$0.key.hasPrefix("style.") }
      #expect(mg.weights.shapes == synthesisKeys, "size \(s)")
    }
  }

  /// z -> mapping -> truncation (w+) matches `mapping.w` and `w_plus`.
  @Test(arguments: [32, 64])
  func mappingAndTruncation(_ size: Int) throws {
    let t = try Case(size)
    let z = t.golden["mapping.z"]!
    let plain = t.model.mappingGraph(batch: z.shape[0], rows: z.shape[1])
    let trunc = t.model.mappingGraph(batch: z.shape[0], rows: z.shape[1], truncation: t.psi)
    var feed = try plain.bind(t.ckpt.stateDict); feed["z"] = z
    expectClose(try Interpreter.run(plain.graph, inputs: feed)["w"], t.golden["mapping.w"], "s\(size) mapping.w")
    feed = try trunc.bind(t.ckpt.stateDict); feed["z"] = z
    #expect(feed["latent_avg"] == t.golden["latent_avg"])
    expectClose(try Interpreter.run(trunc.graph, inputs: feed)["w"], t.golden["w_plus"], "s\(size) w_plus")
  }

  /// The full synthesis network: image and every block state (h_k, skip_k).
  @Test(arguments: [32, 64], Engine.allCases)
  func synthesis(_ size: Int, _ engine: Engine) throws {
    let t = try Case(size)
    let mg = try t.model.synthesisGraph(batch: t.batch)
    var feed = try mg.bind(t.ckpt.stateDict).merging(t.noises()) { a, _ in a }
    feed["w_plus"] = t.golden["w_plus"]
    let out = try timed("stylegan2 s\(size) synthesis \(engine)") { try runGraph(engine, mg.graph, inputs: feed) }
    expectClose(out["image"], t.golden["image"], "s\(size) image")
    for k in 0..<t.ckpt.config.blockCount {
      expectClose(out["h.\(k)"], t.golden["state.h\(k)"], "s\(size) h\(k)")
      expectClose(out["skip.\(k)"], t.golden["state.skip\(k)"], "s\(size) skip\(k)")
    }
  }

  /// Gradients of L = sum(image · R) for the full synthesis (w.r.t. w+ and every noise), and
  /// through mapping + truncation w.r.t. z (whole generator graph with per-row latents).
  @Test(arguments: [32, 64], Engine.allCases)
  func fullGradients(_ size: Int, _ engine: Engine) throws {
    let t = try Case(size)
    let mg = try t.model.synthesisGraph(batch: t.batch)
    let g = mg.graph
    let r = g.constant(t.golden["grad.R"]!.values, t.golden["grad.R"]!.shape)
    let loss = sum(g.output(named: "image")! * r)
    let wrt = [g.input(named: "w_plus")!] + (0..<t.ckpt.config.noiseCount).map { g.input(named: "noise.\($0)")! }
    let gg = try gradients(of: loss, wrt: wrt)
    var feed = try mg.bind(t.ckpt.stateDict).merging(t.noises()) { a, _ in a }
    feed["w_plus"] = t.golden["w_plus"]
    let out = try timed("stylegan2 s\(size) synthesis gradient \(engine)") { try runGraph(engine, gg, inputs: feed) }
    expectClose(out["grad:w_plus"], t.golden["grad.full.w_plus"], "s\(size) grad w_plus")
    for i in 0..<t.ckpt.config.noiseCount {
      expectClose(out["grad:noise.\(i)"], t.golden["grad.full.noise.\(i)"], "s\(size) grad noise.\(i)")
    }

    let full = try t.model.generatorGraph(batch: t.batch, truncation: t.psi, perRowLatents: true)
    let fg = full.graph
    let fl = sum(fg.output(named: "image")! * fg.constant(t.golden["grad.R"]!.values, t.golden["grad.R"]!.shape))
    let fgg = try gradients(of: fl, wrt: [fg.input(named: "z")!])
    var ffeed = try full.bind(t.ckpt.stateDict).merging(t.noises()) { a, _ in a }
    ffeed["z"] = t.golden["mapping.z"]
    let fout = try runGraph(engine, fgg, inputs: ffeed)
    expectClose(fout["image"], t.golden["image"], "s\(size) generator image", tol: 2e-4)
    expectClose(fout["grad:z"], t.golden["grad.mapping.z"], "s\(size) grad z")
  }

  /// The model is written as the reference writes it (per-sample weights, convolutions grouped
  /// over the batch); `differentiate` runs the compiler's forward rewrites first. The rewritten
  /// gradient graph has no per-sample weight left (no weight-gradient convolution, no grouped
  /// convolution but the depthwise blurs) and still matches the goldens (batch 2 at s32).
  @Test(arguments: [32, 64])
  func compilerRewritesKeepTheGoldens(_ size: Int) throws {
    let t = try Case(size)
    let mg = try t.model.synthesisGraph(batch: t.batch)
    let g = mg.graph
    g.output("loss", sum(g.output(named: "image")! * g.constant(t.golden["grad.R"]!.values, t.golden["grad.R"]!.shape)))
    let plain = try gradients(of: g.output(named: "loss")!, wrt: [g.input(named: "w_plus")!])
    let gg = try differentiate(g, loss: "loss", wrt: ["w_plus"])
    #expect(plain.opCounts["conv2d_weight_grad"] ?? 0 > 0)
    #expect(gg.opCounts["conv2d_weight_grad"] == nil)
    for n in gg.nodes {
      if case .conv2d(let a) = n.op, a.groups > 1 { #expect(a.groups == n.shape[1], "only depthwise convolutions are grouped") }
      if case .convTranspose2d(let a) = n.op { #expect(a.groups == 1 || a.groups == n.shape[1]) }
    }
    var feed = try mg.bind(t.ckpt.stateDict).merging(t.noises()) { a, _ in a }
    feed["w_plus"] = t.golden["w_plus"]
    let out = try runGraph(.jit, gg, inputs: feed)
    expectClose(out["image"], t.golden["image"], "s\(size) image")
    expectClose(out["grad:w_plus"], t.golden["grad.full.w_plus"], "s\(size) grad w_plus")
  }

  /// The sub-generator from block 2 at (h_1, skip_1): reproduces the image; without the skip
  /// it matches the reference ILO behaviour; at a moved h; and its gradients.
  @Test(arguments: [32, 64], Engine.allCases)
  func subGeneratorFromBlock2(_ size: Int, _ engine: Engine) throws {
    let t = try Case(size)
    let c = t.ckpt.config
    let sub = try t.model.synthesisGraph(batch: t.batch, fromBlock: 2)
    #expect(Set(sub.dataInputs) == Set(["w_plus", "h", "skip"] + (3..<c.noiseCount).map { "noise.\($0)" }))
    #expect(sub.graph.outputs.map(\.name) == ["image"] + (2..<c.blockCount).flatMap { ["h.\($0)", "skip.\($0)"] })
    var feed = try sub.bind(t.ckpt.stateDict).merging(t.noises(from: 3)) { a, _ in a }
    feed["w_plus"] = t.golden["w_plus"]; feed["h"] = t.golden["state.h1"]; feed["skip"] = t.golden["state.skip1"]

    let g = sub.graph
    let r = g.constant(t.golden["grad.R"]!.values, t.golden["grad.R"]!.shape)
    let wrt = [g.input(named: "h")!, g.input(named: "skip")!, g.input(named: "w_plus")!] + (3..<c.noiseCount).map { g.input(named: "noise.\($0)")! }
    let gg = try gradients(of: sum(g.output(named: "image")! * r), wrt: wrt)
    let out = try runGraph(engine, gg, inputs: feed)
    expectClose(out["image"], t.golden["sub2.image"], "s\(size) sub2 image")
    for k in 2..<c.blockCount { expectClose(out["h.\(k)"], t.golden["state.h\(k)"], "s\(size) sub2 h\(k)") }
    expectClose(out["grad:h"], t.golden["grad.sub2.h1"], "s\(size) grad sub2 h1")
    expectClose(out["grad:skip"], t.golden["grad.sub2.skip1"], "s\(size) grad sub2 skip1")
    expectClose(out["grad:w_plus"], t.golden["grad.sub2.w_plus"], "s\(size) grad sub2 w_plus")
    for i in 3..<c.noiseCount { expectClose(out["grad:noise.\(i)"], t.golden["grad.sub2.noise.\(i)"], "s\(size) grad sub2 noise.\(i)") }

    feed["h"] = t.golden["sub2pert.h_in"]
    expectClose(try runGraph(engine, sub.graph, inputs: feed, outputs: ["image"])["image"], t.golden["sub2pert.image"], "s\(size) sub2 moved h")

    let noSkip = try t.model.synthesisGraph(batch: t.batch, fromBlock: 2, skip: false)
    #expect(noSkip.graph.input(named: "skip") == nil)
    let ng = noSkip.graph
    let ngg = try gradients(of: sum(ng.output(named: "image")! * ng.constant(t.golden["grad.R"]!.values, t.golden["grad.R"]!.shape)),
                            wrt: [ng.input(named: "h")!, ng.input(named: "w_plus")!])
    feed["h"] = t.golden["state.h1"]; feed["skip"] = nil
    let nout = try runGraph(engine, ngg, inputs: feed)
    expectClose(nout["image"], t.golden["sub2noskip.image"], "s\(size) sub2 no skip")
    expectClose(nout["grad:h"], t.golden["grad.sub2noskip.h1"], "s\(size) grad sub2noskip h1")
    expectClose(nout["grad:w_plus"], t.golden["grad.sub2noskip.w_plus"], "s\(size) grad sub2noskip w_plus")
  }

  /// The sampling graph (one z for all rows, the checkpoint's noise buffers) equals mapping,
  /// then synthesis with w broadcast to every row and the buffers fed as noise inputs (both
  /// checked against the goldens above).
  @Test func samplingGraphComposes() throws {
    let t = try Case(32)
    let c = t.ckpt.config
    let z = HostTensor<Float>(shape: [1, c.styleDim], values: Array(t.golden["mapping.z"]!.values.prefix(c.styleDim)))
    let gen = try t.model.generatorGraph(batch: 1, truncation: t.psi, noise: .buffers)
    #expect(gen.dataInputs == ["z"])
    var feed = try gen.bind(t.ckpt.stateDict); feed["z"] = z
    let out = try Interpreter.run(gen.graph, inputs: feed)

    let map = t.model.mappingGraph(batch: 1, rows: 1, truncation: t.psi)
    var mfeed = try map.bind(t.ckpt.stateDict); mfeed["z"] = HostTensor(shape: [1, 1, c.styleDim], values: z.values)
    let w = try Interpreter.run(map.graph, inputs: mfeed)["w"]!
    let syn = try t.model.synthesisGraph(batch: 1)
    var sfeed = try syn.bind(t.ckpt.stateDict)
    sfeed["w_plus"] = HostTensor(shape: [1, c.latentCount, c.styleDim], values: Array([[Float]](repeating: w.values, count: c.latentCount).joined()))
    for i in 0..<c.noiseCount {
      let b = t.ckpt.stateDict["noises.noise_\(i)"]!
      sfeed["noise.\(i)"] = HostTensor(shape: b.shape, values: b.values)
    }
    let ref = try Interpreter.run(syn.graph, inputs: sfeed)
    expectClose(out["w_plus"], sfeed["w_plus"], "w_plus", tol: 1e-6)
    expectClose(out["image"], ref["image"], "image", tol: 1e-6)
  }
}

import Foundation
import GraphIR
import Models
import Runtime
import Testing

/// The real `gan-face-generate` DCGAN against `scripts/golden/make_dcgan_golden.py` (PyTorch,
/// float64). The weights are not committed: run `bash models/fetch.sh` (needs pip); without
/// them these tests are skipped with that message.
@Suite(.enabled(if: Fixtures.cached("gan_face_generate/weights.tar") != nil,
                "skipped: models/cache/gan_face_generate/weights.tar is absent (run `bash models/fetch.sh`)"))
struct DCGANTests {
  let ckpt: DCGANCheckpoint
  let golden: [String: HostTensor<Float>]
  let states: [String: HostTensor<Float>]

  init() throws {
    ckpt = try DCGANCheckpoint(contentsOf: Fixtures.cached("gan_face_generate/weights.tar")!)
    golden = try Fixtures.golden("dcgan/dcgan_golden.safetensors")
    states = try Fixtures.golden("dcgan/dcgan_seed0_states.safetensors")
  }

  /// Row `i` of a batch tensor.
  func sample(_ t: HostTensor<Float>, _ i: Int) -> HostTensor<Float> {
    let n = t.shape.dropFirst().reduce(1, *)
    return HostTensor(shape: [1] + t.shape.dropFirst(), values: Array(t.values[(i * n)..<((i + 1) * n)]))
  }

  @Test func configFromCheckpoint() {
    #expect(ckpt.model.latentDim == 100)
    #expect(ckpt.model.channels == [512, 256, 128, 64, 3])
  }

  /// Block 0 for all four seeds (cheap), compared with `state.h0`.
  @Test func firstBlockAllSeeds() throws {
    let g = Graph("dcgan.block0")
    let p = WeightInputs(graph: g)
    let z = g.input("z", [4, 100])
    g.output("h0", ckpt.model.block(0, reshape(z, [4, 100, 1, 1]), weights: p))
    var feed = try p.bind(ckpt.stateDict); feed["z"] = golden["z"]
    expectClose(try Interpreter.run(g, inputs: feed)["h0"], golden["state.h0"], "h0")
  }

  /// The whole generator for seed 0: image, every block state, and dL/dz for L = sum(image·R).
  @Test(arguments: Engine.allCases) func fullGeneratorAndGradient(_ engine: Engine) throws {
    let mg = try ckpt.model.graph(batch: 1)
    let g = mg.graph
    let r = sample(golden["grad.R"]!, 0)
    let gg = try gradients(of: sum(g.output(named: "image")! * g.constant(r.values, r.shape)), wrt: [g.input(named: "z")!])
    var feed = try mg.bind(ckpt.stateDict); feed["z"] = sample(golden["z"]!, 0)
    let out = try timed("dcgan full generator + gradient (1 sample, \(engine))") { try runGraph(engine, gg, inputs: feed) }
    expectClose(out["image"], sample(golden["image"]!, 0), "image")
    expectClose(out["h.0"], sample(golden["state.h0"]!, 0), "h0")
    for k in 1...3 { expectClose(out["h.\(k)"], states["state.h\(k)"], "h\(k)") }
    expectClose(out["grad:z"], sample(golden["grad.z"]!, 0), "grad z")
  }

  /// The sub-generator after block 2 (blocks 3, 4 from h_2) and its gradient w.r.t. h_2.
  @Test(arguments: Engine.allCases) func subGeneratorFromBlock3(_ engine: Engine) throws {
    let mg = try ckpt.model.graph(batch: 1, fromBlock: 3)
    #expect(mg.dataInputs == ["h"])
    #expect(mg.graph.outputs.map(\.name) == ["image", "h.3"])
    let g = mg.graph
    let r = sample(golden["grad.R"]!, 0)
    let gg = try gradients(of: sum(g.output(named: "image")! * g.constant(r.values, r.shape)), wrt: [g.input(named: "h")!])
    var feed = try mg.bind(ckpt.stateDict); feed["h"] = states["state.h2"]
    let out = try timed("dcgan from block 3 + gradient (\(engine))") { try runGraph(engine, gg, inputs: feed) }
    expectClose(out["image"], sample(golden["image"]!, 0), "image from h2")
    expectClose(out["h.3"], states["state.h3"], "h3 from h2")
    expectClose(out["grad:h"], states["grad.h2"], "grad h2")
  }
}

import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime
import Testing

/// The ILO-step benchmark workload (`iloc bench ilo-step-*`) at a tiny size: a 32x32 StyleGAN2
/// with 8 channels whose LPIPS compares at 16x16, so the bicubic downsampling before LPIPS
/// (factor 2 here, 4 at 1024) is part of the graph.
@Suite struct StepWorkloadTests {
  static func tiny() throws -> ILOStepWorkload {
    let config = try StyleGAN2Config(size: 32, styleDim: 8, mappingLayers: 2, channels: [4: 8, 8: 8, 16: 8, 32: 8])
    return try ILOStepWorkload(config: config, lpipsResolution: 16, seed: 1)
  }

  /// The workload's feed as shaped tensors.
  static func hostFeed(_ w: ILOStepWorkload) -> [String: HostTensor<Float>] {
    let g = w.stage.graph
    return Dictionary(uniqueKeysWithValues: g.inputs.map { ($0.name, HostTensor(shape: g.nodes[$0.id].shape, values: w.feed[$0.name]!)) })
  }

  /// The symbolic gradient of the objective w.r.t. every variable (z, noises 0-4) against a
  /// central finite difference along a random direction, all in Float64 by the interpreter.
  @Test func gradientMatchesAFiniteDifference() throws {
    let w = try Self.tiny()
    let g = w.stage.graph
    #expect(w.stage.variables.map(\.name) == ["z", "noise.0", "noise.1", "noise.2", "noise.3", "noise.4"])
    var feed: [String: HostTensor<Double>] = [:]
    for i in g.inputs { feed[i.name] = HostTensor(shape: g.nodes[i.id].shape, values: w.feed[i.name]!.map(Double.init)) }
    let wanted = ["objective"] + w.stage.variables.map { "grad:" + $0.name }
    let out = try Interpreter.run(g, inputs: feed, outputs: wanted)
    var rng = SplitMix64(seed: 9)
    var direction: [String: [Double]] = [:], slope = 0.0
    for v in w.stage.variables {
      let d = rng.normals(v.shape.elementCount)
      direction[v.name] = d
      slope += zip(out["grad:" + v.name]!.values, d).reduce(0) { $0 + $1.0 * $1.1 }
    }
    func objective(_ t: Double) throws -> Double {
      var f = feed
      for (name, d) in direction { f[name]!.values = zip(f[name]!.values, d).map { $0 + t * $1 } }
      return try Interpreter.run(g, inputs: f, outputs: ["objective"])["objective"]!.values[0]
    }
    let eps = 1e-4
    let fd = (try objective(eps) - objective(-eps)) / (2 * eps)
    #expect(Swift.abs(fd - slope) <= 1e-4 * Swift.max(Swift.abs(fd), 1e-3), "finite difference \(fd), gradient \(slope)")
    #expect(Swift.abs(slope) > 1e-3)
  }

  /// The LPIPS term compares the bicubically downsampled image with the downsampled "fill"
  /// reference: recomputed here from the run's image with the operator and LPIPS applied
  /// separately (LPIPS of the 32x32 images would differ).
  @Test func lpipsComparesTheDownsampledImages() throws {
    let w = try Self.tiny()
    let p = try Program(w.stage.graph, options: w.stage.options)
    let out = try p.run(inputs: Self.hostFeed(w))
    let image = out["image"]!, y = w.problem.observation, mask = w.problem.mask!.values
    let s = 32
    let fill = HostTensor(shape: image.shape, values: image.values.indices.map { i in
      y.values[i] + (1 - mask[i % (s * s)]) * image.values[i]
    })
    let bds = try BicubicDownsampler(factor: 2)
    let lp = w.problem.perceptual!
    let lg = try lp.lpips.graph(batch: 1, height: 16, width: 16)
    let g = Graph("check")
    let a = g.input("a", image.shape), b = g.input("b", image.shape)
    g.output("a16", bds.apply(a))
    g.output("b16", bds.apply(b))
    let small = try Program(g).run(inputs: ["a": image, "b": fill])
    var feed = try lg.bind(lp.weights)
    feed["x0"] = small["a16"]!
    feed["x1"] = small["b16"]!
    let expected = try Program(lg.graph).run(inputs: feed)["d"]!.values[0]
    let got = out[LossOutput.perceptual]!.values[0]
    #expect(Swift.abs(got - expected) <= 1e-4 * Swift.abs(expected), "stage LPIPS \(got), recomputed \(expected)")
  }
}


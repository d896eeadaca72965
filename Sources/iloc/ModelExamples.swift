import Foundation
import GraphIR
import ILO
import Models
import Runtime

/// Model-sized examples for `iloc bench` / `iloc profile`: whole networks, forward + backward,
/// with seeded random weights at scales that keep every activation finite and of order one
/// (the trained weights of StyleGAN2 cannot be downloaded here; DCGAN uses its real weights
/// when `models/cache` has them).
///
/// - `stylegan2-64`, `stylegan2-256`, `stylegan2-1024`: the full synthesis network (channel multiplier 2, style
///   512, batch 1) from `w_plus` with the noise maps as inputs; loss `sum(image * R)` with a
///   fixed random `R`; gradient w.r.t. `w_plus` only (weights and noises are inputs, not
///   differentiated). `scripts/bench/pytorch_stylegan2_bench.py` times the same computation.
/// - `stylegan2-64-from-2`: the sub-generator from block 2 with inputs `h` (h_1) and `skip`;
///   gradient w.r.t. `h` and `w_plus` (one step of ILO round 2).
/// - `ilo-step-256`, `ilo-step-1024`: one round-0 ILO step as the inversion builds it
///   (`ILOStepWorkload`: StyleGAN2 cm 2 from z, inpainting, MSE, LPIPS-VGG16 at 256 with the
///   v0.1 heads when `models/cache` has them, GeoCross; gradient w.r.t. z and noises 0-4).
///   `scripts/bench/pytorch_ilo_step_bench.py` times the same computation.
/// - `dcgan`: the DCGAN generator, loss `sum(image * R)`, gradient w.r.t. `z`.
/// - `lpips-vgg-256`: LPIPS-VGG(x0, x1) at 256x256, gradient w.r.t. `x0`; random backbone,
///   the real v0.1 heads when `models/cache` has them.
enum ModelExamples {
  static let names = ["stylegan2-64", "stylegan2-256", "stylegan2-1024", "stylegan2-64-from-2", "ilo-step-256", "ilo-step-1024",
                      "dcgan", "lpips-vgg-256"]

  static func make(_ name: String, seed: UInt64) throws -> ExampleProblem? {
    switch name {
    case "stylegan2-64": return try styleGAN2(size: 64, fromBlock: 0, seed: seed)
    case "stylegan2-256": return try styleGAN2(size: 256, fromBlock: 0, seed: seed)
    case "stylegan2-1024": return try styleGAN2(size: 1024, fromBlock: 0, seed: seed)
    case "ilo-step-256": return try iloStep(size: 256, seed: seed)
    case "ilo-step-1024": return try iloStep(size: 1024, seed: seed)
    case "stylegan2-64-from-2": return try styleGAN2(size: 64, fromBlock: 2, seed: seed)
    case "dcgan": return try dcgan(seed: seed)
    case "lpips-vgg-256": return try lpipsVGG(size: 256, seed: seed)
    default: return nil
    }
  }

  // MARK: - StyleGAN2

  static func styleGAN2(size: Int, fromBlock k: Int, seed: UInt64) throws -> ExampleProblem {
    let config = try StyleGAN2Config(size: size, channelMultiplier: 2)
    let model = StyleGAN2(config: config)
    let g = Graph(k == 0 ? "stylegan2-\(size)" : "stylegan2-\(size)-from-\(k)")
    let p = WeightInputs(graph: g)
    let wPlus = g.input("w_plus", [1, config.latentCount, config.styleDim])
    var state: (h: Tensor, skip: Tensor?)? = nil
    if k > 0 {
      let r = config.resolution(ofBlock: k - 1)
      let h = g.input("h", [1, config.channels(ofBlock: k - 1), r, r])
      state = (h, g.input("skip", [1, 3, r, r]))
    }
    let states = model.synthesis(wPlus: wPlus, noise: { model.noiseTensor($0, batch: 1, source: .inputs, weights: p) },
                                 from: k, state: state, weights: p)
    let image = states.last!.skip
    let r = g.input("R", image.shape)
    g.output("image", image)
    g.output("loss", sum(image * r))
    let grad = try differentiate(g, loss: "loss", wrt: k > 0 ? ["h", "w_plus"] : ["w_plus"])
    var rng = SplitMix64(seed: seed)
    let feed = Dictionary(uniqueKeysWithValues: grad.inputs.map { i in
      (i.name, normals(&rng, grad.nodes[i.id].shape.elementCount, mean: styleGAN2Mean(i.name), std: styleGAN2Std(i.name)))
    })
    return ExampleProblem(graph: grad, feed: feed,
                          note: "StyleGAN2 \(size)x\(size), channel multiplier 2, style 512, batch 1, from block \(k); random weights (seed \(seed)); loss sum(image*R); grad w.r.t. \(k > 0 ? "h, w_plus" : "w_plus")",
                          staticInputs: Set(p.inputNames))
  }

  /// Weight scales of the random StyleGAN2 (`RandomStyleGAN2`); the state `h` of a
  /// sub-generator is N(0, 1) like a leaky-ReLU output, the skip RGB smaller.
  static func styleGAN2Std(_ name: String) -> Double { RandomStyleGAN2.std(name) }
  static func styleGAN2Mean(_ name: String) -> Double { RandomStyleGAN2.mean(name) }

  // MARK: - ILO step

  static func iloStep(size: Int, seed: UInt64) throws -> ExampleProblem {
    let lpips = LPIPS(net: .vgg)
    var heads: StateDict?
    var source = "random heads"
    if let file = lpipsHeadFile(), let sd = try? lpips.loadHeads(file) { heads = sd; source = "real v0.1 heads from \(file.path)" }
    let w = try ILOStepWorkload(config: try StyleGAN2Config(size: size, channelMultiplier: 2), heads: heads,
                                headsSource: source, seed: seed)
    let lpipsAt = min(size, w.problem.perceptual!.resolution)
    return ExampleProblem(
      graph: w.stage.graph, feed: w.feed,
      note: "ILO round-0 step: StyleGAN2 \(size)x\(size) cm 2 (random weights, seed \(seed)) from z, inpainting "
        + "(\(Int(ILOStepWorkload.keepProbability * 100)) % of pixels kept), MSE + LPIPS-VGG16 fill at \(lpipsAt)x\(lpipsAt) "
        + "(formula backbone, \(w.headsSource)) + 0.01 GeoCross; grad w.r.t. "
        + w.stage.variables.map(\.name).joined(separator: ", "),
      staticInputs: w.stage.staticInputs)
  }

  /// The v0.1 VGG heads of `models/fetch.sh`, when fetched.
  static func lpipsHeadFile() -> URL? {
    modelSearchRoots().map { $0.appendingPathComponent("models/cache/lpips/v0.1/vgg.pth") }
      .first { FileManager.default.fileExists(atPath: $0.path) }
  }

  // MARK: - DCGAN

  static func dcgan(seed: UInt64) throws -> ExampleProblem {
    var rng = SplitMix64(seed: seed)
    var bound: [String: HostTensor<Float>] = [:]
    var source = "random weights (seed \(seed); models/cache/gan_face_generate/weights.tar not found)"
    let model: DCGAN
    if let url = try? GeneratorCheckpoint.resolve("dcgan", searchRoots: modelSearchRoots()), let ckpt = try? DCGANCheckpoint(contentsOf: url) {
      model = ckpt.model
      let mg = try model.graph(batch: 1)
      bound = try mg.bind(ckpt.stateDict)
      source = "real weights from \(url.path)"
    } else {
      model = try DCGAN()
    }
    let g = Graph("dcgan")
    let p = WeightInputs(graph: g)
    let z = g.input("z", [1, model.latentDim])
    let image = model.forward(z, weights: p).image
    g.output("image", image)
    g.output("loss", sum(image * g.input("R", image.shape)))
    let grad = try differentiate(g, loss: "loss", wrt: ["z"])
    var feed: [String: [Float]] = [:]
    for i in grad.inputs {
      let shape = grad.nodes[i.id].shape
      if let t = bound[i.name] { feed[i.name] = t.values; continue }
      feed[i.name] = normals(&rng, shape.elementCount, mean: dcganMean(i.name), std: dcganStd(i.name, shape))
    }
    return ExampleProblem(graph: grad, feed: feed, note: "DCGAN 64x64, batch 1, \(source); loss sum(image*R); grad w.r.t. z")
  }

  /// He scale for the transposed convolutions (each output sums cin·16/stride² taps); the
  /// BatchNorm statistics and affine parameters near identity, so ReLU activations stay O(1).
  static func dcganStd(_ name: String, _ shape: Shape) -> Double {
    if name.hasPrefix("main."), name.hasSuffix(".weight"), shape.count == 4 {
      let stride2 = name == "main.0.weight" ? 1.0 : 4.0
      return (2.0 / (Double(shape[0]) * 16 / stride2)).squareRoot()
    }
    if name.hasSuffix("running_var") { return 0.05 }
    if name.hasPrefix("main.") { return 0.05 }  // BatchNorm weight (mean 1), bias, running_mean
    return 1  // z, R
  }
  static func dcganMean(_ name: String) -> Double {
    let batchNormWeights = ["main.1.weight", "main.4.weight", "main.7.weight", "main.10.weight"]
    return name.hasSuffix("running_var") || batchNormWeights.contains(name) ? 1 : 0
  }

  // MARK: - LPIPS

  static func lpipsVGG(size: Int, seed: UInt64) throws -> ExampleProblem {
    let lpips = LPIPS(net: .vgg)
    let g = Graph("lpips-vgg-\(size)")
    let p = WeightInputs(graph: g)
    let x0 = g.input("x0", [1, 3, size, size]), x1 = g.input("x1", [1, 3, size, size])
    let (d, _) = lpips.distance(x0, x1, weights: p)
    g.output("d", d)
    g.output("loss", sum(d))
    let grad = try differentiate(g, loss: "loss", wrt: ["x0"])
    var rng = SplitMix64(seed: seed)
    var feed: [String: [Float]] = [:]
    var heads = "random heads"
    if let headFile = lpipsHeadFile(), let sd = try? lpips.loadHeads(headFile) {
      for (key, _) in lpips.headShapes { feed[key] = sd[key]?.values }
      heads = "real v0.1 heads from \(headFile.path)"
    }
    for i in grad.inputs where feed[i.name] == nil {
      let shape = grad.nodes[i.id].shape
      let n = shape.elementCount
      if i.name.hasPrefix("lin") {  // heads are non-negative
        feed[i.name] = normals(&rng, n, mean: 0, std: 0.1).map { Swift.abs($0) }
      } else if i.name.hasSuffix(".weight") {  // He init: conv outputs keep their scale through ReLU
        feed[i.name] = normals(&rng, n, mean: 0, std: (2.0 / Double(shape[1] * shape[2] * shape[3])).squareRoot())
      } else if i.name.hasSuffix(".bias") {
        feed[i.name] = normals(&rng, n, mean: 0, std: 0.01)
      } else {  // images in [-1, 1]
        feed[i.name] = normals(&rng, n, mean: 0, std: 0.5).map { Swift.min(1, Swift.max(-1, $0)) }
      }
    }
    return ExampleProblem(graph: grad, feed: feed,
                          note: "LPIPS-VGG16 \(size)x\(size), batch 1, random backbone (He init, seed \(seed)), \(heads); grad w.r.t. x0")
  }

  // MARK: - helpers

  static func normals(_ rng: inout SplitMix64, _ n: Int, mean: Double, std: Double) -> [Float] {
    (0..<n).map { _ in Float(mean + std * rng.normal()) }
  }

}

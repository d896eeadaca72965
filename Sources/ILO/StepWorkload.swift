import Foundation
import GraphIR
import Inversion
import Models
import Runtime

/// One round-0 ILO step of StyleGAN2 with seeded random weights: the workload of
/// `iloc bench ilo-step-256` / `ilo-step-1024` and of `scripts/bench/pytorch_ilo_step_bench.py`.
///
/// Built by the inversion's own code (`StageGraph`, hence `buildInversionLoss`): z through the
/// latent proxy, the synthesis network with the noise maps, inpainting with a random mask that
/// keeps 80 % of the pixels (seed 0), MSE on the masked image, LPIPS-VGG16 "fill" on the image
/// bicubically downsampled to 256 (spec §1; the identity at 256), GeoCross 0.01 on the 2·log2(S)−2
/// z rows; gradient w.r.t. z and the noises of blocks 0-2.
///
/// Random weights at the scales the layers expect of trained ones (`RandomStyleGAN2`); the
/// LPIPS backbone from `LPIPSFormulaWeights` (He-scaled, reproducible in Python), the heads
/// given (the v0.1 files) or |N(0, 0.1)|.
public struct ILOStepWorkload {
  public let problem: InversionProblem
  public let settings: InversionSettings
  public let stage: StageGraph
  /// A value for every input of `stage.graph`: weights, observation, variables and fixed noises.
  public let feed: [String: [Float]]
  /// Where the heads came from ("random heads" or the file).
  public let headsSource: String

  public static let keepProbability = 0.8
  public static let weights = LossWeightsRecord(mse: 1, lpips: 1, geoCross: 0.01)

  /// `config`: the generator (standard widths: `StyleGAN2Config(size:channelMultiplier: 2)`);
  /// `lpipsResolution`: LPIPS' comparison size (256; smaller only for tests at tiny sizes).
  public init(config: StyleGAN2Config, heads: StateDict? = nil, headsSource: String = "random heads",
              lpipsResolution: Int = 256, seed: UInt64 = 0) throws {
    let generator = StyleGAN2Generator(checkpoint: try RandomStyleGAN2.checkpoint(config, seed: seed),
                                       proxy: RandomStyleGAN2.proxy(config, seed: seed))
    let lpips = LPIPS(net: .vgg)
    var rng = SplitMix64(seed: seed &+ 7)
    let headTensors = heads ?? StateDict(source: "random heads", tensors: Dictionary(uniqueKeysWithValues: lpips.headShapes.map {
      ($0.key, TensorData(shape: $0.shape, values: (0..<$0.shape.elementCount).map { _ in Float(Swift.abs(0.1 * rng.normal())) }))
    }))
    let perceptual = PerceptualLoss(lpips: lpips, weights: try lpips.merge(backbone: LPIPSFormulaWeights.backbone(.vgg), heads: headTensors),
                                    resolution: lpipsResolution)
    let s = config.size
    let mask = try InpaintMask(keepProbability: Self.keepProbability, seed: 0, height: s, width: s)
    let truth = (0..<3 * s * s).map { _ in Float(2 * rng.uniform() - 1) }
    let observation = HostTensor(shape: [1, 3, s, s], values: truth.indices.map { truth[$0] * mask.values[$0 % (s * s)] })
    problem = InversionProblem(generator: generator, forward: mask, observation: observation, mask: mask, perceptual: perceptual)
    var st = InversionSettings()
    st.rounds = [.fixed(1)]
    st.lossWeights = [Self.weights]
    st.validation = nil
    st.seed = seed
    settings = st
    stage = try StageGraph(problem: problem, round: 0, settings: st)
    var feed = try stage.boundInputs(problem)
    for (k, v) in generator.initialInputs(seed: seed) where stage.graph.input(named: k) != nil { feed[k] = v }
    self.feed = feed
    self.headsSource = heads == nil ? "random heads" : headsSource
  }
}

/// Seeded random StyleGAN2 weights at the scales the layers expect of trained ones (the
/// benchmarks' generator; `scripts/bench/pytorch_stylegan2_bench.py` draws the same
/// distributions). Conv and modulation weights are N(0, 1) (the layers scale them by
/// 1/sqrt(fan-in)); modulation biases N(1, 0.2) (their initial value is 1); noise strengths,
/// activation and RGB biases N(0, 0.1); the constant input and the mapping network N(0, 1).
public enum RandomStyleGAN2 {
  public static func std(_ name: String) -> Double {
    if name.hasSuffix("modulation.bias") { return 0.2 }
    if name.hasSuffix("noise.weight") { return 0.1 }
    if name.hasSuffix(".bias") { return 0.1 }  // activate.bias, to_rgb biases
    if name == "skip" { return 0.5 }  // a sub-generator's RGB skip input
    return 1
  }
  public static func mean(_ name: String) -> Double { name.hasSuffix("modulation.bias") ? 1 : 0 }

  /// A checkpoint of `config` with every tensor of the generator drawn as above.
  public static func checkpoint(_ config: StyleGAN2Config, seed: UInt64) throws -> StyleGAN2Checkpoint {
    let shapes = try StyleGAN2(config: config).generatorGraph(batch: 1).weights.shapes
    var rng = SplitMix64(seed: seed)
    var tensors: [String: TensorData] = [:]
    for (key, shape) in shapes.sorted(by: { $0.key < $1.key }) {
      let m = mean(key), s = std(key)
      tensors[key] = TensorData(shape: shape, values: (0..<shape.elementCount).map { _ in Float(m + s * rng.normal()) })
    }
    return try StyleGAN2Checkpoint(stateDict: StateDict(source: "random StyleGAN2 (seed \(seed))", tensors: tensors),
                                   lrMul: config.lrMul)
  }

  /// A latent proxy near the reference's `gaussian_fit.pt` (mean about −0.32, std about 0.8).
  public static func proxy(_ config: StyleGAN2Config, seed: UInt64) -> LatentProxy {
    var rng = SplitMix64(seed: seed &+ 3)
    let d = config.styleDim
    return LatentProxy(mean: (0..<d).map { _ in Float(-0.32 + 0.1 * rng.normal()) },
                       std: (0..<d).map { _ in Float(0.8 * (1 + 0.1 * rng.normal())) })
  }
}

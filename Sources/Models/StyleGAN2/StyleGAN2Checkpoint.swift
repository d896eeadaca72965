import Foundation
import GraphIR
import Runtime

/// A StyleGAN2 generator checkpoint in the reference port's layout: a torch file holding
/// `{"g_ema": state_dict, "latent_avg": [D], ...}` (only `g_ema` and `latent_avg` are read), a
/// bare `g_ema` state dict, or a safetensors file with the same keys (e.g. made by
/// `iloc convert`, which adds the latent proxy `latent_proxy.{mean,std}`).
public struct StyleGAN2Checkpoint {
  /// The configuration read from the weight shapes.
  public let config: StyleGAN2Config
  /// The generator tensors keyed as in the state dict (`style.1.weight`, ...), plus
  /// `latent_avg` when the file has it; ready for `ModelGraph.bind`.
  public let stateDict: StateDict

  /// Loads and validates `url`. One-line errors: unreadable or corrupt file, another
  /// architecture (`not a StyleGAN2 generator: missing key 'style.1.weight'`), a missing or
  /// mis-shaped tensor.
  /// `lrMul` is the mapping network's learning-rate multiplier, which checkpoints do not store.
  /// NVIDIA network pickles (`.pkl`, recognised by content) are read by `NetworkPickle`, which
  /// also supplies the mapping's learning-rate multiplier stored in them.
  /// `convClamp` is stylegan2-ada-pytorch's `conv_clamp` (pickles store it; other files do not).
  public init(contentsOf url: URL, lrMul: Float = 0.01, convClamp: Float? = nil) throws {
    if NetworkPickle.looksLikeNetworkPickle(url) {
      let pickle = try NetworkPickle(contentsOf: url)
      try self.init(stateDict: pickle.stateDict, lrMul: pickle.lrMul, convClamp: pickle.convClamp)
      networkPickle = pickle.info
      return
    }
    let sd = try CheckpointLoading.load(url, prefixes: ["g_ema", ""], marker: "style.1.weight",
                                        extras: ["latent_avg", LatentProxy.meanKey, LatentProxy.stdKey],
                                        architecture: "StyleGAN2 generator")
    try self.init(stateDict: sd, lrMul: lrMul, convClamp: convClamp)
  }

  /// Validates an already loaded generator state dict.
  public init(stateDict: StateDict, lrMul: Float = 0.01, convClamp: Float? = nil) throws {
    var config = try StyleGAN2Config(stateDict: stateDict, lrMul: lrMul)
    if let c = convClamp, !(c > 0 && c.isFinite) {
      throw ModelError("\(stateDict.source): conv_clamp \(c) is not a positive number")
    }
    config.convClamp = convClamp
    self.config = config
    if let avg = stateDict["latent_avg"], avg.shape != [config.styleDim] {
      throw ModelError("\(stateDict.source): tensor 'latent_avg' has shape \(avg.shape.shapeText), expected [\(config.styleDim)]")
    }
    latentProxy = try LatentProxy.read(from: stateDict, styleDim: config.styleDim)
    self.stateDict = stateDict
  }

  /// The stored mean latent `latent_avg`, if the file has one.
  public var latentAverage: [Float]? { stateDict["latent_avg"]?.values }

  /// The fitted latent proxy (`latent_proxy.mean` / `.std`), present in converted models.
  public let latentProxy: LatentProxy?

  /// What was read from an NVIDIA network pickle, when loaded from one.
  public internal(set) var networkPickle: NetworkPickle.Info?

  /// The description read from the `.json` beside a converted model, if loaded from one.
  public internal(set) var manifest: ModelManifest?
}

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
  /// `classIndex` picks the class of a conditional generator (required for one, refused for
  /// an unconditional one).
  public init(contentsOf url: URL, lrMul: Float = 0.01, convClamp: Float? = nil, classIndex: Int? = nil) throws {
    if NetworkPickle.looksLikeNetworkPickle(url) {
      let pickle = try NetworkPickle(contentsOf: url)
      try self.init(stateDict: pickle.stateDict, lrMul: pickle.lrMul, convClamp: pickle.convClamp,
                    classIndex: classIndex)
      networkPickle = pickle.info
      return
    }
    let sd = try CheckpointLoading.load(url, prefixes: ["g_ema", ""], marker: "style.1.weight",
                                        extras: ["latent_avg", LatentProxy.meanKey, LatentProxy.stdKey],
                                        architecture: "StyleGAN2 generator")
    try self.init(stateDict: sd, lrMul: lrMul, convClamp: convClamp, classIndex: classIndex)
  }

  /// Validates an already loaded generator state dict; for a conditional generator, adds the
  /// embedding of class `classIndex` as `class_embedding`.
  public init(stateDict: StateDict, lrMul: Float = 0.01, convClamp: Float? = nil, classIndex: Int? = nil) throws {
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
    var sd = stateDict
    sd.tensors[StyleGAN2Config.classEmbeddingKey] = try Self.classEmbedding(sd, config.conditioning, classIndex)
    self.stateDict = sd
    self.classIndex = classIndex
  }

  /// The chosen class of a conditional generator (nil for an unconditional one).
  public let classIndex: Int?

  /// The constant first-layer input of class `index`: the `embed` layout's
  /// `normalize(embed.weight[:, index] / sqrt(classes) + embed.bias)`, or the `labelConcat`
  /// layout's row `label_concat.weight[index]` (normalized with z in the graph). Computed in
  /// double precision. nil for an unconditional generator; one-line errors for a missing,
  /// needless or out-of-range class.
  static func classEmbedding(_ sd: StateDict, _ c: StyleGAN2Config.ClassConditioning?, _ index: Int?) throws
    -> TensorData?
  {
    guard let c else {
      guard let index else { return nil }
      throw ModelError("\(sd.source): --class \(index) given, but the generator is not conditional (it has no classes)")
    }
    let range = "0 <= N < \(c.classes)"
    guard let index else {
      throw ModelError("\(sd.source): a conditional generator (\(c.classes) classes): give a class with --class N (\(range))")
    }
    guard (0..<c.classes).contains(index) else {
      throw ModelError("\(sd.source): --class \(index) is out of range: the generator has \(c.classes) classes (\(range))")
    }
    switch c.layout {
    case .labelConcat:
      let w = sd["label_concat.weight"]!.values
      return TensorData(shape: [c.width], values: Array(w[(index * c.width)..<((index + 1) * c.width)]))
    case .embed:
      let w = sd["embed.weight"]!.values, b = sd["embed.bias"]!.values
      let gain = 1 / Double(c.classes).squareRoot()
      let e = (0..<c.width).map { Double(w[$0 * c.classes + index]) * gain + Double(b[$0]) }
      let norm = 1 / (e.reduce(0) { $0 + $1 * $1 } / Double(c.width) + 1e-8).squareRoot()
      return TensorData(shape: [c.width], values: e.map { Float($0 * norm) })
    }
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

import GraphIR
import Runtime

/// The shape of a StyleGAN2 generator in the layout of the widely used PyTorch port
/// (spec reference-code.md §C): output size, style width, mapping depth, mapping learning-rate
/// multiplier, and the channel count at every resolution 4 ... size.
///
/// Checkpoints store no channel multiplier, so `init(stateDict:)` reads the channels from the
/// weight shapes; `init(size:channelMultiplier:)` gives the standard widths (random-weight
/// benchmarks, tests).
public struct StyleGAN2Config: Equatable, Sendable {
  public var size: Int
  public var styleDim: Int
  /// Number of EqualLinear layers of the mapping network (`n_mlp`).
  public var mappingLayers: Int
  /// Learning-rate multiplier of the mapping layers (0.01): scales weights and biases.
  public var lrMul: Float
  /// Channels by resolution, for every power of two from 4 to `size`.
  public var channels: [Int: Int]
  /// stylegan2-ada-pytorch's `conv_clamp`: every synthesis conv output (after its activation)
  /// and every ToRGB output (before the skip is added) is clamped to [−c, c]. nil (the
  /// reference port, the TensorFlow release): no clamping.
  public var convClamp: Float? = nil
  /// The class-label input of a conditional generator (nil: unconditional).
  public var conditioning: ClassConditioning? = nil

  /// A conditional mapping network's label input: a learned embedding of the one-hot class,
  /// concatenated to z before the first mapping layer (whose input is then `styleDim + width`
  /// wide). The two NVIDIA families differ in where the normalization sits, so each keeps its
  /// own tensor names in the reference layout:
  /// - `embed.weight` [width, classes], `embed.bias` [width] (stylegan2-ada-pytorch
  ///   `mapping.embed`, gain 1/sqrt(classes) on the weight at run time): the embedding is
  ///   normalized on its own and appended to the normalized z.
  /// - `label_concat.weight` [classes, width] (TensorFlow `G_mapping/LabelConcat/weight`, no
  ///   gain): the class's row is appended to the raw z and the pair is normalized together.
  public struct ClassConditioning: Equatable, Sendable {
    public enum Layout: String, Sendable { case embed, labelConcat }
    public var classes: Int
    public var width: Int
    public var layout: Layout

    /// Checkpoint key -> shape of the embedding tensors.
    public var weightShapes: [String: Shape] {
      switch layout {
      case .embed: ["embed.weight": [width, classes], "embed.bias": [width]]
      case .labelConcat: ["label_concat.weight": [classes, width]]
      }
    }
  }

  /// The graph input holding the chosen class's embedding [width] (ready to concatenate:
  /// already normalized for the `embed` layout); `StyleGAN2Checkpoint` adds it to the weights.
  public static let classEmbeddingKey = "class_embedding"

  /// A configuration with explicit channels. Throws when `size` is not a power of two >= 8 or a
  /// resolution lacks a positive channel count.
  public init(size: Int, styleDim: Int = 512, mappingLayers: Int = 8, channels: [Int: Int], lrMul: Float = 0.01) throws {
    guard size >= 8, size & (size - 1) == 0 else {
      throw ModelError("StyleGAN2: size \(size) is not a power of two >= 8")
    }
    guard styleDim > 0, mappingLayers >= 0 else {
      throw ModelError("StyleGAN2: bad style dimension \(styleDim) or mapping depth \(mappingLayers)")
    }
    var r = 4
    while r <= size {
      guard let c = channels[r], c > 0 else { throw ModelError("StyleGAN2: no channel count for resolution \(r)") }
      r *= 2
    }
    self.size = size; self.styleDim = styleDim; self.mappingLayers = mappingLayers
    self.channels = channels.filter { $0.key <= size }; self.lrMul = lrMul
  }

  /// The standard widths: 512 up to 32x32, then 256·cm at 64, 128·cm at 128, 64·cm, 32·cm, 16·cm.
  public init(size: Int, channelMultiplier cm: Int = 2, styleDim: Int = 512, mappingLayers: Int = 8, lrMul: Float = 0.01) throws {
    let standard = [4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm, 1024: 16 * cm]
    var ch = standard
    var r = 2048
    while r <= size { ch[r] = Swift.max(1, 16 * cm * 1024 / r); r *= 2 }
    try self.init(size: size, styleDim: styleDim, mappingLayers: mappingLayers, channels: ch, lrMul: lrMul)
  }

  /// Reads the configuration from a generator state dict (the `g_ema` tensors): style width and
  /// mapping depth from `style.{i}.weight`, size from the number of `to_rgbs.*`, channels from
  /// the conv weights. Throws `not a StyleGAN2 generator: missing key ...` when the file has
  /// another architecture, and one line naming the first missing or mis-shaped tensor otherwise.
  public init(stateDict sd: StateDict, lrMul: Float = 0.01) throws {
    func key(_ k: String) throws -> TensorData {
      guard let t = sd[k] else { throw ModelError("\(sd.source): not a StyleGAN2 generator: missing key '\(k)'") }
      return t
    }
    let s1 = try key("style.1.weight"), input = try key("input.input")
    _ = try key("conv1.conv.weight")
    let conditioning = try Self.conditioning(in: sd)
    guard s1.shape.count == 2, s1.shape[1] == s1.shape[0] + (conditioning?.width ?? 0), input.shape.count == 4 else {
      throw ModelError("\(sd.source): not a StyleGAN2 generator: 'style.1.weight' has shape \(s1.shape.shapeText), 'input.input' \(input.shape.shapeText)")
    }
    var depth = 0
    while sd["style.\(depth + 1).weight"] != nil { depth += 1 }
    var rgbs = 0
    while sd["to_rgbs.\(rgbs).conv.weight"] != nil { rgbs += 1 }
    if rgbs == 0 { _ = try key("to_rgbs.0.conv.weight") }
    var ch = [4: input.shape[1]]
    for k in 1...rgbs {
      // convs.(2k-1) maps out -> out at resolution 4·2^k: weight [1, out, out, 3, 3]
      let w = try key("convs.\(2 * k - 1).conv.weight")
      guard w.shape.count == 5 else {
        throw ModelError("\(sd.source): tensor 'convs.\(2 * k - 1).conv.weight' has shape \(w.shape.shapeText), expected rank 5")
      }
      ch[4 << k] = w.shape[1]
    }
    try self.init(size: 4 << rgbs, styleDim: s1.shape[0], mappingLayers: depth, channels: ch, lrMul: lrMul)
    self.conditioning = conditioning
    try sd.requireAll(weightShapes)
  }

  /// The class input read from the embedding tensors' shapes (nil when the file has none).
  static func conditioning(in sd: StateDict) throws -> ClassConditioning? {
    let found: (TensorData, ClassConditioning.Layout)?
    if let t = sd["embed.weight"] { found = (t, .embed) } else if let t = sd["label_concat.weight"] {
      found = (t, .labelConcat)
    } else { found = nil }
    guard let (t, layout) = found else { return nil }
    guard t.shape.count == 2, t.shape.allSatisfy({ $0 > 0 }) else {
      let key = layout == .embed ? "embed.weight" : "label_concat.weight"
      throw ModelError("\(sd.source): tensor '\(key)' has shape \(t.shape.shapeText), expected [width, classes]")
    }
    let (classes, width) = layout == .embed ? (t.shape[1], t.shape[0]) : (t.shape[0], t.shape[1])
    return ClassConditioning(classes: classes, width: width, layout: layout)
  }

  public var logSize: Int { size.trailingZeroBitCount }
  /// Rows of w+ (`n_latent` = 2·log2(size) − 2).
  public var latentCount: Int { 2 * logSize - 2 }
  /// Noise maps (2·(log2(size) − 2) + 1).
  public var noiseCount: Int { 2 * (logSize - 2) + 1 }
  /// Synthesis blocks: block 0 at 4x4 ... block n−1 at size.
  public var blockCount: Int { logSize - 1 }

  public func resolution(ofBlock k: Int) -> Int { 4 << k }
  /// Channels of block k's output h_k.
  public func channels(ofBlock k: Int) -> Int { channels[resolution(ofBlock: k)]! }
  /// Side of noise map i: 2^((i+5)/2).
  public func noiseResolution(_ i: Int) -> Int { 1 << ((i + 5) / 2) }
  /// The noise maps block k reads: [0] for block 0, [2k−1, 2k] after.
  public func noiseIndices(ofBlock k: Int) -> [Int] { k == 0 ? [0] : [2 * k - 1, 2 * k] }
  /// The w+ rows block k reads: (conv1, to_rgb1) = (0, 1) for block 0, (2k−1, 2k, 2k+1) after.
  public func latentIndices(ofBlock k: Int) -> [Int] { k == 0 ? [0, 1] : [2 * k - 1, 2 * k, 2 * k + 1] }

  /// Checkpoint key -> shape of every tensor the mapping and synthesis networks read
  /// (the fixed blur kernels and the noise buffers are not included).
  public var weightShapes: [String: Shape] {
    let d = styleDim
    var s: [String: Shape] = [:]
    for i in stride(from: 1, through: mappingLayers, by: 1) { s["style.\(i).weight"] = [d, d]; s["style.\(i).bias"] = [d] }
    if let c = conditioning, mappingLayers > 0 {
      s["style.1.weight"] = [d, d + c.width]
      s.merge(c.weightShapes) { a, _ in a }
    }
    let c4 = channels[4]!
    s["input.input"] = [1, c4, 4, 4]
    func styled(_ p: String, _ cin: Int, _ cout: Int) {
      s[p + ".conv.weight"] = [1, cout, cin, 3, 3]
      s[p + ".conv.modulation.weight"] = [cin, d]; s[p + ".conv.modulation.bias"] = [cin]
      s[p + ".noise.weight"] = [1]; s[p + ".activate.bias"] = [cout]
    }
    func rgb(_ p: String, _ cin: Int) {
      s[p + ".conv.weight"] = [1, 3, cin, 1, 1]
      s[p + ".conv.modulation.weight"] = [cin, d]; s[p + ".conv.modulation.bias"] = [cin]
      s[p + ".bias"] = [1, 3, 1, 1]
    }
    styled("conv1", c4, c4); rgb("to_rgb1", c4)
    for k in stride(from: 1, to: blockCount, by: 1) {
      let cin = channels(ofBlock: k - 1), cout = channels(ofBlock: k)
      styled("convs.\(2 * k - 2)", cin, cout); styled("convs.\(2 * k - 1)", cout, cout); rgb("to_rgbs.\(k - 1)", cout)
    }
    return s
  }
}

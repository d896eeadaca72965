import Foundation
import GraphIR
import Runtime

/// LPIPS v0.1 (spec reference-code.md §D) in GraphIR: images in [−1, 1] -> ScalingLayer ->
/// backbone taps -> unit-normalize each feature vector over channels (+1e-10) -> squared
/// difference weighted per channel by the head `lin{l}.model.1.weight` [1, C, 1, 1] -> spatial
/// mean = d_l; LPIPS = Σ_l d_l per sample.
///
/// Weights are graph inputs named by key: the backbone's torchvision keys `features.*` and the
/// heads `lin{l}.model.1.weight` (the files of the `lpips` package).
public struct LPIPS {
  public let net: LPIPSNet
  public let input: LPIPSInput
  public init(net: LPIPSNet = .vgg, input: LPIPSInput = .torchvision) { self.net = net; self.input = input }

  public static let shift: [Float] = [-0.030, -0.088, -0.188]
  public static let scale: [Float] = [0.458, 0.448, 0.450]

  /// Head key of tap l.
  public static func headKey(_ l: Int) -> String { "lin\(l).model.1.weight" }

  /// Head keys and shapes.
  public var headShapes: [(key: String, shape: Shape)] {
    net.tapChannels.enumerated().map { (Self.headKey($0.offset), [1, $0.element, 1, 1]) }
  }

  // MARK: - DSL level

  /// The first `taps` backbone taps of `x` [N, 3, H, W] in [−1, 1] (all by default).
  public func features(_ x: Tensor, taps: Int? = nil, weights p: WeightInputs) -> [Tensor] {
    let g = x.graph
    var h: Tensor
    switch input {
    case .torchvision: h = (x - g.constant(Self.shift, [1, 3, 1, 1])) / g.constant(Self.scale, [1, 3, 1, 1])
    case .caffe: h = x * 127.5 + g.constant(LPIPSInput.caffeMean.map { 127.5 - $0 }, [1, 3, 1, 1])
    }
    var out: [Tensor] = [], start = 0
    for end in net.tapEnds.prefix(taps ?? net.tapEnds.count) {
      for i in start..<end { h = net.apply(i, h, p) }
      out.append(h)
      start = end
    }
    return out
  }

  /// f / (sqrt(Σ_c f²) + 1e-10), per sample and position.
  public static func normalizeChannels(_ f: Tensor) -> Tensor {
    f / (sqrt(sum(square(f), axes: [1], keepDims: true)) + 1e-10)
  }

  /// LPIPS(x0, x1) per sample ([N]) and the per-layer terms d_l ([N] each), over the first
  /// `taps` taps (all by default; fewer taps give the partial sum, a cheaper check).
  public func distance(_ x0: Tensor, _ x1: Tensor, taps: Int? = nil, weights p: WeightInputs) -> (total: Tensor, layers: [Tensor]) {
    let f0 = features(x0, taps: taps, weights: p), f1 = features(x1, taps: taps, weights: p)
    var layers: [Tensor] = []
    for (l, (a, b)) in zip(f0, f1).enumerated() {
      let c = net.tapChannels[l]
      let w = reshape(p(Self.headKey(l), [1, c, 1, 1]), [1, c, 1, 1])
      let diff = square(Self.normalizeChannels(a) - Self.normalizeChannels(b))
      layers.append(mean(sum(diff * w, axes: [1]), axes: [1, 2]))
    }
    return (layers.dropFirst().reduce(layers[0], +), layers)
  }

  // MARK: - Graph level

  /// LPIPS as a graph. Inputs `x0`, `x1` [N, 3, H, W] in [−1, 1] and the weights; outputs `d`
  /// [N] and `d.layer{l}` [N].
  public func graph(batch: Int, height: Int, width: Int, taps: Int? = nil, prefix: String = "") throws -> ModelGraph {
    let g = Graph("lpips.\(net.rawValue)")
    let p = WeightInputs(graph: g, prefix: prefix)
    let x0 = g.input("x0", [batch, 3, height, width]), x1 = g.input("x1", [batch, 3, height, width])
    let (d, layers) = distance(x0, x1, taps: taps, weights: p)
    try g.check()
    g.output("d", d)
    for (l, t) in layers.enumerated() { g.output("d.layer\(l)", t) }
    return ModelGraph(graph: g, weights: p)
  }

  // MARK: - Weights

  /// The LPIPS for a backbone file: the network recognised by its keys (SqueezeNet's Fire
  /// modules, VGG16's 13th convolution, else AlexNet), and Caffe's input convention when the
  /// file's safetensors metadata says its input is on a 0-255 scale (the converted DeepScale
  /// SqueezeNet), torchvision's otherwise.
  public static func detect(backbone url: URL) throws -> LPIPS {
    let sd = try CheckpointLoading.load(url, prefixes: ["", "state_dict", "model"], marker: "features.0.weight",
                                        architecture: "VGG16, AlexNet or SqueezeNet 1.1 backbone")
    let net: LPIPSNet = sd["features.3.squeeze.weight"] != nil ? .squeeze
      : (sd["features.28.weight"] != nil ? .vgg : .alex)
    var input = LPIPSInput.torchvision
    if !CheckpointLoading.isTorchCheckpoint(url), let f = try? SafeTensorsFile(contentsOf: url),
       f.metadata["input"]?.contains("0-255") == true { input = .caffe }
    return LPIPS(net: net, input: input)
  }

  /// LPIPS weights: the backbone from a torchvision checkpoint (e.g. `vgg16-397923af.pth`,
  /// keys `features.*`; other keys are ignored) and the v0.1 heads from the `lpips` package's
  /// `{vgg,alex,squeeze}.pth`. One-line errors name the file and the first bad key.
  public func loadWeights(backbone: URL, heads: URL) throws -> StateDict {
    let bb = try CheckpointLoading.load(backbone, prefixes: ["", "state_dict", "model"], marker: net.backboneShapes[0].key,
                                        architecture: "\(net.architectureName) backbone")
    return try merge(backbone: bb, heads: loadHeads(heads))
  }

  /// The v0.1 heads file alone (keys `lin{l}.model.1.weight`), checked.
  public func loadHeads(_ url: URL) throws -> StateDict {
    let sd = try CheckpointLoading.load(url, prefixes: [""], marker: Self.headKey(0),
                                        architecture: "head file of LPIPS-\(net.rawValue)")
    for (k, s) in headShapes { _ = try sd.require(k, shape: s) }
    return sd
  }

  /// Backbone + heads in one state dict, after checking every backbone shape.
  public func merge(backbone: StateDict, heads: StateDict) throws -> StateDict {
    var tensors: [String: TensorData] = [:]
    for (k, s) in net.backboneShapes { tensors[k] = try backbone.require(k, shape: s) }
    for (k, s) in headShapes { tensors[k] = try heads.require(k, shape: s) }
    return StateDict(source: "\(backbone.source)+\(heads.source)", tensors: tensors)
  }
}

/// How images in [−1, 1] are fed to the backbone.
public enum LPIPSInput: String, Sendable {
  /// LPIPS' ScalingLayer, for torchvision's ImageNet-trained backbones.
  case torchvision
  /// RGB on a 0-255 scale minus the per-channel mean, for backbones converted from Caffe
  /// (DeepScale's SqueezeNet v1.1).
  case caffe

  /// Caffe's ImageNet mean, R, G, B.
  public static let caffeMean: [Float] = [122.679, 116.669, 104.006]
}

import Foundation
import GraphIR
import Runtime

/// The PyTorch DCGAN-tutorial generator (the shipped `gan-face-generate` face model) in GraphIR.
///
/// Five blocks of ConvTranspose2d with 4x4 kernels (block 0: stride 1, pad 0, 1 -> 4; then
/// stride 2, pad 1, doubling). Blocks 0–3 are followed by BatchNorm in eval mode (the
/// per-channel affine `(x − running_mean)·rsqrt(running_var + 1e-5)·weight + bias`, computed
/// in the graph from the four stored vectors so the weights bind by name unchanged) and ReLU;
/// block 4 by Tanh. Block k's state h_k is its output after the ReLU.
/// Weight keys: `main.{0,3,6,9,12}.weight` (in, out, 4, 4) and
/// `main.{1,4,7,10}.{weight,bias,running_mean,running_var}` (num_batches_tracked is unused).
public struct DCGAN {
  public static let blockCount = 5
  static let convIndex = [0, 3, 6, 9, 12]
  static let batchNormIndex = [1, 4, 7, 10]
  public static let batchNormEpsilon: Float = 1e-5

  /// Latent size (100) and the output channels of each of the five blocks (512, 256, 128, 64, 3).
  public let latentDim: Int
  public let channels: [Int]

  public init(latentDim: Int = 100, channels: [Int] = [512, 256, 128, 64, 3]) throws {
    guard latentDim > 0, channels.count == Self.blockCount, channels.allSatisfy({ $0 > 0 }) else {
      throw ModelError("DCGAN: need a positive latent size and 5 positive channel counts, got \(latentDim), \(channels)")
    }
    self.latentDim = latentDim; self.channels = channels
  }

  /// Reads the sizes from a generator state dict and checks every tensor's shape.
  public init(stateDict sd: StateDict) throws {
    var ch: [Int] = []
    var nz = 0
    for (k, i) in Self.convIndex.enumerated() {
      guard let w = sd["main.\(i).weight"] else {
        throw ModelError("\(sd.source): not a DCGAN generator: missing key 'main.\(i).weight'")
      }
      guard w.shape.count == 4, w.shape[2] == 4, w.shape[3] == 4 else {
        throw ModelError("\(sd.source): not a DCGAN generator: 'main.\(i).weight' has shape \(w.shape.shapeText), expected [in, out, 4, 4]")
      }
      if k == 0 { nz = w.shape[0] }
      ch.append(w.shape[1])
    }
    try self.init(latentDim: nz, channels: ch)
    try sd.requireAll(weightShapes)
  }

  /// Output resolution of block k (4, 8, 16, 32, 64).
  public func resolution(ofBlock k: Int) -> Int { 4 << k }

  /// Checkpoint key -> shape of every tensor the generator reads.
  public var weightShapes: [String: Shape] {
    var s: [String: Shape] = [:]
    for k in 0..<Self.blockCount {
      s["main.\(Self.convIndex[k]).weight"] = [k == 0 ? latentDim : channels[k - 1], channels[k], 4, 4]
      if k < 4 {
        for v in ["weight", "bias", "running_mean", "running_var"] { s["main.\(Self.batchNormIndex[k]).\(v)"] = [channels[k]] }
      }
    }
    return s
  }

  // MARK: - DSL level

  /// Block k applied to `x` (z as [B, nz, 1, 1] for k = 0, else h_{k−1}).
  public func block(_ k: Int, _ x: Tensor, weights p: WeightInputs) -> Tensor {
    let cin = k == 0 ? latentDim : channels[k - 1], cout = channels[k]
    let w = p("main.\(Self.convIndex[k]).weight", [cin, cout, 4, 4])
    let y = convTranspose2d(x, w, stride: k == 0 ? 1 : 2, padding: k == 0 ? 0 : 1)
    if k == Self.blockCount - 1 { return tanh(y) }
    let bn = "main.\(Self.batchNormIndex[k])."
    func vec(_ name: String) -> Tensor { reshape(p(bn + name, [cout]), [1, cout, 1, 1]) }
    let scale = rsqrt(vec("running_var") + Self.batchNormEpsilon) * vec("weight")
    return relu((y - vec("running_mean")) * scale + vec("bias"))
  }

  /// Blocks k ... 4 from `input` (z as [B, nz] or [B, nz, 1, 1] for k = 0, else h_{k−1}).
  /// Returns the image and the states h_k ... h_3.
  public func forward(from k: Int = 0, _ input: Tensor, weights p: WeightInputs) -> (image: Tensor, states: [Tensor]) {
    var x = k == 0 ? reshape(input, [input.shape[0], latentDim, 1, 1]) : input
    var states: [Tensor] = []
    for j in k..<Self.blockCount {
      x = block(j, x, weights: p)
      if j < Self.blockCount - 1 { states.append(x) }
    }
    return (x, states)
  }

  // MARK: - Graph level

  /// The generator from block `k` as a graph. Inputs: `z` [B, nz] for k = 0, else `h`
  /// [B, C_{k−1}, r, r] (block k−1's state); the weights by checkpoint key.
  /// Outputs: `image` [B, 3, 64, 64], then `h.{j}` for j = k ... 3.
  public func graph(batch: Int, fromBlock k: Int = 0, prefix: String = "") throws -> ModelGraph {
    guard (0..<Self.blockCount).contains(k) else { throw ModelError("DCGAN: block \(k) does not exist (blocks 0...4)") }
    let g = Graph(k == 0 ? "dcgan" : "dcgan.from\(k)")
    let p = WeightInputs(graph: g, prefix: prefix)
    let input = k == 0 ? g.input("z", [batch, latentDim])
      : g.input("h", [batch, channels[k - 1], resolution(ofBlock: k - 1), resolution(ofBlock: k - 1)])
    let (image, states) = forward(from: k, input, weights: p)
    try g.check()
    g.output("image", image)
    for (j, h) in zip(k..., states) { g.output("h.\(j)", h) }
    return ModelGraph(graph: g, weights: p)
  }
}

/// A DCGAN generator checkpoint: the `gan-face-generate` training file
/// (`{"netG_state_dict": ...}`), a bare state dict, or a safetensors file with the same keys.
public struct DCGANCheckpoint {
  public let model: DCGAN
  public let stateDict: StateDict

  public init(contentsOf url: URL) throws {
    let sd = try CheckpointLoading.load(url, prefixes: ["netG_state_dict", ""], marker: "main.0.weight",
                                        architecture: "DCGAN generator")
    try self.init(stateDict: sd)
  }

  public init(stateDict: StateDict) throws {
    model = try DCGAN(stateDict: stateDict)
    self.stateDict = stateDict
  }

  /// The description read from the `.json` beside a converted model, if loaded from one.
  public internal(set) var manifest: ModelManifest?
}

import GraphIR

/// The StyleGAN2 generator in GraphIR (spec reference-code.md §C), written once and used two
/// ways: as DSL functions that add the network to any graph (so a runtime can put generator,
/// loss and LPIPS in one graph), and as ready-made graphs with stable input/output names.
///
/// Weights are graph inputs named by their checkpoint keys (see `WeightInputs`).
/// Block k (ILO's "layer k") is: block 0 = constant input, conv1 (w+ row 0, noise 0),
/// to_rgb1 (row 1); block k ≥ 1 = convs.(2k−2) (upsampling; row 2k−1, noise 2k−1),
/// convs.(2k−1) (row 2k, noise 2k), to_rgbs.(k−1) (row 2k+1, adds the upsampled skip).
/// The state after block k is (h_k, skip_k); the image is the last skip.
public struct StyleGAN2 {
  public let config: StyleGAN2Config
  public init(config: StyleGAN2Config) { self.config = config }

  /// Where the synthesis network takes its noise maps from.
  public enum NoiseSource: Sendable {
    /// Graph inputs `noise.{i}` of shape [B, 1, R, R] (what inversion optimizes).
    case inputs
    /// The checkpoint's fixed buffers `noises.noise_{i}` [1, 1, R, R], broadcast over the batch.
    case buffers
  }

  /// One block's output state.
  public struct BlockState {
    public var h: Tensor
    public var skip: Tensor
  }

  // MARK: - DSL level

  /// The mapping network: PixelNorm, then `mappingLayers` × (EqualLinear with lrMul, fused
  /// leaky ReLU). `z` [..., D] -> w [..., D]; every row is mapped independently. A conditional
  /// network first joins the chosen class's embedding to z (`mappingInput`).
  public func mapping(_ z: Tensor, weights p: WeightInputs) -> Tensor {
    let d = config.styleDim
    let lead = Array(z.shape.dropLast())
    var x = mappingInput(reshape(z, [lead.elementCount, d]), weights: p)
    for i in stride(from: 1, through: config.mappingLayers, by: 1) {
      let din = x.shape[1], scale = config.lrMul / Float(din).squareRoot()
      let y = equalLinear(x, weight: p("style.\(i).weight", [d, din]), bias: nil, scale: scale)
      x = fusedLeakyRelu(y, bias: p("style.\(i).bias", [d]) * config.lrMul)
    }
    return reshape(x, lead + [d])
  }

  /// The first mapping layer's input for `z` [N, D]: the normalized z, or for a conditional
  /// network z joined with the constant class embedding (graph input `class_embedding`),
  /// normalized apart (`embed` layout: the input holds the already normalized embedding) or
  /// together (`labelConcat` layout), as each original network does.
  func mappingInput(_ z: Tensor, weights p: WeightInputs) -> Tensor {
    func normalized(_ x: Tensor) -> Tensor { x * rsqrt(mean(square(x), axes: [1], keepDims: true) + 1e-8) }
    guard let c = config.conditioning else { return normalized(z) }
    let n = z.shape[0]
    let e = broadcast(reshape(p(StyleGAN2Config.classEmbeddingKey, [c.width]), [1, c.width]), to: [n, c.width])
    switch c.layout {
    case .embed: return concat([normalized(z), e], axis: 1)
    case .labelConcat: return normalized(concat([z, e], axis: 1))
    }
  }

  /// Truncation `avg + psi·(w − avg)`; `average` is [D], broadcast over w's leading axes.
  public func truncate(_ w: Tensor, average: Tensor, psi: Float) -> Tensor {
    average + (w - average) * psi
  }

  /// The synthesis network from block `k` to the end.
  ///
  /// - `wPlus`: [B, latentCount, D]; rows below 2k−1 are not read.
  /// - `noise(i)`: the noise map i ([B or 1, 1, R, R]); only maps of blocks ≥ k are requested.
  /// - `state`: (h_{k−1}, skip_{k−1}) for k ≥ 1 (ignored for k = 0). With `skip` nil the coarse
  ///   RGB is dropped, as the reference ILO code does.
  /// Returns the states of blocks k ... n−1; the image is the last `skip`.
  public func synthesis(wPlus: Tensor, noise: (Int) -> Tensor, from k: Int = 0,
                        state: (h: Tensor, skip: Tensor?)? = nil, weights p: WeightInputs) -> [BlockState] {
    let b = wPlus.shape[0], d = config.styleDim
    func row(_ r: Int) -> Tensor { reshape(slice(wPlus, axis: 1, r..<(r + 1)), [b, d]) }
    var h = state?.h, skip = state?.skip
    var states: [BlockState] = []
    for j in k..<config.blockCount {
      let rows = config.latentIndices(ofBlock: j), noises = config.noiseIndices(ofBlock: j)
      let cout = config.channels(ofBlock: j)
      if j == 0 {
        let c = p("input.input", [1, cout, 4, 4])
        var x = broadcast(c, to: [b, cout, 4, 4])
        x = styledConv("conv1", x, cout, style: row(rows[0]), noise: noise(noises[0]), up: false, p)
        h = x
        skip = toRGB("to_rgb1", x, style: row(rows[1]), skip: nil, p)
      } else {
        guard let hin = h else {
          return [BlockState(h: wPlus.graph.fail(GraphError(op: "stylegan2", message: "block \(j) needs an input state h")), skip: wPlus)]
        }
        var x = styledConv("convs.\(2 * j - 2)", hin, cout, style: row(rows[0]), noise: noise(noises[0]), up: true, p)
        x = styledConv("convs.\(2 * j - 1)", x, cout, style: row(rows[1]), noise: noise(noises[1]), up: false, p)
        h = x
        skip = toRGB("to_rgbs.\(j - 1)", x, style: row(rows[2]), skip: skip, p)
      }
      states.append(BlockState(h: h!, skip: skip!))
    }
    return states
  }

  /// The modulation layer of a ModulatedConv2d: EqualLinear(D -> in, lr 1) on the w row.
  func modulation(_ prefix: String, _ w: Tensor, _ cin: Int, _ p: WeightInputs) -> Tensor {
    let d = config.styleDim
    return equalLinear(w, weight: p(prefix + ".conv.modulation.weight", [cin, d]),
                       bias: p(prefix + ".conv.modulation.bias", [cin]), scale: 1 / Float(d).squareRoot())
  }

  /// StyledConv: modulated 3x3 conv (demodulated, optionally upsampling), noise, fused lrelu,
  /// and the optional clamp.
  func styledConv(_ prefix: String, _ x: Tensor, _ cout: Int, style w: Tensor, noise: Tensor, up: Bool, _ p: WeightInputs) -> Tensor {
    let cin = x.shape[1]
    let weight = reshape(p(prefix + ".conv.weight", [1, cout, cin, 3, 3]), [cout, cin, 3, 3])
    let s = modulation(prefix, w, cin, p)
    let y = up ? StyleGAN2Layers.modulatedConv2dUp(x, weight: weight, style: s)
      : modulatedConv2d(x, weight: weight, style: s)
    let n = injectNoise(y, noise: noise, strength: p(prefix + ".noise.weight", [1]))
    return clamped(fusedLeakyRelu(n, bias: p(prefix + ".activate.bias", [cout])))
  }

  /// `x` clamped to ±`convClamp` when the configuration has one (stylegan2-ada-pytorch models).
  func clamped(_ x: Tensor) -> Tensor {
    guard let c = config.convClamp else { return x }
    return minimum(maximum(x, x.graph.scalar(-c)), x.graph.scalar(c))
  }

  /// ToRGB: modulated 1x1 conv without demodulation, plus bias (then the optional clamp), plus
  /// the upsampled skip.
  func toRGB(_ prefix: String, _ x: Tensor, style w: Tensor, skip: Tensor?, _ p: WeightInputs) -> Tensor {
    let cin = x.shape[1]
    let weight = reshape(p(prefix + ".conv.weight", [1, 3, cin, 1, 1]), [3, cin, 1, 1])
    var y = modulatedConv2d(x, weight: weight, style: modulation(prefix, w, cin, p), demodulate: false)
    y = clamped(y + p(prefix + ".bias", [1, 3, 1, 1]))
    if let skip { y = y + StyleGAN2Layers.upsampleSkip(skip) }
    return y
  }

  /// The noise map `i` for the given source, declared on the graph of `p`.
  public func noiseTensor(_ i: Int, batch: Int, source: NoiseSource, weights p: WeightInputs) -> Tensor {
    let r = config.noiseResolution(i)
    switch source {
    case .inputs: return p.graph.input(named: "noise.\(i)") ?? p.graph.input("noise.\(i)", [batch, 1, r, r])
    case .buffers: return broadcast(p("noises.noise_\(i)", [1, 1, r, r]), to: [batch, 1, r, r])
    }
  }

  // MARK: - Graph level

  /// The mapping network as a graph. Input `z` [B, rows, D]; output `w` [B, rows, D].
  /// With `truncation` ψ, also input `latent_avg` [D] and `w` = latent_avg + ψ(w − latent_avg).
  public func mappingGraph(batch: Int, rows: Int, truncation psi: Float? = nil, prefix: String = "") -> ModelGraph {
    let g = Graph("stylegan2.mapping")
    let p = WeightInputs(graph: g, prefix: prefix)
    let z = g.input("z", [batch, rows, config.styleDim])
    var w = mapping(z, weights: p)
    if let psi { w = truncate(w, average: p("latent_avg", [config.styleDim]), psi: psi) }
    g.output("w", w)
    return ModelGraph(graph: g, weights: p)
  }

  /// The synthesis network from block `k` as a graph.
  ///
  /// Inputs: `w_plus` [B, latentCount, D]; `noise.{i}` [B, 1, R_i, R_i] for the maps of blocks
  /// ≥ k (with `.inputs` noise); for k ≥ 1 `h` [B, C_{k−1}, r, r] and, when `skip` is true,
  /// `skip` [B, 3, r, r] (r = 4·2^(k−1)); the weights by checkpoint key.
  /// Outputs: `image` [B, 3, size, size], then `h.{j}` and `skip.{j}` for j = k ... n−1.
  public func synthesisGraph(batch: Int, fromBlock k: Int = 0, skip useSkip: Bool = true,
                             noise: NoiseSource = .inputs, prefix: String = "") throws -> ModelGraph {
    guard (0..<config.blockCount).contains(k) else {
      throw ModelError("StyleGAN2: block \(k) does not exist (blocks 0...\(config.blockCount - 1))")
    }
    let g = Graph(k == 0 ? "stylegan2.synthesis" : "stylegan2.synthesis.from\(k)")
    let p = WeightInputs(graph: g, prefix: prefix)
    let wPlus = g.input("w_plus", [batch, config.latentCount, config.styleDim])
    var state: (h: Tensor, skip: Tensor?)? = nil
    if k > 0 {
      let r = config.resolution(ofBlock: k - 1)
      let h = g.input("h", [batch, config.channels(ofBlock: k - 1), r, r])
      state = (h, useSkip ? g.input("skip", [batch, 3, r, r]) : nil)
    }
    let states = synthesis(wPlus: wPlus, noise: { noiseTensor($0, batch: batch, source: noise, weights: p) },
                           from: k, state: state, weights: p)
    try g.check()
    g.output("image", states.last!.skip)
    for (j, s) in zip(k..., states) { g.output("h.\(j)", s.h); g.output("skip.\(j)", s.skip) }
    return ModelGraph(graph: g, weights: p)
  }

  /// The whole generator, z -> image, for sampling. Input `z` [B, D] (one latent for all rows)
  /// or, with `perRowLatents`, [B, latentCount, D]; optional truncation (input `latent_avg`).
  /// Noise as in `synthesisGraph`. Outputs `image` and `w_plus`.
  public func generatorGraph(batch: Int, truncation psi: Float? = nil, perRowLatents: Bool = false,
                             noise: NoiseSource = .inputs, prefix: String = "") throws -> ModelGraph {
    let g = Graph("stylegan2.generator")
    let p = WeightInputs(graph: g, prefix: prefix)
    let (n, d) = (config.latentCount, config.styleDim)
    let z = g.input("z", perRowLatents ? [batch, n, d] : [batch, d])
    var w = mapping(z, weights: p)
    if let psi { w = truncate(w, average: p("latent_avg", [d]), psi: psi) }
    if !perRowLatents { w = broadcast(reshape(w, [batch, 1, d]), to: [batch, n, d]) }
    let states = synthesis(wPlus: w, noise: { noiseTensor($0, batch: batch, source: noise, weights: p) }, weights: p)
    try g.check()
    g.output("image", states.last!.skip)
    g.output("w_plus", w)
    return ModelGraph(graph: g, weights: p)
  }
}

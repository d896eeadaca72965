/// Transposed convolutions as ordinary ones. A strided one splits into its stride² phases,
/// each a stride-1 convolution, interleaved back by zero-inserting pads:
///
///     convT(x, W, stride s)  ->  Σ_{rh,rw} pad(conv2d(x, W_{rh,rw}), lo: r, interior: s−1)
///
/// Output position p = q·s + r of the unpadded transposed convolution only receives the taps
/// k ≡ r (mod s): `y_r[q] = Σ_t x[q − t]·W[r + s·t]`, a correlation of x (padded by T_r − 1 on
/// each side) with the phase's taps in reverse order. The products are the same ones, but
/// each phase is an im2col GEMM (or a plain one for a 1x1 phase) writing its outputs once,
/// instead of one GEMM into a column buffer k² times the input's size and a col2im that adds
/// the columns back up: StyleGAN2's upsampling convolution (k 3, stride 2) runs at the
/// speed of a forward convolution. Padding and output padding are a final slice. A stride-1
/// transposed convolution is one phase, `conv2d(x, flip(W)ᵀ, padding: k − 1 − p)` (a direct
/// depthwise one, such as the adjoint of StyleGAN2's blur, then runs as fast as the forward
/// blur). Grouped weights [g·Cin/g, Cout/g, k, k] regroup to [g·Cout/g, Cin/g, k, k]. Applies
/// when stride ≤ kernel. It runs after differentiation (`PassPipeline.standard`), so the
/// adjoint of a strided transposed convolution (a strided convolution) is left as it is.
public struct TransposedConvPhases: GraphPass {
  public var name: String { "conv-transpose-phases" }
  public init() {}

  public func run(_ graph: Graph) -> Graph {
    var r = GraphRebuilder(graph)
    return r.rebuild { r, i, inputs in
      let node = graph.nodes[i]
      guard case .convTranspose2d(let a) = node.op,
            let id = Self.rewrite(r.target, x: inputs[0], w: inputs[1], attrs: a, shape: node.shape) else {
        return r.copy(i, inputs)
      }
      return id
    }
  }

  static func rewrite(_ g: Graph, x: Int, w: Int, attrs a: ConvAttrs, shape: Shape) -> Int? {
    let xs = g.nodes[x].shape, ws = g.nodes[w].shape  // x [N, Cin, H, W], w [Cin, Cout, kh, kw]
    let groups = a.groups
    guard xs.count == 4, ws.count == 4, ws[0] % groups == 0 else { return nil }
    let s: [Int] = a.stride, k: [Int] = [ws[2], ws[3]]
    guard s[0] <= k[0], s[1] <= k[1] else { return nil }
    let (cig, cog) = (ws[0] / groups, ws[1])
    /// taps [Cin, Cout/g, th, tw] of the transposed weight -> a conv2d weight [Cout, Cin/g, th, tw]
    func regroup(_ t: Tensor) -> Tensor {
      if groups == 1 { return transpose(t, [1, 0, 2, 3]) }
      let (th, tw) = (t.shape[2], t.shape[3])
      let split = reshape(t, [groups, cig, cog, th, tw])
      return reshape(transpose(split, [0, 2, 1, 3, 4]), [groups * cog, cig, th, tw])
    }
    let pads: [Int] = a.padding  // top, bottom, left, right
    if s == [1, 1] {
      // one phase: correlate with the flipped taps; the padding folds into the convolution's
      let lo: [Int] = [k[0] - 1 - pads[0], k[1] - 1 - pads[2]]
      let hi: [Int] = [shape[2] - xs[2] + pads[0], shape[3] - xs[3] + pads[2]]
      guard lo.allSatisfy({ $0 >= 0 }), hi.allSatisfy({ $0 >= 0 }) else { return nil }
      let flipped = regroup(reverse(g.value(w), axes: [2, 3].filter { d in k[d - 2] > 1 }))
      let y = conv2d(g.value(x), flipped, stride: [1, 1], padding: [lo[0], hi[0], lo[1], hi[1]], groups: groups)
      return g.error == nil && y.shape == shape ? y.id : nil
    }
    // the unpadded output: full[d] = (in[d] − 1)·s + k; the layer's output is full[pad_lo ..< pad_lo + out]
    let input = [xs[2], xs[3]]
    let full: [Int] = (0..<2).map { d in (input[d] - 1) * s[d] + k[d] }
    let lo: [Int] = [pads[0], pads[2]]
    let out: [Int] = [shape[2], shape[3]]
    guard lo[0] + out[0] <= full[0], lo[1] + out[1] <= full[1] else { return nil }  // output padding past the taps

    var sum: Tensor? = nil
    for rh in 0..<s[0] {
      for rw in 0..<s[1] {
        let r = [rh, rw]
        let taps: [Int] = (0..<2).map { d in (k[d] - r[d] + s[d] - 1) / s[d] }  // T_r = ceil((k − r)/s)
        // W[:, :, r + s·t] reversed in t, as a conv2d weight [Cout, Cin, Th, Tw]
        let end: [Int] = [ws[0], ws[1], rh + s[0] * (taps[0] - 1) + 1, rw + s[1] * (taps[1] - 1) + 1]
        var wp = slice(g.value(w), start: [0, 0, rh, rw], end: end, step: [1, 1, s[0], s[1]])
        let flipAxes: [Int] = [2, 3].filter { d in wp.shape[d] > 1 }
        wp = regroup(reverse(wp, axes: flipAxes))
        let padding: [Int] = [taps[0] - 1, taps[0] - 1, taps[1] - 1, taps[1] - 1]
        let phase = conv2d(g.value(x), wp, stride: [1, 1], padding: padding, groups: groups)
        // q -> q·s + r in the full output
        let q: [Int] = [phase.shape[2], phase.shape[3]]
        let hi: [Int] = (0..<2).map { d in full[d] - 1 - ((q[d] - 1) * s[d] + r[d]) }
        let interior: [Int] = [0, 0, s[0] - 1, s[1] - 1]
        let placed = pad(phase, lo: [0, 0, rh, rw], hi: [0, 0, hi[0], hi[1]], interior: interior)
        sum = sum.map { $0 + placed } ?? placed
      }
    }
    let yEnd: [Int] = [shape[0], shape[1], lo[0] + out[0], lo[1] + out[1]]
    let y = slice(sum!, start: [0, 0, lo[0], lo[1]], end: yEnd)
    return g.error == nil && y.shape == shape ? y.id : nil
  }
}

import GraphIR

/// Convolutions with a handful of output channels and a long reduction (the input gradient of
/// a network's first layer: 64 channels, 3x3 taps, back to 3 image channels).
///
/// Why: as an im2col GEMM, such a layer packs a column matrix of Cin*kh*kw rows for every pixel
/// (150 MB at 256x256) to multiply it by 3 rows, which measured 9 % of the FMA peak. Here each
/// parallel iteration computes one output row of every channel, accumulating in the output:
/// for each input channel in turn, every output element of the row gains the products of all its
/// taps (kept in registers, with several channels when the taps are few: one load and store of
/// the output per up to 16 multiply-adds). The row of
/// input and output stays in the first-level cache; the loop over the row is split into the
/// columns where a tap can fall outside the input (clamped, masked loads) and the interior, where
/// every load is contiguous and the loop vectorizes. Each element sums its products in the same
/// order (input channel, tap row, tap column) whatever the vector width.
extension KernelLowering {
  /// Output channels at most this many, stride 1, no groups: the form `narrowConvolution` runs.
  static let narrowConvolutionChannels = 4

  mutating func narrowConvolution(_ a: ConvAttrs, _ node: Graph.Node) -> Loop {
    let xs = graph.nodes[node.inputs[0]].shape, ws = graph.nodes[node.inputs[1]].shape, ys = node.shape
    let (xb, wb) = (bufferOf[node.inputs[0]]!, bufferOf[node.inputs[1]]!)
    let rows = ys[0] * ys[2]
    alg.ranges["o"] = 0...(rows - 1)
    // input channels per iteration of the channel loop: enough products to keep in registers
    let taps = (0..<ws[2]).flatMap { ky in (0..<ws[3]).map { kx in (ky, kx) } }
    let block = (1...xs[1]).last { xs[1] % $0 == 0 && $0 * taps.count <= 16 } ?? 1
    alg.ranges["c"] = 0...(xs[1] / block - 1)
    let n = alg.floorDiv(.variable("o"), ys[2]), h = alg.mod(.variable("o"), ys[2])
    func out(_ oc: Int, _ col: IntExpr) -> IntExpr {
      alg.add(alg.mul(alg.add(alg.mul(alg.add(alg.mul(n, ys[1]), .const(oc)), ys[2]), h), ys[3]), col)
    }
    /// Input value of channel `c * block + cc`, tap (ky, kx), for output column `col` (0 outside).
    func input(_ cc: Int, _ ky: Int, _ kx: Int, _ col: IntExpr) -> FloatExpr {
      let plane = alg.add(alg.mul(n, xs[1]), alg.add(alg.mul(.variable("c"), block), .const(cc)))
      let iy = alg.add(h, .const(ky - a.padding[0])), ix = alg.add(col, .const(kx - a.padding[2]))
      let valid = alg.and(alg.and(alg.atLeast(iy, 0), alg.less(iy, xs[2])), alg.and(alg.atLeast(ix, 0), alg.less(ix, xs[3])))
      let row = alg.add(alg.mul(plane, xs[2]), alg.clamp(iy, 0, xs[2] - 1))
      let load: FloatExpr = .load(buffer: xb, index: alg.add(alg.mul(row, xs[3]), alg.clamp(ix, 0, xs[3] - 1)))
      return valid == .const(true) ? load : .select(valid, load, .const(0))
    }
    let products = (0..<block).flatMap { cc in taps.map { (cc, $0.0, $0.1) } }
    var initial: [Stmt] = [], sweep: [Stmt] = []
    for (start, count) in Self.rowSegments(width: ys[3], input: xs[3], kernel: ws[3], padLeft: a.padding[2]) {
      alg.ranges["i"] = 0...(count - 1)
      let col = alg.add(.variable("i"), .const(start))
      initial.append(.loop(Loop("i", count, (0..<ys[1]).map { .store(buffer: 0, index: out($0, col), value: .const(0)) })))
      let values = products.map { input($0.0, $0.1, $0.2, col) }
      let update: [Stmt] = (0..<ys[1]).map { oc in
        let sum = zip(products, values).reduce(FloatExpr.load(buffer: 0, index: out(oc, col))) { acc, p in
          let channel = alg.add(alg.mul(.variable("c"), block), .const(p.0.0))
          let w = alg.linear([.const(oc), channel, .const(p.0.1), .const(p.0.2)], ws)
          return .fma(.load(buffer: wb, index: w), p.1, acc)
        }
        return .store(buffer: 0, index: out(oc, col), value: sum)
      }
      sweep.append(.loop(Loop("i", count, update)))
    }
    return Loop("o", rows, initial + [.loop(Loop("c", xs[1] / block, sweep))])
  }

  /// The output columns split into (start, count) runs: those where some tap column falls left
  /// of the input, the interior where every tap is inside, and those where one falls right.
  /// Output column ox reads input columns ox * stride - padLeft + (0..<kernel).
  static func rowSegments(width: Int, input: Int, kernel: Int, padLeft: Int, stride: Int = 1) -> [(Int, Int)] {
    let lo = Swift.min(width, (padLeft + stride - 1) / stride)
    let hi = Swift.max(lo, Swift.min(width, IndexAlgebra.fdiv(input - kernel + padLeft, stride) + 1))
    return [(0, lo), (lo, hi - lo), (hi, width - hi)].filter { $0.1 > 0 }
  }
}

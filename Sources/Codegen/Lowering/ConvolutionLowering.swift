import GraphIR

/// Convolutions as loop nests: the *direct* form (used when each output reads few inputs,
/// e.g. depthwise blurs and pooling-like convs, so its producers fuse into it — a
/// zero-insertion upsample feeding a blur never materializes), and the im2col / col2im
/// gathers that surround a GEMM in the library form.
extension KernelLowering {
  /// Multiply-adds per output element of a convolution-family op.
  public static func reductionLength(_ op: Op, _ shapes: [Shape]) -> Int {
    switch op {
    case .conv2d(let a): return (shapes[0][1] / a.groups) * shapes[1][2] * shapes[1][3]
    case .convTranspose2d(let a): return (shapes[0][1] / a.groups) * shapes[1][2] * shapes[1][3]
    case .conv2dWeightGrad: return shapes[1][0] * shapes[1][2] * shapes[1][3]
    case .matmul: return shapes[0][shapes[0].count - 1]
    default: return 0
    }
  }

  /// A direct convolution (or small product). A stride-1 convolution whose inner loop runs over
  /// one output row gets that loop split into the columns where some tap falls outside the input
  /// and the interior (`rowSegments`): in the interior every load is in bounds without a clamp,
  /// so it is contiguous and vectorizes instead of gathering (the blurs of StyleGAN2).
  mutating func directConvolution(_ node: Graph.Node) -> Loop {
    if case .matmul = node.op, readsRowsOfB(node) {
      return rowMajorMatmul(node)
    }
    var (outer, inner) = Self.split(node.shape, minInner: 64)
    if case .conv2d(let a) = node.op, a.stride[1] == 1, node.shape[3] >= 16, inner > node.shape[3] {
      // Rows of 16-63 outputs still get one row per inner loop, so that their interiors are
      // split from their borders: StyleGAN2's 4x4 blurs at 32x32 ran over whole planes with a
      // clamp and a select per tap (2.5 ms each at 7 GFLOP/s in a `stylegan2-64` step).
      (outer, inner) = (node.shape.elementCount / node.shape[3], node.shape[3])
    }
    alg.ranges["o"] = 0...(outer - 1)
    var segments = [(0, inner)]
    if case .conv2d(let a) = node.op, a.stride[1] == 1, inner == node.shape[3] {
      let (xs, ws) = (graph.nodes[node.inputs[0]].shape, graph.nodes[node.inputs[1]].shape)
      segments = Self.rowSegments(width: inner, input: xs[3], kernel: ws[3], padLeft: a.padding[2])
    }
    var parts: [Stmt] = []
    for (start, count) in segments {
      (lets, memo) = ([], [:])
      parts.append(.loop(Loop("i", count, directConvolutionBody(node, inner: inner, column: start, count: count))))
    }
    return Loop("o", outer, parts)
  }

  /// The body of the inner loop of `directConvolution` for output positions `o * inner + start
  /// + i`, i in 0..<count (start > 0 only when the inner loop is one output row).
  mutating func directConvolutionBody(_ node: Graph.Node, inner: Int, column start: Int, count: Int) -> [Stmt] {
    alg.ranges["i"] = 0...(count - 1)
    let i = start == 0 ? IntExpr.variable("i") : alg.add(.variable("i"), .const(start))
    let outLin = alg.add(alg.mul(.variable("o"), inner), i)
    var c = alg.coords(outer: .variable("o"), inner: .variable("i"), innerExtent: inner, node.shape)
    if start > 0 { c[3] = i }
    let xs = graph.nodes[node.inputs[0]].shape, ws = graph.nodes[node.inputs[1]].shape
    var loops: [(String, Int)] = []
    func loopVar(_ name: String, _ extent: Int) -> IntExpr {
      alg.ranges[name] = 0...(extent - 1)
      loops.append((name, extent))
      return extent == 1 ? .const(0) : .variable(name)
    }
    var term: FloatExpr
    switch node.op {
    case .matmul:
      // out[..., i, j] = sum_k a[..., i, k] * b[..., k, j]
      let r = node.shape.count
      let k = loopVar("k", xs[r - 1])
      var ac = c, bc = c
      ac[r - 1] = k
      bc[r - 2] = k
      term = .binary(.mul, value(node.inputs[0], Pos(coords: ac)), value(node.inputs[1], Pos(coords: bc)))
    case .conv2d(let a):
      let cg = xs[1] / a.groups, og = node.shape[1] / a.groups
      let g = alg.floorDiv(c[1], og)
      let ic = loopVar("c", cg), ky = loopVar("ky", ws[2]), kx = loopVar("kx", ws[3])
      let iy = alg.add(alg.mul(c[2], a.stride[0]), alg.add(ky, .const(-a.padding[0])))
      let ix = alg.add(alg.mul(c[3], a.stride[1]), alg.add(kx, .const(-a.padding[2])))
      let valid = alg.and(alg.and(alg.atLeast(iy, 0), alg.less(iy, xs[2])), alg.and(alg.atLeast(ix, 0), alg.less(ix, xs[3])))
      let xv = value(node.inputs[0], Pos(coords: [c[0], alg.add(alg.mul(g, cg), ic), alg.clamp(iy, 0, xs[2] - 1), alg.clamp(ix, 0, xs[3] - 1)]))
      let wv = value(node.inputs[1], Pos(coords: [c[1], ic, ky, kx]))
      term = .binary(.mul, valid == .const(true) ? xv : .select(valid, xv, .const(0)), wv)
    case .convTranspose2d(let a):
      let cig = xs[1] / a.groups, cog = ws[1]
      let g = alg.floorDiv(c[1], cog), col = alg.mod(c[1], cog)
      let ci = loopVar("c", cig), ky = loopVar("ky", ws[2]), kx = loopVar("kx", ws[3])
      // output y = iy*s - p + ky  =>  iy = (y + p - ky) / s when divisible
      let ny = alg.sub(alg.add(c[2], .const(a.padding[0])), ky), nx = alg.sub(alg.add(c[3], .const(a.padding[2])), kx)
      var valid = alg.and(alg.and(alg.atLeast(ny, 0), alg.less(ny, (xs[2] - 1) * a.stride[0] + 1)),
                          alg.and(alg.atLeast(nx, 0), alg.less(nx, (xs[3] - 1) * a.stride[1] + 1)))
      let cy = alg.clamp(ny, 0, (xs[2] - 1) * a.stride[0]), cx = alg.clamp(nx, 0, (xs[3] - 1) * a.stride[1])
      if a.stride[0] > 1 { valid = alg.and(valid, .compareInt(.eq, alg.mod(cy, a.stride[0]), .const(0))) }
      if a.stride[1] > 1 { valid = alg.and(valid, .compareInt(.eq, alg.mod(cx, a.stride[1]), .const(0))) }
      let ci_ = alg.add(alg.mul(g, cig), ci)
      let xv = value(node.inputs[0], Pos(coords: [c[0], ci_, alg.floorDiv(cy, a.stride[0]), alg.floorDiv(cx, a.stride[1])]))
      let wv = value(node.inputs[1], Pos(coords: [ci_, col, ky, kx]))
      term = .binary(.mul, valid == .const(true) ? xv : .select(valid, xv, .const(0)), wv)
    case .conv2dWeightGrad(let a, _):
      // out [O, Cg, kh, kw]; reduce over n, oy, ox
      let gys = ws
      let og = node.shape[0] / a.groups, cg = node.shape[1]
      let g = alg.floorDiv(c[0], og)
      let n = loopVar("n", gys[0]), oy = loopVar("y", gys[2]), ox = loopVar("x", gys[3])
      let iy = alg.add(alg.mul(oy, a.stride[0]), alg.add(c[2], .const(-a.padding[0])))
      let ix = alg.add(alg.mul(ox, a.stride[1]), alg.add(c[3], .const(-a.padding[2])))
      let valid = alg.and(alg.and(alg.atLeast(iy, 0), alg.less(iy, xs[2])), alg.and(alg.atLeast(ix, 0), alg.less(ix, xs[3])))
      let xv = value(node.inputs[0], Pos(coords: [n, alg.add(alg.mul(g, cg), c[1]), alg.clamp(iy, 0, xs[2] - 1), alg.clamp(ix, 0, xs[3] - 1)]))
      let gv = value(node.inputs[1], Pos(coords: [n, c[0], oy, ox]))
      term = .binary(.mul, valid == .const(true) ? xv : .select(valid, xv, .const(0)), gv)
    default: fatalError("not a convolution")
    }
    let taps = loops.map(\.1).reduce(1, *)
    if taps <= Self.unrollLimit, !node.op.isWeightGrad {
      // Few taps: unroll them, so the innermost loop runs over output positions and
      // vectorizes (a 4x4 blur as an inner 16-iteration loop would not).
      var unrolled: [Stmt] = []
      var sum: FloatExpr?
      var combo = [Int](repeating: 0, count: loops.count)
      for t in 0..<taps {
        var rest = t
        for k in stride(from: loops.count - 1, through: 0, by: -1) { combo[k] = rest % loops[k].1; rest /= loops[k].1 }
        let sub = Substitution(values: Dictionary(uniqueKeysWithValues: zip(loops.map(\.0), combo)), suffix: "_\(t)",
                               renamed: Set(lets.compactMap { if case .letFloat(let n, _) = $0 { return n } else { return nil } }))
        unrolled += lets.map { sub.apply($0) }
        let v = sub.apply(term)
        sum = sum.map { .binary(.add, $0, v) } ?? v
      }
      return unrolled + [Stmt.store(buffer: 0, index: outLin, value: sum ?? .const(0))]
    }
    var body: [Stmt] = lets + [.accumulate("acc", term)]
    for (name, extent) in loops.reversed() where extent > 1 { body = [.loop(Loop(name, extent, body))] }
    return [.accumulator("acc", .sum, initial: 0)] + body + [.store(buffer: 0, index: outLin, value: .variable("acc"))]
  }

  /// A small product with a row-major right operand, in i-k-j order: each row of the output
  /// accumulates `a[i, k] * b[k, :]` in place, so the innermost loop reads b and writes the
  /// output contiguously (the i-j-k order would read b with a stride of N).
  mutating func rowMajorMatmul(_ node: Graph.Node) -> Loop {
    let r = node.shape.count
    let (m, n) = (node.shape[r - 2], node.shape[r - 1])
    let k = graph.nodes[node.inputs[0]].shape[r - 1]
    let batch = node.shape.dropLast(2).reduce(1, *)
    let rows = batch * m
    alg.ranges["o"] = 0...(rows - 1)
    alg.ranges["k"] = 0...(k - 1)
    alg.ranges["j"] = 0...(n - 1)
    let row: IntExpr = .variable("o")
    let batchCoords = alg.coords(alg.floorDiv(row, m), Array(node.shape.dropLast(2)))
    let i = alg.mod(row, m)
    lets = []
    let av = value(node.inputs[0], Pos(coords: batchCoords + [i, .variable("k")]))
    let aLets = lets
    lets = []
    let bv = value(node.inputs[1], Pos(coords: batchCoords + [.variable("k"), .variable("j")]))
    let bLets = lets
    let out = alg.add(alg.mul(row, n), .variable("j"))
    let update = Stmt.store(buffer: 0, index: out, value: .binary(.add, .load(buffer: 0, index: out), .binary(.mul, .variable("aik"), bv)))
    return Loop("o", rows, [
      .loop(Loop("j", n, [.store(buffer: 0, index: out, value: .const(0))])),
      .loop(Loop("k", k, aLets + [.letFloat("aik", av), .loop(Loop("j", n, bLets + [update]))])),
    ])
  }

  /// Direct convolutions with at most this many taps per output are unrolled.
  static let unrollLimit = 36
}

/// Replaces loop variables by constants (and renames `let`s) in kernel IR expressions.
struct Substitution {
  var values: [String: Int]
  var suffix: String
  var renamed: Set<String>

  func apply(_ s: Stmt) -> Stmt {
    switch s {
    case .letFloat(let n, let e): return .letFloat(renamed.contains(n) ? n + suffix : n, apply(e))
    case .letInt(let n, let e): return .letInt(n, apply(e))
    default: return s
    }
  }
  func apply(_ e: IntExpr) -> IntExpr {
    if case .variable(let n) = e, let v = values[n] { return .const(v) }
    return e.mapOperands(rewriter)
  }
  func apply(_ e: FloatExpr) -> FloatExpr {
    if case .variable(let n) = e, renamed.contains(n) { return .variable(n + suffix) }
    return e.mapOperands(rewriter)
  }
  func apply(_ e: BoolExpr) -> BoolExpr { e.mapOperands(rewriter) }
  private var rewriter: ExprRewriter { ExprRewriter(int: apply, float: apply, bool: apply) }
}

/// The gathers around a convolution GEMM (one batch sample per call; scalar 0 is the sample).
public enum ConvolutionKernels {
  /// `col[(c*kh + ky)*kw + kx, oy*Wo + ox] = x[n, c, oy*s - p + ky, ox*s - p + kx]` (0 outside),
  /// for `rows` output rows from row `scalar 1` on (all of them by default): the columns of one
  /// block of output rows, so that a block's columns can be multiplied while still in cache.
  public static func im2col(x: Shape, kernel: [Int], attrs a: ConvAttrs, output: [Int], rows: Int? = nil) -> Kernel {
    let (c, kh, kw) = (x[1], kernel[0], kernel[1])
    let (ho, wo) = (rows ?? output[0], output[1])
    var alg = IndexAlgebra()
    alg.ranges["r"] = 0...(c * kh * kw - 1)
    let gather = Im2colGather(x: x, kernel: kernel, attrs: a, rows: ho, columns: wo, block: rows != nil)
    let body: [Stmt]
    if wo >= rowLoopsFrom {
      alg.ranges["oy"] = 0...(ho - 1)
      let segments = KernelLowering.rowSegments(width: wo, input: x[3], kernel: kw, padLeft: a.padding[2],
                                                stride: a.stride[1])
      let parts = alg.segmentLoops("ox", segments) { [gather.store(&$0, row: .variable("oy"), column: $1)] }
      body = [.loop(Loop("oy", ho, parts))]
    } else {
      alg.ranges["q"] = 0...(ho * wo - 1)
      let q: IntExpr = .variable("q")
      body = [.loop(Loop("q", ho * wo, [gather.store(&alg, row: alg.floorDiv(q, wo), column: alg.mod(q, wo))]))]
    }
    return Kernel(name: "im2col", buffers: [KernelBuffer("col", .output, count: c * kh * kw * ho * wo),
                                            KernelBuffer("x", .input, count: x.elementCount)],
                  scalars: rows == nil ? ["n"] : ["n", "row0"], parallel: Loop("r", c * kh * kw, body))
  }

  /// Output rows at least this wide get a loop of their own in im2col, split into the columns
  /// where a tap can fall outside the input and the interior, where no column is clamped or
  /// tested: there the loads are plain (strided) rows that vectorize, where the single loop over
  /// all positions divided each one by the row width and gathered (every im2col of a
  /// `stylegan2-256` step used masked gathers). `iloc profile`, alternating: the im2col steps'
  /// time outside their products 44-50 -> 23-26 ms a `stylegan2-256` step, 6.6-7.4 -> 4.8-5.3 at 64.
  static let rowLoopsFrom = 16

  /// One element of im2col's columns: `col[r, oy, ox]` for kernel row r = (c, ky, kx).
  struct Im2colGather {
    let x: Shape, kernel: [Int], attrs: ConvAttrs
    /// The block's output rows and columns, and whether the rows start at `scalar 1`.
    let rows: Int, columns: Int, block: Bool

    func store(_ alg: inout IndexAlgebra, row: IntExpr, column ox: IntExpr) -> Stmt {
      let (c, h, w) = (x[1], x[2], x[3])
      let (kh, kw, a) = (kernel[0], kernel[1], attrs)
      let r: IntExpr = .variable("r")
      let ch = alg.floorDiv(r, kh * kw), ky = alg.mod(alg.floorDiv(r, kw), kh), kx = alg.mod(r, kw)
      let oy = block ? alg.add(row, .scalar(1)) : row
      let iy = alg.add(alg.mul(oy, a.stride[0]), alg.add(ky, .const(-a.padding[0])))
      let ix = alg.add(alg.mul(ox, a.stride[1]), alg.add(kx, .const(-a.padding[2])))
      let plane = alg.mul(alg.add(alg.mul(.scalar(0), c), ch), h * w)
      let value = alg.zeroPaddedLoad(buffer: 1, plane: plane, row: iy, column: ix, height: h, width: w)
      let at = alg.add(alg.mul(r, rows * columns), alg.add(alg.mul(row, columns), ox))
      return .store(buffer: 0, index: at, value: value)
    }
  }

  /// The adjoint gather of im2col for a transposed convolution of sample n:
  /// `y[n, co, oy, ox] = sum over (ky, kx) of col[(co*kh + ky)*kw + kx, iy*W + ix]` where
  /// `oy = iy*s - p + ky` (and likewise for x).
  public static func col2im(y: Shape, input: [Int], kernel: [Int], attrs a: ConvAttrs) -> Kernel {
    let (co, ho, wo) = (y[1], y[2], y[3])
    let (h, w) = (input[0], input[1])
    let (kh, kw) = (kernel[0], kernel[1])
    var alg = IndexAlgebra()
    alg.ranges["c"] = 0...(co - 1)
    alg.ranges["p"] = 0...(ho * wo - 1)
    alg.ranges["ky"] = 0...(kh - 1)
    alg.ranges["kx"] = 0...(kw - 1)
    let c: IntExpr = .variable("c"), p: IntExpr = .variable("p")
    let oy = alg.floorDiv(p, wo), ox = alg.mod(p, wo)
    let ny = alg.sub(alg.add(oy, .const(a.padding[0])), .variable("ky"))
    let nx = alg.sub(alg.add(ox, .const(a.padding[2])), .variable("kx"))
    var valid = alg.and(alg.and(alg.atLeast(ny, 0), alg.less(ny, (h - 1) * a.stride[0] + 1)),
                        alg.and(alg.atLeast(nx, 0), alg.less(nx, (w - 1) * a.stride[1] + 1)))
    let cy = alg.clamp(ny, 0, (h - 1) * a.stride[0]), cx = alg.clamp(nx, 0, (w - 1) * a.stride[1])
    if a.stride[0] > 1 { valid = alg.and(valid, .compareInt(.eq, alg.mod(cy, a.stride[0]), .const(0))) }
    if a.stride[1] > 1 { valid = alg.and(valid, .compareInt(.eq, alg.mod(cx, a.stride[1]), .const(0))) }
    let row = alg.add(alg.mul(alg.add(alg.mul(c, kh), .variable("ky")), kw), .variable("kx"))
    let idx = alg.add(alg.mul(row, h * w), alg.add(alg.mul(alg.floorDiv(cy, a.stride[0]), w), alg.floorDiv(cx, a.stride[1])))
    let v: FloatExpr = .load(buffer: 1, index: idx)
    let out = alg.add(alg.mul(alg.add(alg.mul(.scalar(0), co), c), ho * wo), p)
    let body: [Stmt] = [
      .accumulator("acc", .sum, initial: 0),
      .loop(Loop("ky", kh, [.loop(Loop("kx", kw, [.accumulate("acc", valid == .const(true) ? v : .select(valid, v, .const(0)))]))])),
      .store(buffer: 0, index: out, value: .variable("acc")),
    ]
    return Kernel(name: "col2im", buffers: [KernelBuffer("y", .output, count: y.elementCount),
                                            KernelBuffer("col", .input, count: co * kh * kw * h * w)],
                  scalars: ["n"], parallel: Loop("c", co, [.loop(Loop("p", ho * wo, body))]))
  }
}

import GraphIR

/// The gradient of max pooling as a loop nest, in gather form.
///
/// Why gather: the scatter form (each window adds its gradient to its maximum) writes one
/// element from several windows when windows overlap (SqueezeNet's and AlexNet's 3x3 stride-2
/// pools), so it cannot run in parallel without atomics and its sums would depend on the
/// order. Here each input element sums the output gradients of the windows that contain it
/// (at most ceil(k/s) per axis) and whose *first* maximum in scan order it is: the tie rule of
/// the interpreter and of PyTorch. Both operands are buffers (the planner materializes them):
/// every element reads its windows' values again, k*k per window.
///
/// Pools whose windows tile the input exactly (VGG's 2x2, stride 2) take a window-major form
/// instead: each window finds its first maximum once and writes all its k*k gradients, with
/// every index linear in the output column, so the loads and stores vectorize as interleaved
/// groups rather than gathers.
extension KernelLowering {
  mutating func poolingGradient(_ p: PoolAttrs, _ node: Graph.Node) -> Loop {
    let (x, gy) = (node.inputs[0], node.inputs[1])
    let xs = node.shape, ys = graph.nodes[gy].shape
    if p.padding == [0, 0] && p.stride == p.kernel && xs[2] == ys[2] * p.kernel[0] && xs[3] == ys[3] * p.kernel[1] {
      return tilingPoolGradient(p, x: x, gy: gy, xs: xs, ys: ys)
    }
    let (outer, inner) = Self.split(xs, minInner: 64)
    alg.ranges["o"] = 0...(outer - 1)
    alg.ranges["i"] = 0...(inner - 1)
    let c = alg.coords(outer: .variable("o"), inner: .variable("i"), innerExtent: inner, xs)
    let windows = (0..<2).map { (p.kernel[$0] + p.stride[$0] - 1) / p.stride[$0] }
    alg.ranges["dy"] = 0...(windows[0] - 1); alg.ranges["dx"] = 0...(windows[1] - 1)
    alg.ranges["ky"] = 0...(p.kernel[0] - 1); alg.ranges["kx"] = 0...(p.kernel[1] - 1)
    let window = [windowAxis(c[2], "dy", axis: 0, p, extent: ys[2]), windowAxis(c[3], "dx", axis: 1, p, extent: ys[3])]
    let own = value(x, Pos(coords: c))
    let isFirstMax = alg.and(window[0].valid, alg.and(window[1].valid, .and(
      .compareFloat(.gt, own, .variable("before")), .compareFloat(.ge, own, .variable("after")))))
    let clamped = [alg.clamp(window[0].index, 0, ys[2] - 1), alg.clamp(window[1].index, 0, ys[3] - 1)]
    let g = value(gy, Pos(coords: [c[0], c[1]] + clamped))
    let scan: [Stmt] = [.accumulator("before", .max, initial: -Float.infinity),
                        .accumulator("after", .max, initial: -Float.infinity),
                        .loop(Loop("ky", p.kernel[0], [.loop(Loop("kx", p.kernel[1], windowScan(x, c, window, p)))])),
                        .accumulate("sum", .select(isFirstMax, g, .const(0)))]
    let body: [Stmt] = [.accumulator("sum", .sum, initial: 0),
                        .loop(Loop("dy", windows[0], [.loop(Loop("dx", windows[1], scan))])),
                        .store(buffer: 0, index: alg.linear(c, xs), value: .variable("sum"))]
    return Loop("o", outer, [.loop(Loop("i", inner, body))])
  }

  /// One axis of the window loop: the window `floor((coord + pad) / stride) - d`, whether it
  /// exists and contains `coord`, and `coord`'s offset inside it.
  struct WindowAxis { var index: IntExpr; var offset: IntExpr; var valid: BoolExpr; var start: IntExpr }

  func windowAxis(_ coord: IntExpr, _ d: String, axis: Int, _ p: PoolAttrs, extent: Int) -> WindowAxis {
    let (k, s, pad) = (p.kernel[axis], p.stride[axis], p.padding[axis])
    let index = alg.sub(alg.floorDiv(alg.add(coord, .const(pad)), s), .variable(d))
    let start = alg.add(alg.mul(index, s), .const(-pad))
    let offset = alg.sub(coord, start)
    return WindowAxis(index: index, offset: offset,
                      valid: alg.and(alg.and(alg.atLeast(index, 0), alg.less(index, extent)), alg.less(offset, k)),
                      start: start)
  }

  /// The body of the scan over one window: the maxima of the in-bounds values before and after
  /// the element's own position, in row-major window order.
  mutating func windowScan(_ x: Int, _ c: [IntExpr], _ w: [WindowAxis], _ p: PoolAttrs) -> [Stmt] {
    let xs = graph.nodes[x].shape
    let iy = alg.add(w[0].start, .variable("ky")), ix = alg.add(w[1].start, .variable("kx"))
    let inBounds = alg.and(alg.and(alg.atLeast(iy, 0), alg.less(iy, xs[2])),
                           alg.and(alg.atLeast(ix, 0), alg.less(ix, xs[3])))
    let v = value(x, Pos(coords: [c[0], c[1], alg.clamp(iy, 0, xs[2] - 1), alg.clamp(ix, 0, xs[3] - 1)]))
    let (ky, kx): (IntExpr, IntExpr) = (.variable("ky"), .variable("kx"))
    let sameRow: BoolExpr = .compareInt(.eq, ky, w[0].offset)
    let before: BoolExpr = .or(.compareInt(.lt, ky, w[0].offset), .and(sameRow, .compareInt(.lt, kx, w[1].offset)))
    let after: BoolExpr = .or(.compareInt(.gt, ky, w[0].offset), .and(sameRow, .compareInt(.gt, kx, w[1].offset)))
    return [.accumulate("before", .select(alg.and(inBounds, before), v, .const(-Float.infinity))),
            .accumulate("after", .select(alg.and(inBounds, after), v, .const(-Float.infinity)))]
  }

  /// Windows that tile the input: one loop iteration per window (output element) writes the
  /// window's k*k input gradients; the gradient goes to the first position equal to the maximum.
  mutating func tilingPoolGradient(_ p: PoolAttrs, x: Int, gy: Int, xs: Shape, ys: Shape) -> Loop {
    let (kh, kw) = (p.kernel[0], p.kernel[1])
    let rows = ys[0] * ys[1] * ys[2]
    alg.ranges["o"] = 0...(rows - 1)
    alg.ranges["i"] = 0...(ys[3] - 1)
    let (o, i): (IntExpr, IntExpr) = (.variable("o"), .variable("i"))
    // row o of the output is input rows o*kh ..< o*kh + kh (planes are whole multiples)
    let positions = (0..<(kh * kw)).map { q in
      alg.add(alg.mul(alg.add(alg.mul(o, kh), .const(q / kw)), xs[3]), alg.add(alg.mul(i, kw), .const(q % kw)))
    }
    let values: [FloatExpr] = positions.map { .load(buffer: bufferOf[x]!, index: $0) }
    let g: FloatExpr = .load(buffer: bufferOf[gy]!, index: alg.add(alg.mul(o, ys[3]), i))
    var body: [Stmt] = [.letFloat("best", values.dropFirst().reduce(values[0]) { .binary(.max, $0, $1) })]
    var earlier: BoolExpr = .const(false)
    for (q, v) in values.enumerated() {
      let equal: BoolExpr = .compareFloat(.eq, v, .variable("best"))
      body.append(.store(buffer: 0, index: positions[q], value: .select(alg.and(equal, .not(earlier)), g, .const(0))))
      earlier = q == 0 ? equal : .or(earlier, equal)
    }
    return Loop("o", rows, [.loop(Loop("i", ys[3], body))])
  }
}

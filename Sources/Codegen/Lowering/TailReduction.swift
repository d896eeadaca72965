import GraphIR

/// Reductions whose reduced axes are followed by kept ones: the channel sum of an NCHW tensor
/// (LPIPS's unit normalization, the gradient of a noise input), a sum over the batch.
///
/// Why: lowered like other reductions, each output element runs its own loop over the reduced
/// axes, whose loads are a whole plane apart (a gather per element, 1-3 GB/s measured). Here
/// the output itself accumulates: for each reduced index in turn, a block of contiguous output
/// elements adds the matching contiguous input elements. Loads and stores run along memory and
/// vectorize across the block, and every element sums in the same sequential order over the
/// reduced axes whatever the vector width (no reassociation).
extension KernelLowering {
  /// The lowering, or nil when the reduction does not have this form (reduced axes forming a
  /// suffix, or fewer than 16 kept elements after the last reduced axis).
  mutating func tailReduction(_ kind: GraphIR.ReduceOp, _ axes: [Int], _ node: Graph.Node) -> Loop? {
    let xs = graph.nodes[node.inputs[0]].shape
    guard let last = axes.max(), last < xs.count - 1 else { return nil }
    let tail = xs[(last + 1)...].reduce(1, *)
    guard tail >= 16 else { return nil }
    let block = Self.reductionBlock(tail), blocks = tail / block
    let headAxes = (0..<last).filter { !axes.contains($0) }
    let head = headAxes.reduce(1) { $0 * xs[$1] }
    alg.ranges["o"] = 0...(head * blocks - 1)
    alg.ranges["i"] = 0...(block - 1)
    let o: IntExpr = .variable("o")
    let p = alg.floorDiv(o, blocks)
    let t = alg.add(alg.mul(alg.mod(o, blocks), block), .variable("i"))
    let out = alg.add(alg.mul(p, tail), t)
    let update = accumulateStep(kind, axes, xs, last: last, headAxes: headAxes, p: p, t: t, out: out)
    let initial: Stmt = .store(buffer: 0, index: out, value: .const(kind == .max ? -.infinity : 0))
    var sweep = [Stmt.loop(Loop("i", block, update))]
    for a in axes.reversed() { sweep = [.loop(Loop("r\(a)", xs[a], sweep))] }
    var steps = [Stmt.loop(Loop("i", block, [initial]))] + sweep
    if kind == .mean {
      let scale: FloatExpr = .const(1 / Float(axes.reduce(1) { $0 * xs[$1] }))
      let scaled: FloatExpr = .binary(.mul, .load(buffer: 0, index: out), scale)
      steps.append(.loop(Loop("i", block, [.store(buffer: 0, index: out, value: scaled)])))
    }
    return Loop("o", head * blocks, steps)
  }

  /// One element's update `out[out] = op(out[out], x[...])` at reduced indices `r<axis>`.
  mutating func accumulateStep(_ kind: GraphIR.ReduceOp, _ axes: [Int], _ xs: Shape, last: Int, headAxes: [Int],
                               p: IntExpr, t: IntExpr, out: IntExpr) -> [Stmt] {
    let hc = alg.coords(p, headAxes.map { xs[$0] })
    let tc = alg.coords(t, Array(xs[(last + 1)...]))
    var c = [IntExpr](repeating: .const(0), count: xs.count)
    for (k, a) in headAxes.enumerated() { c[a] = hc[k] }
    for (k, a) in ((last + 1)..<xs.count).enumerated() { c[a] = tc[k] }
    for a in axes {
      alg.ranges["r\(a)"] = 0...(xs[a] - 1)
      c[a] = .variable("r\(a)")
    }
    let prefix = alg.linear(Array(c[0...last]), Array(xs[0...last]))
    lets = []
    memo = [:]
    let lin = alg.add(alg.mul(prefix, xs[(last + 1)...].reduce(1, *)), t)
    let v = value(graph.nodes[step.node].inputs[0], Pos(lin: lin, coords: c))
    let combined: FloatExpr = .binary(kind == .max ? .max : .add, .load(buffer: 0, index: out), v)
    return lets + [.store(buffer: 0, index: out, value: combined)]
  }

  /// The block of contiguous elements one parallel iteration covers: the largest power of two
  /// up to 1024 that divides `tail` (so blocks never straddle), or all of `tail` when that is
  /// at most 1024 or odd-sized.
  static func reductionBlock(_ tail: Int) -> Int {
    if tail <= 1024 { return tail }
    var b = 1024
    while b > 16 && tail % b != 0 { b /= 2 }
    return tail % b == 0 ? b : tail
  }
}

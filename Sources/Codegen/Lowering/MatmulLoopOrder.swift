import GraphIR

/// Which loop order a directly generated matrix product gets, from where its B operand's loads
/// actually go once fused views are read through. The row-major (axpy) order runs its innermost
/// loop over the output columns j and reads B at (k, j) for every j: contiguous when B is read
/// row by row. The dot-product order (k innermost) is contiguous when B is read column by
/// column. Deciding by the op feeding B (a last-axes transpose or not) got StyleGAN2's
/// demodulation products wrong both ways: `s^2 · (sum of W^2 over the taps)^T` is a transpose
/// behind reshapes, and its gradient a transpose of that (rows again); each such product, the
/// wrong way round, ran at 1.8 GB/s (0.59 ms for a 512x512 B; 46 of them in a `stylegan2-64`
/// step).
extension KernelLowering {
  /// Whether every load of B's value at (k, j) moves by at most one element when j moves by one
  /// (at two sample points). Loads whose index cannot be evaluated count as contiguous, keeping
  /// the row-major order.
  mutating func readsRowsOfB(_ node: Graph.Node) -> Bool {
    let r = node.shape.count
    let (n, k) = (node.shape[r - 1], graph.nodes[node.inputs[0]].shape[r - 1])
    alg.ranges["k"] = 0...(k - 1)
    alg.ranges["j"] = 0...(n - 1)
    (lets, memo) = ([], [:])
    let batch = [IntExpr](repeating: .const(0), count: r - 2)
    let b = value(node.inputs[1], Pos(coords: batch + [.variable("k"), .variable("j")]))
    var loads: [IntExpr] = []
    Self.collectLoads(b, into: &loads)
    for case .letFloat(_, let e) in lets { Self.collectLoads(e, into: &loads) }
    (lets, memo) = ([], [:])
    let points = [(0, 0), (k / 2, n / 2)].filter { $0.1 + 1 < n }
    return loads.allSatisfy { index in
      points.allSatisfy { (kk, jj) in
        guard let a = Self.evaluate(index, ["k": kk, "j": jj]), let c = Self.evaluate(index, ["k": kk, "j": jj + 1])
        else { return true }
        return Swift.abs(c - a) <= 1
      }
    }
  }

  /// The indices of every load in `e` (conditions of selects included).
  static func collectLoads(_ e: FloatExpr, into out: inout [IntExpr]) {
    ExprNode.float(e).forEachNode { node in
      if case .float(.load(_, let index)) = node { out.append(index) }
    }
  }

  /// The value of an index expression of loop variables alone; nil for anything else.
  static func evaluate(_ e: IntExpr, _ env: [String: Int]) -> Int? {
    switch e {
    case .const(let c): return c
    case .variable(let v): return env[v]
    case .scalar, .select: return nil
    case .binary(let op, let a, let b):
      guard let x = evaluate(a, env), let y = evaluate(b, env) else { return nil }
      switch op {
      case .add: return x + y
      case .sub: return x - y
      case .mul: return x * y
      case .floorDiv: return y == 0 ? nil : IndexAlgebra.fdiv(x, y)
      case .mod: return y == 0 ? nil : IndexAlgebra.fmod(x, y)
      case .min: return Swift.min(x, y)
      case .max: return Swift.max(x, y)
      }
    }
  }
}

/// Sums of squared products, contracted in the cheap order. StyleGAN2's demodulation computes
///
///     d[b, o] = Σ_{c,kh,kw} (W[o, c, kh, kw] · s[b, c])²
///
/// over a per-sample weight as large as the layer's weight; the same sum is
/// `Σ_c s[b, c]² · (Σ_{kh,kw} W[o, c, kh, kw]²)`: a small matrix product with a factor that
/// depends on the weights alone (so a program computes it once per weight binding). In
/// general: `sum_R(square(A · B))`, with the factors of the product split into A and B,
/// becomes `(sum_{Ra} A²) @ (sum_{Rb} B²)` contracted over the one reduced axis they share,
/// when A's and B's kept axes are disjoint. Of the splits that qualify, the one whose mixed
/// work (the matrix product) is smallest is taken, and only when that is smaller than the
/// product it replaces: what each group computes alone depends on fewer inputs (a program
/// computes B² once when B is made of weights) and needs no gradient when those are fixed. It belongs before differentiation (`PassPipeline.forward`):
/// the gradient of the small form is small too.
public struct SquareSumFactoring: GraphPass {
  public var name: String { "square-sum-factoring" }
  public init() {}

  public func run(_ graph: Graph) -> Graph {
    var r = GraphRebuilder(graph)
    return r.rebuild { r, i, inputs in
      let node = graph.nodes[i]
      guard case .reduce(.sum, let axes) = node.op, let id = Self.rewrite(r.target, square: inputs[0], axes: axes, shape: node.shape) else {
        return r.copy(i, inputs)
      }
      return id
    }
  }

  static func rewrite(_ g: Graph, square sq: Int, axes: [Int], shape: Shape) -> Int? {
    guard case .unary(.square) = g.nodes[sq].op else { return nil }
    let p = g.nodes[sq].inputs[0]
    guard case .binary(.mul) = g.nodes[p].op else { return nil }
    let ps = g.nodes[p].shape
    let reduced = Set(axes)
    // the factors of the product tree and the axes each varies along
    let factors: [(src: Int, varies: Set<Int>)] = productFactors(g, p).map { _, src in
      let ss = g.nodes[src].shape
      return (src, Set(ps.indices.filter { ss[$0] != 1 && ps[$0] != 1 }))
    }
    guard factors.count >= 2, factors.count <= 12 else { return nil }
    // the split whose mixed work (the matrix product) is smallest, ties broken by what each
    // group computes alone; it must mix fewer elements than the product it replaces
    func size(_ axes: Set<Int>) -> Int { axes.reduce(1) { $0 * ps[$1] } }
    struct Split {
      var a: [(src: Int, varies: Set<Int>)] = [], b: [(src: Int, varies: Set<Int>)] = []
      var va = Set<Int>(), vb = Set<Int>()
    }
    var best: (mixed: Int, alone: Int, split: Split)? = nil
    for mask in 1..<(1 << factors.count) - 1 {
      var split = Split()
      for (k, f) in factors.enumerated() {
        if mask & (1 << k) != 0 { split.a.append(f); split.va.formUnion(f.varies) } else { split.b.append(f); split.vb.formUnion(f.varies) }
      }
      let (va, vb) = (split.va, split.vb)
      let shared = va.intersection(vb).intersection(reduced)
      let (ka, kb) = (va.subtracting(reduced), vb.subtracting(reduced))
      // (a group that varies along nothing is a constant factor of the other, not a split)
      guard !va.isEmpty, !vb.isEmpty, shared.count <= 1, ka.isDisjoint(with: kb) else { continue }
      let mixed = size(ka) * size(shared) * size(kb), alone = size(va) + size(vb)
      guard mixed < ps.elementCount else { continue }
      if best == nil || (mixed, alone) < (best!.mixed, best!.alone) { best = (mixed, alone, split) }
    }
    guard let split = best?.split else { return nil }
    let (a, b, va, vb) = (split.a, split.b, split.va, split.vb)
    let shared = va.intersection(vb).intersection(reduced)
    let (ka, kb) = (va.subtracting(reduced), vb.subtracting(reduced))

    // sum over `own` reduced axes of the squared product of `group`, as a [rows, cols] matrix
    // whose rows are the axes `rowAxes` and columns `colAxes` (each in the product's order)
    func squaredSum(_ group: [(src: Int, varies: Set<Int>)], axes v: Set<Int>, rows: [Int], cols: [Int]) -> Tensor {
      let gs = ps.indices.map { v.contains($0) ? ps[$0] : 1 }
      let t = group.dropFirst().reduce(g.value(group[0].src)) { $0 * g.value($1.src) }  // broadcasts within gs
      var sq = square(t.shape == gs ? t : broadcast(t, to: gs))
      let own = v.intersection(reduced).subtracting(shared).sorted()
      if !own.isEmpty { sq = sum(sq, axes: own, keepDims: true) }
      let order = rows + cols + ps.indices.filter { !rows.contains($0) && !cols.contains($0) }
      let moved = order == Array(ps.indices) ? sq : transpose(sq, order)
      return reshape(moved, [rows.map { ps[$0] }.reduce(1, *), cols.map { ps[$0] }.reduce(1, *)])
    }
    let (rowAxes, colAxes, inner) = (ka.sorted(), kb.sorted(), shared.sorted())
    let left = squaredSum(a, axes: va, rows: rowAxes, cols: inner)
    let right = squaredSum(b, axes: vb, rows: inner, cols: colAxes)
    var m = matmul(left, right)  // [Π ka, Π kb]
    // back to the product's axis order, reduced axes dropped, other kept axes broadcast
    let kept = ps.indices.filter { !reduced.contains($0) }
    m = reshape(m, (rowAxes + colAxes).map { ps[$0] })
    let order = (rowAxes + colAxes)
    let sortedKept = order.sorted()
    if order != sortedKept { m = transpose(m, sortedKept.map { order.firstIndex(of: $0)! }) }
    m = reshape(m, kept.map { sortedKept.contains($0) ? ps[$0] : 1 })
    if m.shape != shape { m = broadcast(m, to: shape) }
    // reduced axes along which no factor varies count each term that many times
    let repeats = reduced.subtracting(va).subtracting(vb).map { ps[$0] }.reduce(1, *)
    if repeats > 1 { m = m * Float(repeats) }
    return g.error == nil && m.shape == shape ? m.id : nil
  }
}

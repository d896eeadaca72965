/// Reductions over a set of axes (the axes are removed from the shape).
public enum ReduceOp: String, Hashable, Sendable { case sum, mean, max }

extension Op {
  static func reduceShape(_ op: Op, _ axes: [Int], _ s: [Shape]) throws -> Shape {
    try expectArity(op, s)
    let x = s[0]
    if Set(axes).count != axes.count || axes.contains(where: { $0 < 0 || $0 >= x.count }) {
      throw GraphError(op: op.name, message: "bad axes \(axes) for input \(x.shapeText)")
    }
    return x.indices.filter { !axes.contains($0) }.map { x[$0] }
  }

  /// Reshapes a reduced value back to rank-preserving form and broadcasts it to `shape`.
  static func unreduce(_ v: Tensor, axes: [Int], to shape: Shape) -> Tensor {
    var kept = shape
    for a in axes { kept[a] = 1 }
    return GraphIR.broadcast(GraphIR.reshape(v, kept), to: shape)
  }

  /// VJP rules of the reduction family.
  static func reduceVJP(_ kind: ReduceOp, _ axes: [Int], _ x: Tensor, _ y: Tensor, _ g: Tensor) -> Tensor {
    let gb = unreduce(g, axes: axes, to: x.shape)
    switch kind {
    case .sum: return gb
    case .mean: return gb * (1 / Float(axes.map { x.shape[$0] }.elementCount))
    case .max:  // ties share the gradient equally
      let hit = GraphIR.eq(x, unreduce(y, axes: axes, to: x.shape))
      return gb * hit / unreduce(GraphIR.sum(hit, axes: axes), axes: axes, to: x.shape)
    }
  }
}

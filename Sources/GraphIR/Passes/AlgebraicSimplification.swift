/// Local algebraic rewrites: identities (`x*1`, `x+0`, `x-0`, `x/1`, `0-x`), annihilation
/// (`x*0 = 0`, assuming finite x, as fast-math compilers do), `-(-x)`, chains of transposes,
/// reshapes and broadcasts, and no-op movement (a reshape, broadcast, slice or pad that keeps
/// the shape and data). A splat is a constant with all elements equal, possibly reshaped or
/// broadcast.
public struct AlgebraicSimplification: GraphPass {
  public var name: String { "algebraic-simplification" }
  public init() {}

  public func run(_ graph: Graph) -> Graph {
    var r = GraphRebuilder(graph)
    return r.rebuild { r, i, inputs in
      Self.simplify(graph.nodes[i], inputs, in: r.target) ?? r.copy(i, inputs)
    }
  }

  /// The splat value of node `id` of `g`, if it is one.
  static func splat(_ g: Graph, _ id: Int) -> Float? {
    switch g.nodes[id].op {
    case .constant(let c): c.splatValue
    case .broadcast, .reshape: splat(g, g.nodes[id].inputs[0])
    default: nil
    }
  }

  /// A splat of `v` with the given shape, built in `g`.
  static func makeSplat(_ g: Graph, _ v: Float, _ shape: Shape) -> Int {
    let c = g.addNode(.constant(Constant(shape: [], values: [v])), [])
    if shape.isEmpty { return c }
    return g.addNode(.broadcast(shape), [g.addNode(.reshape([Int](repeating: 1, count: shape.count)), [c])])
  }

  /// The replacement node id, or nil to keep the node as it is.
  static func simplify(_ node: Graph.Node, _ x: [Int], in g: Graph) -> Int? {
    let shape = node.shape
    func s(_ k: Int) -> Float? { splat(g, x[k]) }
    func sameShape(_ k: Int) -> Bool { g.nodes[x[k]].shape == shape }
    switch node.op {
    case .binary(.add):
      if s(1) == 0 && sameShape(0) { return x[0] }
      if s(0) == 0 && sameShape(1) { return x[1] }
    case .binary(.sub):
      if s(1) == 0 && sameShape(0) { return x[0] }
      if s(0) == 0 { return g.addNode(.unary(.neg), [x[1]]) }
    case .binary(.mul):
      if s(1) == 1 && sameShape(0) { return x[0] }
      if s(0) == 1 && sameShape(1) { return x[1] }
      if s(0) == 0 || s(1) == 0 { return makeSplat(g, 0, shape) }
      if s(1) == -1 { return g.addNode(.unary(.neg), [x[0]]) }
      if s(0) == -1 { return g.addNode(.unary(.neg), [x[1]]) }
    case .binary(.div):
      if s(1) == 1 && sameShape(0) { return x[0] }
    case .unary(.neg):
      if case .unary(.neg) = g.nodes[x[0]].op { return g.nodes[x[0]].inputs[0] }
      if let v = s(0) { return makeSplat(g, -v, shape) }
    case .select:
      if x[1] == x[2] { return x[1] }
      if let c = s(0) { return c != 0 ? x[1] : x[2] }
    case .transpose(let p):
      if p == Array(0..<p.count) { return x[0] }
      if case .transpose(let q) = g.nodes[x[0]].op {
        let combined = p.map { q[$0] }
        let inner = g.nodes[x[0]].inputs[0]
        return combined == Array(0..<p.count) ? inner : g.addNode(.transpose(combined), [inner])
      }
    case .reshape(let t):
      if sameShape(0) { return x[0] }
      if case .reshape = g.nodes[x[0]].op {
        let inner = g.nodes[x[0]].inputs[0]
        return g.nodes[inner].shape == t ? inner : g.addNode(.reshape(t), [inner])
      }
    case .broadcast(let t):
      if sameShape(0) { return x[0] }
      if case .broadcast = g.nodes[x[0]].op { return g.addNode(.broadcast(t), [g.nodes[x[0]].inputs[0]]) }
    case .slice(let start, _, let step):
      if sameShape(0) && start.allSatisfy({ $0 == 0 }) && step.allSatisfy({ $0 == 1 }) { return x[0] }
    case .pad:
      if sameShape(0) { return x[0] }
    case .reverse(let axes):
      if axes.allSatisfy({ g.nodes[x[0]].shape[$0] == 1 }) { return x[0] }
    case .reduce(.sum, let axes), .reduce(.mean, let axes), .reduce(.max, let axes):
      let xs = g.nodes[x[0]].shape
      if axes.allSatisfy({ xs[$0] == 1 }) { return g.addNode(.reshape(shape), [x[0]]) }
    default: break
    }
    return nil
  }
}

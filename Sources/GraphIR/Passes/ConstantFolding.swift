/// Evaluates nodes whose inputs are all constants (with the interpreter, in Float) and replaces
/// them by constants. Ops that only enlarge data (broadcast, pad, concat, gather, scatter-add)
/// are not folded, nor are results above `maxElements`: a broadcast scalar is cheaper to keep
/// than a materialized tensor, and later simplifications recognize it.
public struct ConstantFolding: GraphPass {
  public var name: String { "constant-folding" }
  public var maxElements: Int
  public init(maxElements: Int = 1 << 16) { self.maxElements = maxElements }

  public func run(_ graph: Graph) -> Graph {
    var r = GraphRebuilder(graph)
    return r.rebuild { r, i, inputs in
      let node = graph.nodes[i]
      let consts = inputs.compactMap { id -> Constant? in
        if case .constant(let c) = r.target.nodes[id].op { return c } else { return nil }
      }
      guard !inputs.isEmpty, consts.count == inputs.count, node.shape.elementCount <= maxElements, Self.foldable(node.op) else {
        return r.copy(i, inputs)
      }
      let v = Interpreter.evaluate(node.op, consts.map { HostTensor<Float>(shape: $0.shape, values: $0.values) }, shape: node.shape)
      return r.target.addNode(.constant(Constant(shape: v.shape, values: v.values)), [])
    }
  }

  static func foldable(_ op: Op) -> Bool {
    switch op {
    case .broadcast, .pad, .concat, .gather, .scatterAdd, .input, .constant: false
    default: true
    }
  }
}

/// Merges nodes that apply the same op to the same inputs (and equal constants). Commutative
/// binary ops match with their operands in either order.
public struct CommonSubexpressionElimination: GraphPass {
  public var name: String { "cse" }
  public init() {}

  struct Key: Hashable { var op: Op; var inputs: [Int] }

  public func run(_ graph: Graph) -> Graph {
    var seen: [Key: Int] = [:]
    var r = GraphRebuilder(graph)
    return r.rebuild { r, i, inputs in
      let op = graph.nodes[i].op
      if case .input = op { return r.copy(i, inputs) }
      var key = Key(op: op, inputs: inputs)
      if case .binary(let b) = op, b.isCommutative { key.inputs.sort() }
      if let hit = seen[key] { return hit }
      let id = r.copy(i, inputs)
      seen[key] = id
      return id
    }
  }
}

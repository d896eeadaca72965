/// Structural checks of a graph: inputs precede their users, arities match, every stored shape
/// equals what the shape rule infers, input names are unique and outputs exist.
public enum Verifier {
  public static func verify(_ g: Graph) throws {
    try g.check()
    var names = Set<String>()
    for (i, n) in g.nodes.enumerated() {
      func fail(_ why: String) -> GraphError { GraphError(op: n.op.name, message: "node %\(i): " + why) }
      if let a = n.op.arity, a != n.inputs.count { throw fail("expects \(a) inputs, has \(n.inputs.count)") }
      if n.op.arity == nil && n.inputs.isEmpty { throw fail("needs at least one input") }
      for j in n.inputs where j < 0 || j >= i { throw fail("input %\(j) does not precede it") }
      if case .input(let name, _) = n.op {
        if !names.insert(name).inserted { throw fail("duplicate input name '\(name)'") }
        continue
      }
      let inferred = try n.op.inferShape(n.inputs.map { g.nodes[$0].shape })
      if inferred != n.shape { throw fail("stored shape \(n.shape.shapeText) but the rule gives \(inferred.shapeText)") }
    }
    var outNames = Set<String>()
    for (name, id) in g.outputs {
      if id < 0 || id >= g.nodes.count { throw GraphError(op: "output", message: "'\(name)' refers to missing node %\(id)") }
      if !outNames.insert(name).inserted { throw GraphError(op: "output", message: "duplicate output name '\(name)'") }
    }
  }
}

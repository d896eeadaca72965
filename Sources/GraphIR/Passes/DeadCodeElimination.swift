/// Removes nodes that no output depends on. Inputs are always kept, so a graph's input
/// signature (what a caller must bind) does not change under optimization.
public struct DeadCodeElimination: GraphPass {
  public var name: String { "dce" }
  public init() {}
  public func run(_ graph: Graph) -> Graph {
    var live = [Bool](repeating: false, count: graph.nodes.count)
    for (_, id) in graph.outputs { live[id] = true }
    for i in stride(from: graph.nodes.count - 1, through: 0, by: -1) {
      if case .input = graph.nodes[i].op { live[i] = true }
      if live[i] { for j in graph.nodes[i].inputs { live[j] = true } }
    }
    var r = GraphRebuilder(graph)
    return r.rebuild { r, i, inputs in live[i] ? r.copy(i, inputs) : -1 }
  }
}

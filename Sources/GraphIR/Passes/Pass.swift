/// Graph passes: named Graph -> Graph rewrites. The pipeline records the op count before and
/// after each pass (and, at `ILOC_DEBUG=3`, dumps the graph after each one), so "what did
/// this pass do?" always has an answer.
public protocol GraphPass {
  /// A short name shown in logs and dumps, e.g. "cse".
  var name: String { get }
  func run(_ graph: Graph) -> Graph
}

/// What one pass did to the graph.
public struct PassRecord: Sendable, CustomStringConvertible {
  public var pass: String
  public var nodesBefore: Int
  public var nodesAfter: Int
  public var opsBefore: [String: Int]
  public var opsAfter: [String: Int]
  public var description: String { "\(pass): \(nodesBefore) -> \(nodesAfter) nodes" }
}

/// An ordered list of passes, run to a fixed point or once.
public struct PassPipeline {
  public var passes: [GraphPass]
  /// Called after each pass with its record and the resulting graph (for dumps).
  public var observer: ((PassRecord, Graph) -> Void)?

  public init(_ passes: [GraphPass], observer: ((PassRecord, Graph) -> Void)? = nil) {
    self.passes = passes; self.observer = observer
  }

  /// The default pipeline used on every graph before compilation: cleanup, and the
  /// convolution-scale rewrites of `forward` (which matter most before differentiation, see
  /// `differentiate`, but also make forward-only programs cheaper), and transposed
  /// convolutions as ordinary ones (strided ones split into stride-1 phases).
  public static var standard: PassPipeline {
    PassPipeline([ConstantFolding(), AlgebraicSimplification(), ScaleFactoring(), SquareSumFactoring(),
                  TransposedConvPhases(), CommonSubexpressionElimination(), DeadCodeElimination()])
  }

  /// Runs every pass in order, repeating the whole list until the node count stops falling
  /// (at most `maxRounds` times). Returns the final graph and one record per pass run.
  public func run(_ graph: Graph, maxRounds: Int = 4) throws -> (Graph, [PassRecord]) {
    try graph.check()
    var g = graph
    var records: [PassRecord] = []
    for _ in 0..<maxRounds {
      let start = g.nodes.count
      var changed = false
      for p in passes {
        let before = g.nodes.count, opsBefore = g.opCounts
        let out = p.run(g)
        try out.check()
        let r = PassRecord(pass: p.name, nodesBefore: before, nodesAfter: out.nodes.count, opsBefore: opsBefore, opsAfter: out.opCounts)
        if out.nodes != g.nodes { changed = true }
        records.append(r)
        observer?(r, out)
        g = out
      }
      if !changed || g.nodes.count >= start && !changed { break }
    }
    return (g, records)
  }
}

/// Rebuilds a graph node by node through a rewrite function; the shared skeleton of every pass.
struct GraphRebuilder {
  let source: Graph
  let target: Graph
  /// Old node id -> new node id.
  var map: [Int]

  init(_ source: Graph) {
    self.source = source
    self.target = Graph(source.name)
    self.map = [Int](repeating: -1, count: source.nodes.count)
  }

  /// Rebuilds every node with `rewrite(oldId, newInputIds) -> newId`, then the outputs.
  mutating func rebuild(_ rewrite: (inout GraphRebuilder, Int, [Int]) -> Int) -> Graph {
    for i in source.nodes.indices {
      let inputs = source.nodes[i].inputs.map { map[$0] }
      if inputs.contains(-1) { continue }  // a dropped (dead) input: this node is dead too
      map[i] = rewrite(&self, i, inputs)
    }
    for (name, id) in source.outputs { target.outputs.append((name, map[id])) }
    return target
  }

  /// Copies node `i` with new inputs.
  func copy(_ i: Int, _ inputs: [Int]) -> Int { target.addNode(source.nodes[i].op, inputs) }
}

/// The factors of a product tree: the leaves under `root` of the `mul` nodes of `root`'s shape,
/// each with its source, the value it broadcasts when it is a same-rank broadcast (so the
/// source's unit axes tell along which axes the factor varies). Used by the rewrites that
/// move factors of a product elsewhere.
func productFactors(_ g: Graph, _ root: Int) -> [(node: Int, source: Int)] {
  let shape = g.nodes[root].shape
  var factors: [(node: Int, source: Int)] = [], stack = [root]
  while let f = stack.popLast() {
    if case .binary(.mul) = g.nodes[f].op, g.nodes[f].shape == shape { stack += g.nodes[f].inputs; continue }
    var src = f
    if case .broadcast = g.nodes[f].op, g.nodes[g.nodes[f].inputs[0]].shape.count == shape.count { src = g.nodes[f].inputs[0] }
    factors.append((f, src))
  }
  return factors
}

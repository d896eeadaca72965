import ArgumentParser
import GraphIR

/// `iloc graph`: builds a named example graph, prints it, its gradient graph, and what each
/// optimization pass did to the op counts.
struct GraphCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "graph",
    abstract: "Print an example graph, its gradient graph, and the op counts before/after each pass.",
    discussion: """
      Examples: \(ExampleGraphs.names.joined(separator: ", ")).
        iloc graph styled-conv
        iloc graph geocross --no-print-graphs
      ILOC_DEBUG=3 also dumps the graph after every pass.
      """
  )

  @Argument(help: "Example name (\(ExampleGraphs.names.joined(separator: ", "))).")
  var example: String = "styled-conv"

  @Flag(inversion: .prefixedNo, help: "Print the forward and gradient graphs in full.")
  var printGraphs = true

  func validate() throws {
    guard ExampleGraphs.names.contains(example) else {
      throw ValidationError("unknown example '\(example)'; choose one of: \(ExampleGraphs.names.joined(separator: ", "))")
    }
  }

  func run() throws {
    let (graph, loss, wrt) = ExampleGraphs.build(example)!
    try graph.check()
    if printGraphs { print("== forward graph\n\(graph)\n") }
    let dump = DebugLevel.current >= 3
    if graph.output(named: "loss") == nil { graph.output("loss", loss) }
    // the forward rewrites that run before differentiation
    let forwardPasses = PassPipeline(PassPipeline.forward.passes) { record, g in
      if dump { print("-- forward, after \(record.pass):\n\(g)\n") }
    }
    let (forward, forwardRecords) = try forwardPasses.run(graph)
    print("== passes on the forward graph (before differentiation)")
    print(OpCountTable(records: forwardRecords, start: graph, end: forward).render())
    let grad = try differentiate(graph, loss: "loss", wrt: wrt.map { $0.inputName! })
    if printGraphs { print("== gradient graph (forward + backward, after dead-code elimination)\n\(grad)\n") }
    let pipeline = PassPipeline(PassPipeline.standard.passes) { record, g in
      if dump { print("-- after \(record.pass):\n\(g)\n") }
    }
    let (optimized, records) = try pipeline.run(grad)
    print("== passes on the gradient graph")
    print(OpCountTable(records: records, start: grad, end: optimized).render())
  }
}

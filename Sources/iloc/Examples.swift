import GraphIR
import Runtime

/// A runnable example for `iloc profile` and `iloc bench`: a graph and random inputs.
struct ExampleProblem {
  var graph: Graph
  var feed: [String: [Float]]
  /// What the example is (model, weights, loss), printed by `bench` and `profile`.
  var note: String = ""
  /// Inputs bound once (weights): work on them alone is hoisted out of every step, as in the
  /// stage programs of an inversion.
  var staticInputs: Set<String> = []

  /// Program options for this example.
  var options: ProgramOptions {
    var o = ProgramOptions()
    o.staticInputs = staticInputs
    return o
  }
}

/// The named examples: the GraphIR examples as forward+backward graphs (what an inversion
/// step runs), plus model-sized ones.
enum ExampleCatalog {
  static var names: [String] { ExampleGraphs.names + ModelExamples.names }

  static func make(_ name: String, seed: UInt64 = 0) throws -> ExampleProblem {
    if let model = try ModelExamples.make(name, seed: seed) { return model }
    guard let (graph, loss, wrt) = ExampleGraphs.build(name) else {
      throw ValidationFailure("unknown example '\(name)'; choose one of: \(names.joined(separator: ", "))")
    }
    if graph.output(named: "loss") == nil { graph.output("loss", loss) }
    let grad = try differentiate(graph, loss: "loss", wrt: wrt.map { $0.inputName! })
    return ExampleProblem(graph: grad, feed: randomFeed(grad, seed: seed))
  }

  /// Normal(0, 0.5) values for every input, seeded.
  static func randomFeed(_ g: Graph, seed: UInt64) -> [String: [Float]] {
    var rng = SplitMix64(seed: seed)
    var feed: [String: [Float]] = [:]
    for i in g.inputs { feed[i.name] = rng.normals(g.nodes[i.id].shape.elementCount).map { Float($0 * 0.5) } }
    return feed
  }
}

/// A user-facing failure: printed as one line, exit code 1.
struct ValidationFailure: Error, CustomStringConvertible {
  var description: String
  init(_ s: String) { description = s }
}

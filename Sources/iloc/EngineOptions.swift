import ArgumentParser
import Foundation
import GraphIR
import Runtime

extension Engine: ExpressibleByArgument {}

/// `--engine` and `--validate`, shared by every command that runs a graph.
struct EngineOptions: ParsableArguments {
  @Option(help: "Execution engine: jit (compiled) or interp (reference interpreter).")
  var engine: Engine = .jit

  @Flag(help: "Run both engines on the same inputs and report the largest relative difference per output.")
  var validate = false
}

/// Runs `graph` on both engines with `feed` and returns (output, max |a-b| / max |interp|).
func validateEngines(_ graph: Graph, feed: [String: [Float]]) throws -> [(String, Double)] {
  let jit = try makeExecutable(graph, engine: .jit), ref = try makeExecutable(graph, engine: .interp)
  for (k, v) in feed { try jit.setInput(k, v); try ref.setInput(k, v) }
  try jit.run(); try ref.run()
  return try graph.outputs.map { o in
    let a = try jit.output(o.name).converted(to: Double.self), b = try ref.output(o.name).converted(to: Double.self)
    return (o.name, Double(a.maxRelativeDifference(to: b)))
  }
}

func printValidation(_ rows: [(String, Double)]) {
  print("validate: largest relative difference, jit vs interp, per output")
  for (name, d) in rows { print("  " + name.padded(32) + String(format: " %.3e", d)) }
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
  let t0 = DispatchTime.now().uptimeNanoseconds
  try body()
  return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
}

import ArgumentParser
import Foundation
import GraphIR
import Runtime

/// `iloc profile`: where the time goes, kernel by kernel.
struct ProfileCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "profile",
    abstract: "Run an example's forward+backward graph and print a per-kernel time table (also written as JSON and CSV).",
    discussion: """
      Examples: \(ExampleCatalog.names.joined(separator: ", ")).
        iloc profile styled-conv --runs 20
        iloc profile conv-relu --out /tmp/prof --validate
      Columns: kernel, kind (kernel/gemm/builtin), graph ops computed by the step, calls, total ms,
      share of the run, GFLOP/s and GB/s from static FLOP and byte counts.
      """
  )

  @Argument(help: "Example name.") var example: String
  @Option(help: "Timed runs (after one warm-up run).") var runs = 10
  @Option(help: "Directory for profile-<example>.json and .csv.") var out = "."
  @OptionGroup var engineOptions: EngineOptions

  func run() throws {
    let problem = try ExampleCatalog.make(example)
    if engineOptions.validate { printValidation(try validateEngines(problem.graph, feed: problem.feed)) }
    guard engineOptions.engine == .jit else {
      let exe = try makeExecutable(problem.graph, engine: .interp)
      for (k, v) in problem.feed { try exe.setInput(k, v) }
      let t = try seconds { try exe.run() }
      print(String(format: "interp: %.3f ms per run (the interpreter has no per-kernel profile)", t * 1e3))
      return
    }
    let program = try Program(problem.graph, options: problem.options)
    if DebugLevel.current < 1 { print(program.stats) }
    for (k, v) in problem.feed { try program.setInput(k, v) }
    try program.run()
    program.resetProfile()
    for _ in 0..<runs { try program.run() }
    let report = program.profileReport()
    print(report.table())
    let dir = URL(fileURLWithPath: out, isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let json = dir.appendingPathComponent("profile-\(example).json"), csv = dir.appendingPathComponent("profile-\(example).csv")
    try report.json().write(to: json)
    try report.csv().write(to: csv, atomically: true, encoding: .utf8)
    print("wrote \(json.path) and \(csv.path)")
  }
}

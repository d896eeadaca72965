import ArgumentParser
import Foundation
import GraphIR
import Runtime

/// `iloc bench`: compiled vs interpreted speed of an example, side by side in one run.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Time an example's forward+backward step on both engines and report speedup, GFLOP/s and the fraction of sgemm peak.",
    discussion: """
      The sgemm peak is measured in the same run (OpenBLAS, same thread count). Build with -c release.
        iloc bench styled-conv --runs 20
      """
  )

  @Argument(help: "Example name.") var example: String
  @Option(help: "Timed runs of the compiled engine.") var runs = 10
  @Option(help: "Timed runs of the interpreter (0 to skip it).") var interpRuns = 1
  @Flag(help: "Also compare outputs of both engines.") var validate = false

  func run() throws {
    let problem = try ExampleCatalog.make(example)
    let peak = SgemmPeak.measure()
    let compileTime = DispatchTime.now().uptimeNanoseconds
    let program = try Program(problem.graph)
    let compileMs = Double(DispatchTime.now().uptimeNanoseconds - compileTime) / 1e6
    for (k, v) in problem.feed { try program.setInput(k, v) }
    try program.run()
    var times: [Double] = []
    for _ in 0..<runs { times.append(try seconds { try program.run() }) }
    times.sort()
    let jit = times[times.count / 2]
    let flops = program.flopsPerRun
    if DebugLevel.current < 1 { print(program.stats) }
    print(String(format: "sgemm peak (this run, %d threads): %.1f GFLOP/s", Parallel.threads, peak))
    print(String(format: "jit:    %9.3f ms/step (median of %d, best %.3f)  %.1f GFLOP/s  %.0f%% of sgemm peak  compile %.0f ms",
                 jit * 1e3, runs, times[0] * 1e3, flops / jit / 1e9, 100 * flops / jit / 1e9 / peak, compileMs))
    if interpRuns > 0 {
      let exe = try makeExecutable(problem.graph, engine: .interp)
      for (k, v) in problem.feed { try exe.setInput(k, v) }
      var it: [Double] = []
      for _ in 0..<interpRuns { it.append(try seconds { try exe.run() }) }
      let interp = it.sorted()[it.count / 2]
      print(String(format: "interp: %9.3f ms/step  -> jit speedup %.1fx", interp * 1e3, interp / jit))
    }
    if validate { printValidation(try validateEngines(problem.graph, feed: problem.feed)) }
  }
}

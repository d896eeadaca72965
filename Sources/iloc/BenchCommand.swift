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
        iloc bench stylegan2-64 --runs 5 --interp-runs 0
        iloc bench fma-peak      (the host's FMA throughput, from a generated register-only kernel)
        iloc bench gemm --shapes 64x4096x576   (OpenBLAS vs the own GEMM kernels of each ISA)
      Examples: \(ExampleCatalog.names.joined(separator: ", ")).
      "executed" FLOPs are what the compiled steps compute (a Winograd convolution counts its
      smaller products); "nominal" FLOPs are the graph's direct-form products (2 per multiply-add of
      every convolution and matrix product, as PyTorch's FlopCounterMode counts them), the same for
      every engine, so nominal GFLOP/s compare engines. The last line (`result:`) is for scripts.
      """
  )

  @Argument(help: "Example name.") var example: String
  @Option(help: "Timed runs of the compiled engine.") var runs = 10
  @Option(help: "Timed runs of the interpreter (0 to skip it).") var interpRuns = 1
  @Flag(help: "Also compare outputs of both engines.") var validate = false
  @Option(help: "For `iloc bench gemm`: shapes like 64x4096x576,TN:576x4096x64 (default: StyleGAN2's).") var shapes: String?

  func run() throws {
    if example == "fma-peak" { return try GEMMBench.fmaPeak() }
    if example == "gemm" { return try GEMMBench.gemm(shapes: shapes, runs: runs) }
    let problem = try ExampleCatalog.make(example)
    if !problem.note.isEmpty { print(problem.note) }
    let nominal = nominalFlops(problem.graph)
    let peak = SgemmPeak.measure()
    let compileTime = DispatchTime.now().uptimeNanoseconds
    let program = try Program(problem.graph, options: problem.options)
    let compileMs = Double(DispatchTime.now().uptimeNanoseconds - compileTime) / 1e6
    for (k, v) in problem.feed { try program.setInput(k, v) }
    try program.run()
    printOutputSummary(program)
    var times: [Double] = [], cpu: [Double] = []
    for _ in 0..<runs {
      let c0 = processCPUSeconds()
      times.append(try seconds { try program.run() })
      cpu.append(processCPUSeconds() - c0)
    }
    times.sort()
    cpu.sort()
    let rssAfterJit = ProcessMemory.peakResidentBytes()
    let jit = times[times.count / 2]
    let flops = program.flopsPerRun
    if DebugLevel.current < 1 { print(program.stats) }
    print(String(format: "sgemm peak (this run, %d threads): %.1f GFLOP/s", Parallel.threads, peak))
    print(String(format: "jit:    %9.3f ms/step (median of %d, best %.3f)  executed %.2f GFLOP/step: %.1f GFLOP/s  %.0f%% of sgemm peak  compile %.0f ms",
                 jit * 1e3, runs, times[0] * 1e3, flops / 1e9, flops / jit / 1e9, 100 * flops / jit / 1e9 / peak, compileMs))
    print(String(format: "        nominal %.2f GFLOP/step: %.1f GFLOP/s  %.0f%% of sgemm peak", nominal / 1e9, nominal / jit / 1e9,
                 100 * nominal / jit / 1e9 / peak))
    print(String(format: "        cpu %.3f ms/step (median of %d, process CPU time of all threads: not inflated by other jobs)",
                 cpu[cpu.count / 2] * 1e3, runs))
    var interp = 0.0
    if interpRuns > 0 {
      let exe = try makeExecutable(problem.graph, engine: .interp)
      for (k, v) in problem.feed { try exe.setInput(k, v) }
      var it: [Double] = []
      for _ in 0..<interpRuns { it.append(try seconds { try exe.run() }) }
      interp = it.sorted()[it.count / 2]
      print(String(format: "interp: %9.3f ms/step (median of %d)  nominal %.2f GFLOP/s  -> jit speedup %.1fx",
                   interp * 1e3, interpRuns, nominal / interp / 1e9, interp / jit))
    }
    print(memoryLine(program.stats, peakRSS: rssAfterJit, when: "after the jit runs"))
    // arena_mb: arena + scratch; plan_mb: the memory plan's arena alone; rss_mb: VmHWM after the jit runs
    print(String(format: "result: example=%@ threads=%d peak_gflops=%.2f jit_ms_median=%.3f jit_ms_best=%.3f executed_gflop=%.4f nominal_gflop=%.4f compile_ms=%.0f arena_mb=%.1f plan_mb=%.1f rss_mb=%.0f interp_ms=%.1f cpu_ms_median=%.3f",
                 example, Parallel.threads, peak, jit * 1e3, times[0] * 1e3, flops / 1e9, nominal / 1e9, compileMs,
                 Double(program.stats.allocatedBytes) / 1e6, Double(program.stats.arenaBytes) / 1e6,
                 Double(rssAfterJit ?? 0) / 1048576, interp * 1e3, cpu[cpu.count / 2] * 1e3))
    if validate { printValidation(try validateEngines(problem.graph, feed: problem.feed)) }
    if interpRuns > 0 || validate {
      print("peak RSS (VmHWM) at the end, interpreter included: "
            + (ProcessMemory.peakResidentBytes().map { String(format: "%.0f MB", Double($0) / 1048576) } ?? "unknown"))
    }
  }
}

/// The graph's direct-form FLOPs: 2 per multiply-add of every convolution (any form) and matrix
/// product; elementwise work is not counted (as in PyTorch's FlopCounterMode).
func nominalFlops(_ g: Graph) -> Double {
  var total = 0.0
  for n in g.nodes {
    let shapes = n.inputs.map { g.nodes[$0].shape }
    switch n.op {
    case .matmul:  // [.., m, k] x [.., k, n]: 2·|y|·k
      total += 2 * Double(n.shape.elementCount) * Double(shapes[0][shapes[0].count - 1])
    case .conv2d:  // weight [O, C/g, kh, kw]: 2·|y|·(C/g)·kh·kw
      total += 2 * Double(n.shape.elementCount) * Double(shapes[1][1] * shapes[1][2] * shapes[1][3])
    case .convTranspose2d:  // weight [Cin, Cout/g, kh, kw]: 2·|x|·(Cout/g)·kh·kw
      total += 2 * Double(shapes[0].elementCount) * Double(shapes[1][1] * shapes[1][2] * shapes[1][3])
    case .conv2dWeightGrad:  // inputs (x, gy): 2·|dW|·N·Ho·Wo
      let gy = shapes[1]
      total += 2 * Double(n.shape.elementCount) * Double(gy[0] * gy[2] * gy[3])
    default: break
    }
  }
  return total
}

/// The program's memory (arena from the memory plan, scratch) and the process's peak RSS.
func memoryLine(_ stats: ProgramStats, peakRSS: Int?, when: String) -> String {
  let rss = peakRSS.map { String(format: "%.0f MB", Double($0) / 1048576) } ?? "unknown (no /proc/self/status)"
  return String(format: "memory: arena %.1f MB (memory plan, %.1f MB without reuse) + scratch %.1f MB; ", Double(stats.arenaBytes) / 1e6,
                Double(stats.unsharedBytes) / 1e6, Double(stats.scratchBytes) / 1e6) + "peak RSS (VmHWM) \(when): \(rss)"
}

/// One line per output of a program after a run: shape, mean, std, largest magnitude and
/// whether every value is finite (a sanity check of random-weight examples).
func printOutputSummary(_ program: Program) {
  for name in program.outputNames {
    guard let t = try? program.output(name) else { continue }
    let v = t.values.map(Double.init)
    let n = Double(Swift.max(v.count, 1))
    let mean = v.reduce(0, +) / n
    let std = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
    let finite = v.allSatisfy(\.isFinite)
    print("  output " + name.padded(16) + " " + t.shape.shapeText.padded(18)
          + String(format: " mean %+.4e  std %.4e  max|.| %.4e  %@", mean, std, v.map(Swift.abs).max() ?? 0, finite ? "finite" : "NOT FINITE"))
  }
}

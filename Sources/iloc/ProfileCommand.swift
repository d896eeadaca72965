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
      share of the run, GFLOP/s and GB/s from static FLOP and byte counts. A second table sums the
      steps by category (Winograd / im2col GEMM convolutions, transposed convolutions, direct
      convolution kernels such as the blur, reductions, other fused kernels, builtins).
      """
  )

  @Argument(help: "Example name.") var example: String
  @Option(help: "Timed runs (after one warm-up run).") var runs = 10
  @Option(help: "Directory for profile-<example>.json and .csv.") var out = "."
  @OptionGroup var engineOptions: EngineOptions

  func run() throws {
    let problem = try ExampleCatalog.make(example)
    if !problem.note.isEmpty { print(problem.note) }
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
    let report = program.profileReport(fmaPeak: FMAPeak.forProfile())
    print(report.table())
    print(categoryTable(report))
    let dir = URL(fileURLWithPath: out, isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let json = dir.appendingPathComponent("profile-\(example).json"), csv = dir.appendingPathComponent("profile-\(example).csv")
    try report.json().write(to: json)
    try report.csv().write(to: csv, atomically: true, encoding: .utf8)
    print("wrote \(json.path) and \(csv.path)")
  }
}

/// The category of a profiled step, from its kind and label.
func profileCategory(_ r: ProfileRow) -> String {
  switch r.kind {
  case "gemm":
    if r.kernel.contains("winograd") { return r.kernel.hasPrefix("conv_transpose2d") ? "winograd conv_transpose2d" : "winograd conv2d" }
    if r.kernel.hasPrefix("conv_transpose2d") { return "gemm conv_transpose2d (col2im)" }
    if r.kernel.hasPrefix("conv2d_weight_grad") { return "gemm conv2d_weight_grad" }
    if r.kernel.hasPrefix("conv2d") { return "gemm conv2d (im2col)" }
    return "gemm matmul"
  case "kernel":
    for op in ["conv2d_weight_grad", "conv_transpose2d", "conv2d", "matmul", "max_pool2d"] where r.kernel.hasSuffix("_" + op) {
      return "direct kernel " + op
    }
    if r.kernel.contains("_reduce_") { return "reduction kernel" }
    return "elementwise/fused kernel"
  default: return r.kind
  }
}

/// Time by category, largest first.
func categoryTable(_ report: ProfileReport) -> String {
  var ms: [String: Double] = [:], steps: [String: Int] = [:], flops: [String: Double] = [:]
  for r in report.rows {
    let c = profileCategory(r)
    ms[c, default: 0] += r.milliseconds; steps[c, default: 0] += 1; flops[c, default: 0] += r.flopsPerCall * Double(r.calls)
  }
  let total = ms.values.reduce(0, +), runs = Double(Swift.max(report.runs, 1))
  var lines = ["by category".padded(36) + "steps".leftPadded(7) + "ms/run".leftPadded(11) + "%".leftPadded(7) + "GFLOP/s".leftPadded(10)]
  lines.append(String(repeating: "-", count: lines[0].count))
  for (c, t) in ms.sorted(by: { $0.value > $1.value }) {
    lines.append(c.padded(36) + String(format: "%7d %10.3f %6.1f %9.2f", steps[c]!, t / runs, total > 0 ? 100 * t / total : 0,
                                       t > 0 ? flops[c]! / (t / 1e3) / 1e9 : 0))
  }
  return lines.joined(separator: "\n")
}

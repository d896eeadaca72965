import ArgumentParser
import Foundation
import GraphIR
import ILO
import Inversion
import Runtime

/// `iloc profile`: where the time goes, kernel by kernel, for a named example or for one round
/// of an inversion set up with `iloc invert`'s flags.
struct ProfileCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "profile",
    abstract: "Run an example's or an inversion round's forward+backward program and print a per-kernel time table (also written as JSON and CSV).",
    discussion: """
      Examples: \(ExampleCatalog.names.joined(separator: ", ")).
        iloc profile styled-conv --runs 20
        iloc profile conv-relu --out /tmp/prof --validate
        iloc profile --model dcgan --task inpaint --mask box:16,16,24,24 --round 1
        iloc profile --model G.pt --task superres --factor 4 --lpips 1 --lpips-backbone vgg16.pth --round 0

      With --task instead of an example, the stage program of round --round is built exactly as `iloc invert` builds it from the same flags (model, task and operator flags, loss weights, --compat ...) and run at the inputs that round starts from (the seeded initial latents, and the state the earlier rounds hand on when they keep their start). --observed is optional: without it a seeded random image is measured by the task's operator.

      Columns: kernel, kind (kernel/gemm/builtin), graph ops computed by the step, calls, total ms, share of the run, GFLOP/s and GB/s from static FLOP and byte counts. A second table sums the steps by category (Winograd / im2col GEMM convolutions, transposed convolutions, direct convolution kernels such as the blur, reductions, other fused kernels, builtins). The memory line gives the program's arena (the memory plan's size) and scratch, and the process's peak RSS.
      """
  )

  @Argument(help: "Example name (omit it and give --task to profile an inversion round).") var example: String?
  @Option(help: "Timed runs (after one warm-up run).") var runs = 10
  @Option(help: "Directory for profile-<name>.json and .csv.") var out = "."
  @OptionGroup var engineOptions: EngineOptions
  @Option(help: "Inversion round to profile (0 = the first; with --task).") var round = 0
  @Option(help: "Task, as for `iloc invert` (profiles an inversion round instead of an example).") var task: Task?
  @Option(help: "Generator, as for `iloc invert` (with --task).") var model = "dcgan"
  @Option(help: "The observation, as for `iloc invert` (optional: a seeded random image, measured).") var observed: String?
  @OptionGroup var operatorOptions: OperatorOptions
  @OptionGroup var inversion: InversionOptions

  func run() throws {
    let name: String, program: Program
    if let task {
      guard example == nil else { throw ValidationFailure("give an example name or --task, not both") }
      guard engineOptions.engine == .jit else { throw ValidationFailure("profiling an inversion round needs --engine jit") }
      (name, program) = try profileRound(task)
    } else {
      guard let example else { throw ValidationFailure("give an example name or --task (see `iloc profile --help`)") }
      guard let p = try profileExample(example) else { return }
      (name, program) = (example, p)
    }
    let report = program.profileReport(fmaPeak: FMAPeak.forProfile())
    print(report.table())
    print(categoryTable(report))
    print(memoryLine(program.stats, peakRSS: ProcessMemory.peakResidentBytes(), when: "at the end"))
    if DebugLevel.current >= 3 { printSlowestKernels(report, program) }
    let dir = URL(fileURLWithPath: out, isDirectory: true)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let json = dir.appendingPathComponent("profile-\(name).json"), csv = dir.appendingPathComponent("profile-\(name).csv")
    try report.json().write(to: json)
    try report.csv().write(to: csv, atomically: true, encoding: .utf8)
    print("wrote \(json.path) and \(csv.path)")
  }

  /// `ILOC_DEBUG=3`: the loop IR of the ten slowest kernel steps.
  func printSlowestKernels(_ report: ProfileReport, _ program: Program) {
    for row in report.rows.filter({ $0.kind == "kernel" }).sorted(by: { $0.milliseconds > $1.milliseconds }).prefix(10) {
      guard let text = program.kernelText(ofStep: row.step) else { continue }
      print(String(format: "step %d, %@: %.3f ms per call, %.1f GB/s", row.step, row.kernel,
                   row.milliseconds / Double(max(row.calls, 1)), row.gbPerSecond))
      print(text)
    }
  }

  /// A named example, profiled (nil after an interpreter run, which has no per-step timing).
  func profileExample(_ example: String) throws -> Program? {
    let problem = try ExampleCatalog.make(example)
    if !problem.note.isEmpty { print(problem.note) }
    if engineOptions.validate { printValidation(try validateEngines(problem.graph, feed: problem.feed)) }
    guard engineOptions.engine == .jit else {
      let exe = try makeExecutable(problem.graph, engine: .interp)
      for (k, v) in problem.feed { try exe.setInput(k, v) }
      let t = try seconds { try exe.run() }
      print(String(format: "interp: %.3f ms per run (the interpreter has no per-kernel profile)", t * 1e3))
      return nil
    }
    let program = try Program(problem.graph, options: problem.options)
    if DebugLevel.current < 1 { print(program.stats) }
    for (k, v) in problem.feed { try program.setInput(k, v) }
    try program.run()
    program.resetProfile()
    for _ in 0..<runs { try program.run() }
    return program
  }

  /// Round `round` of the inversion that `iloc invert` would run with these flags, profiled:
  /// the name for the output files and the program.
  func profileRound(_ task: Task) throws -> (String, Program) {
    let generator = try loadGenerator(model, fitSamples: inversion.fitSamples, proxy: try inversion.givenLatentProxy(),
                                      classIndex: inversion.classIndex)
    let size = generator.imageSize
    let settings = try inversion.settings(task: task, maxRounds: generator.maxRounds)
    try settings.validate(maxRounds: generator.maxRounds)
    let roundCount = settings.method == .ilo ? settings.rounds.count : 1
    guard round >= 0, round < roundCount else {
      throw ValidationFailure("--round \(round): this inversion runs rounds 0...\(roundCount - 1) of \(generator.description) "
                              + "(one per --steps value, at most \(generator.maxRounds))")
    }
    var taskOptions = try TaskOptions.parse(["--task", task.rawValue])
    taskOptions.operatorOptions = operatorOptions
    let (op, observation) = try profileObservation(taskOptions, size: size, compatReference: settings.compatReference)
    let perceptual = try loadPerceptualLoss(inversion.lpipsBackbone)
    let problem = InversionProblem(generator: generator, forward: op, observation: observation, mask: op as? InpaintMask,
                                   perceptual: perceptual)
    let values = try StageProfile.startValues(problem: problem, round: round, settings: settings)
    let stage = try StageProgram(problem: problem, round: round, settings: settings, engine: .jit)
    print("\(generator.description), task \(task.rawValue), round \(round) (0-based): variables "
          + stage.variables.map(\.name).joined(separator: ", ") + "; loss weights mse \(stage.weights.mse), lpips "
          + "\(stage.weights.perceptual), geocross \(stage.weights.geoCross), dead-zone \(stage.weights.deadZone)")
    if let s = stage.stats { print(s) }
    _ = try StageProfile.profile(stage, values: values, noise: op as? NoiseAddition, runs: runs)
    return ("\(task.rawValue)-round\(round)", stage.executable as! Program)
  }

  /// The operator and observation: `--observed` read as `iloc invert` reads it, or a seeded
  /// random image in [-1, 1] measured by the operator.
  func profileObservation(_ taskOptions: TaskOptions, size: Int, compatReference: Bool) throws
    -> (any ForwardOperator, HostTensor<Float>)
  {
    if let observed {
      return try makeObservation(observed, taskOptions: taskOptions, size: size, compatReference: compatReference)
    }
    var rng = SplitMix64(seed: inversion.seed)
    let x = HostTensor(shape: [1, 3, size, size], values: (0..<3 * size * size).map { _ in Float(2 * rng.uniform() - 1) })
    let op = try taskOptions.makeOperator(size: size, observation: x, compatReference: compatReference)
    return (op, try applyOperator(op, to: x))
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
  if let line = gemmShareLine(report) { lines.append(line) }
  return lines.joined(separator: "\n")
}

/// How much of the GEMM steps' time the GEMM calls themselves take, and their rate against the
/// FMA peak (the rest: im2col / col2im gathers and Winograd transforms).
func gemmShareLine(_ report: ProfileReport) -> String? {
  let rows = report.rows.filter { $0.gemmMilliseconds != nil }
  guard !rows.isEmpty else { return nil }
  let stepMs = rows.reduce(0) { $0 + $1.milliseconds }, gemmMs = rows.reduce(0) { $0 + $1.gemmMilliseconds! }
  let flops = rows.reduce(0) { $0 + $1.flopsPerCall * Double($1.calls) }
  let rate = flops / (gemmMs / 1e3) / 1e9, whole = flops / (stepMs / 1e3) / 1e9
  let runs = Double(Swift.max(report.runs, 1))
  var line = String(format: "inside the GEMM calls: %.3f of the GEMM steps' %.3f ms/run (%.0f %%), %.2f GFLOP/s",
                    gemmMs / runs, stepMs / runs, 100 * gemmMs / stepMs, rate)
  if let peak = report.fmaPeakGFLOPS { line += String(format: " = %.1f %% of the FMA peak", 100 * rate / peak) }
  line += String(format: "; the GEMM steps whole (gathers and transforms counted): %.2f GFLOP/s", whole)
  if let peak = report.fmaPeakGFLOPS { line += String(format: " = %.1f %%", 100 * whole / peak) }
  return line
}

import Codegen
import Foundation
import GraphIR
import Inversion
import Models
import Runtime

/// Measures how long ILO's stage programs take to build: a StyleGAN2 (channel multiplier 2)
/// with seeded random weights, inpainting with a box mask, MSE + GeoCross (the default loss),
/// each round built in turn in one process as an inversion does. Three passes per thread
/// count: *cold* (empty object cache, new JIT), *warm* (a new JIT loading every object from
/// that cache, as a second process would) and *reused* (the same round built again in the
/// process that compiled it). `iloc bench-compile` prints the rows; weights are random
/// because no trained checkpoint can be downloaded here (the kernels do not depend on them).
public enum StageCompileBench {
  /// One build of one round's stage program.
  public struct Row: Sendable {
    public var size: Int
    public var round: Int
    public var threads: Int
    /// "cold", "warm" or "reused".
    public var pass: String
    /// Building the forward + loss graph and differentiating it.
    public var graphMilliseconds: Double
    /// `Program` construction (passes, planning, lowering, compile, memory), the compile phase
    /// alone, and the phase breakdown.
    public var programMilliseconds: Double
    public var times: ProgramBuildTimes
    /// Kernel steps' kernels requested, distinct by full text (names included: what was
    /// compiled before kernels were canonicalized), distinct canonical kernels (what is compiled
    /// now) and distinct canonical kernels when integer constants are ignored (an upper bound
    /// on what parameterizing sizes could still share).
    public var requested: Int
    public var distinctNamed: Int
    public var distinctCanonical: Int
    public var distinctShapeFree: Int
  }

  /// A random-weight StyleGAN2 of `size` pixels (state dict keys and shapes as in the
  /// reference port's checkpoints), with a standard normal latent proxy.
  public static func randomGenerator(size: Int, seed: UInt64) throws -> StyleGAN2Generator {
    let checkpoint = try StyleGAN2Checkpoint(stateDict: try randomStateDict(size: size, seed: seed))
    let d = checkpoint.config.styleDim
    let proxy = LatentProxy(mean: [Float](repeating: 0, count: d), std: [Float](repeating: 1, count: d))
    return StyleGAN2Generator(checkpoint: checkpoint, proxy: proxy)
  }

  /// Every generator tensor (mapping and synthesis) drawn N(0, 1), except modulation biases
  /// N(1, 0.2) and other biases and noise strengths N(0, 0.1), plus the latent proxy.
  public static func randomStateDict(size: Int, seed: UInt64) throws -> StateDict {
    let config = try StyleGAN2Config(size: size, channelMultiplier: 2)
    let shapes = try StyleGAN2(config: config).generatorGraph(batch: 1).weights.shapes
    var rng = SplitMix64(seed: seed)
    var tensors: [String: TensorData] = [:]
    for key in shapes.keys.sorted() {
      let shape = shapes[key]!
      let (mean, std): (Float, Float) = key.hasSuffix("modulation.bias") ? (1, 0.2)
        : key.hasSuffix(".bias") || key.hasSuffix("noise.weight") ? (0, 0.1) : (0, 1)
      let values = SeededStreams.normals(shape.elementCount, &rng).map { mean + std * $0 }
      tensors[key] = TensorData(shape: shape, values: values)
    }
    let d = config.styleDim
    tensors[LatentProxy.meanKey] = TensorData(shape: [d], values: [Float](repeating: 0, count: d))
    tensors[LatentProxy.stdKey] = TensorData(shape: [d], values: [Float](repeating: 1, count: d))
    return StateDict(source: "random StyleGAN2 \(size)x\(size) (seed \(seed))", tensors: tensors)
  }

  /// Inpainting of a random observation with a centred box of a quarter of the side missing.
  public static func inpaintingProblem(_ generator: StyleGAN2Generator, seed: UInt64) throws -> InversionProblem {
    let s = generator.imageSize
    let mask = try InpaintMask(box: s / 4, left: s / 4, boxHeight: s / 2, boxWidth: s / 2, height: s, width: s)
    var rng = SplitMix64(seed: seed)
    let y = HostTensor<Float>(shape: [1, 3, s, s], values: SeededStreams.normals(3 * s * s, &rng).map { 0.5 * $0 })
    return InversionProblem(generator: generator, forward: mask, observation: y, mask: mask)
  }

  /// Builds the stage programs of `rounds` in order with a new compiler of `threads`
  /// threads on an empty cache directory (cold), again with a new compiler on the same
  /// directory (warm), and once more with the warm compiler (reused). The directory is
  /// created under `scratch` and deleted afterwards.
  public static func measure(_ problem: InversionProblem, rounds: [Int], threads: Int, scratch: URL) throws -> [Row] {
    let dir = scratch.appendingPathComponent("iloc-bench-compile-\(UUID().uuidString)", isDirectory: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let saved = Program.defaultProvider
    defer { Program.defaultProvider = saved }
    var rows: [Row] = []
    for pass in ["cold", "warm", "reused"] {
      if pass != "reused" {
        Program.defaultProvider = try KernelCompiler(options: CompilerOptions(cacheDirectory: dir, threads: threads))
      }
      for r in rounds { rows.append(try build(problem, round: r, threads: threads, pass: pass)) }
    }
    return rows
  }

  static func build(_ problem: InversionProblem, round r: Int, threads: Int, pass: String) throws -> Row {
    let stage = try StageProgram(problem: problem, round: r, settings: InversionSettings(), engine: .jit)
    guard let program = stage.executable as? Program, let stats = stage.stats else {
      throw InversionError("bench-compile: the JIT engine did not build a Program")
    }
    let kernels = program.compiledKernels.map(\.kernel)
    return Row(size: problem.generator.imageSize, round: r, threads: threads, pass: pass,
               graphMilliseconds: stage.graphMilliseconds, programMilliseconds: stage.compileMilliseconds,
               times: stats.buildTimes, requested: kernels.count,
               distinctNamed: Set(kernels.map(\.description)).count,
               distinctCanonical: Set(program.compiledKernels.map(\.symbol)).count,
               distinctShapeFree: Set(kernels.map { shapeFree($0.canonical.description) }).count)
  }

  /// Kernel text with every run of digits replaced by `#`.
  static func shapeFree(_ text: String) -> String {
    var out = "", inDigits = false
    for c in text {
      if c.isASCII && c.isNumber {
        if !inDigits { out.append("#") }
        inDigits = true
      } else {
        out.append(c)
        inDigits = false
      }
    }
    return out
  }

  /// The table `iloc bench-compile` prints: one line per build.
  public static func table(_ rows: [Row]) -> String {
    var lines = ["size round threads pass    graph_ms program_ms compile_ms kernels named canonical shape_free"
                   + " made disk_hits"]
    for r in rows {
      let pass = r.pass + String(repeating: " ", count: max(0, 6 - r.pass.count))
      let times = String(format: " %9.0f %10.0f %10.0f", r.graphMilliseconds, r.programMilliseconds, r.times.compile)
      let counts = String(format: " %7d %5d %9d %10d %4d %9d", r.requested, r.distinctNamed, r.distinctCanonical,
                          r.distinctShapeFree, r.times.kernelsMade, r.times.diskHits)
      lines.append(String(format: "%4d %5d %7d ", r.size, r.round, r.threads) + pass + times + counts)
    }
    return lines.joined(separator: "\n")
  }
}

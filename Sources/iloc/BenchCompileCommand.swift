import ArgumentParser
import Foundation
import ILO
import Runtime

/// `iloc bench-compile`: how long ILO's stage programs take to build, cold and from the cache.
struct BenchCompileCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench-compile",
    abstract: "Time the build of ILO stage programs (StyleGAN2 with random weights, inpainting) cold, from the kernel cache and reused.",
    discussion: """
      Each thread count gets its own empty kernel cache (in a temporary directory, deleted afterwards). The rounds are built in order in one process, as an inversion builds them: "cold" with a new JIT and an empty cache, "warm" with a new JIT loading every object from that cache (as a second process would), "reused" with the same JIT again. Columns: graph_ms builds and differentiates the graph; program_ms is the whole Program build, compile_ms its kernel-compile phase; kernels are the kernel steps' kernels, "named" the distinct ones by full text (what was compiled before kernels were canonicalized), "canonical" those compiled now, "shape_free" the distinct ones if sizes were ignored; made = new to the JIT, disk_hits = of those, loaded from the cache. Weights are random: no trained checkpoint can be downloaded here, and kernels do not depend on the weights. `ILOC_DEBUG=1` adds each program's phase breakdown.
        iloc bench-compile --size 256 --rounds 0,1 --threads 1,2
      """
  )

  @Option(help: "Image size of the StyleGAN2 (a power of two, 8...1024).") var size = 256
  @Option(help: "Rounds to build, comma separated.") var rounds = "0,1"
  @Option(help: "Compile thread counts to measure, comma separated.") var threads = "1,2"
  @Option(help: "Seed of the random weights and observation.") var seed: UInt64 = 1
  @Option(help: "Only write the random generator as a .safetensors checkpoint here (for `iloc invert` and `iloc sample`), then exit.")
  var saveModel: String?

  func run() throws {
    if let path = saveModel {
      let sd = try StageCompileBench.randomStateDict(size: size, seed: seed)
      try SafeTensorsFile(tensors: sd.tensors).write(to: URL(fileURLWithPath: path))
      print("wrote \(path): StyleGAN2 \(size)x\(size), channel multiplier 2, random weights (seed \(seed))")
      return
    }
    let roundList = try Self.integers(rounds, "--rounds", minimum: 0)
    let threadList = try Self.integers(threads, "--threads", minimum: 1)
    let generator = try StageCompileBench.randomGenerator(size: size, seed: seed)
    guard let last = roundList.max(), last < generator.maxRounds else {
      throw ValidationError("--rounds: StyleGAN2 \(size)x\(size) has rounds 0...\(generator.maxRounds - 1)")
    }
    let problem = try StageCompileBench.inpaintingProblem(generator, seed: seed)
    var rows: [StageCompileBench.Row] = []
    for t in threadList {
      rows += try StageCompileBench.measure(problem, rounds: roundList, threads: t,
                                            scratch: FileManager.default.temporaryDirectory)
    }
    print(StageCompileBench.table(rows))
  }

  /// A comma-separated list of integers >= `minimum`, or a one-line error naming the flag.
  static func integers(_ text: String, _ flag: String, minimum: Int) throws -> [Int] {
    let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !values.isEmpty, values.allSatisfy({ ($0 ?? Int.min) >= minimum }) else {
      throw ValidationError("\(flag): expected comma-separated integers >= \(minimum), got '\(text)'")
    }
    return values.map { $0! }
  }
}

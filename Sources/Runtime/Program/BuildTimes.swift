import Codegen
import Foundation

/// Where the time of building a `Program` went, phase by phase (wall milliseconds), and what
/// the kernel compiles cost summed over kernels (milliseconds of work on all compiling
/// threads together, so with several threads the sum exceeds the compile phase's wall time).
/// `ILOC_DEBUG=1` prints it under the program's summary line.
public struct ProgramBuildTimes: Sendable, CustomStringConvertible {
  /// Graph passes (folding, simplification, CSE, DCE).
  public var passes = 0.0
  public var fusionPlan = 0.0
  /// Liveness, invariant (hoisted) nodes and the arena layout.
  public var memoryPlan = 0.0
  /// Lowering to kernels and building the steps (kernels only promised, not compiled).
  public var lowering = 0.0
  /// Compiling the promised kernels: cache look-ups, LLVM, JIT linking.
  public var compile = 0.0

  /// Kernels requested, distinct canonical kernels among them that were new to the JIT, and
  /// how many of those came from the disk cache.
  public var kernelsRequested = 0
  public var kernelsMade = 0
  public var diskHits = 0
  /// Summed over the kernels made: LLVM IR building, cache keys and look-ups, O3, object
  /// emission, JIT linking.
  public var irBuild = 0.0
  public var cacheLookup = 0.0
  public var optimize = 0.0
  public var codegen = 0.0
  public var link = 0.0

  public init() {}

  /// Adds the compile reports of a program's kernels (reused ones cost nothing).
  mutating func add(_ reports: [CompileReport]) {
    kernelsRequested += reports.count
    for r in reports where r.loadMilliseconds > 0 || !r.cacheHit {
      kernelsMade += 1
      if r.cacheHit { diskHits += 1 }
      irBuild += r.irBuildMilliseconds
      cacheLookup += r.cacheMilliseconds
      optimize += r.optimizeMilliseconds
      codegen += r.codegenMilliseconds
      link += r.loadMilliseconds
    }
  }

  /// Milliseconds since `mark`, and moves `mark` to now.
  static func lap(_ mark: inout ContinuousClock.Instant) -> Double {
    let now = ContinuousClock.now
    let d = now - mark
    mark = now
    return Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
  }

  public var description: String {
    String(format: "  build: passes %.1f ms, fusion plan %.1f ms, memory plan %.1f ms, lowering %.1f ms, compile %.1f ms"
             + " (%d kernels requested, %d made: %d from the disk cache; summed over threads: ir %.1f ms,"
             + " cache %.1f ms, O3 %.1f ms, codegen %.1f ms, link %.1f ms)",
           passes, fusionPlan, memoryPlan, lowering, compile, kernelsRequested, kernelsMade, diskHits, irBuild,
           cacheLookup, optimize, codegen, link)
  }
}

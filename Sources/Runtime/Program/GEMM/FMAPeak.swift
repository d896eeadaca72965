import Codegen
import Foundation

/// The host's measured FP32 FMA throughput: a generated kernel of independent vector FMA
/// chains on registers (no memory traffic), the yardstick for "% of peak" of GEMM steps.
public enum FMAPeak {
  /// GFLOP/s of one core running `isa`'s peak kernel: the best of `repeats` runs of about
  /// `seconds` each, timed in this thread's CPU time (time when other processes had the core
  /// does not count, so the figure holds on a loaded machine).
  public static func perCore(_ isa: GEMMISA, compiler: KernelCompiler, seconds: Double = 0.05,
                             repeats: Int = 5) throws -> Double {
    let kernel = try compiler.fmaPeakKernel(isa)
    var iterations = 1 << 16
    var best = 0.0
    for _ in 0..<(repeats + 1) {  // the first run also sizes the iteration count
      let t0 = threadCPUSeconds()
      let r = kernel.entry(Int64(iterations), 0.999_9, 1e-4)
      let dt = threadCPUSeconds() - t0
      precondition(r.isFinite, "FMA peak kernel diverged")
      best = Swift.max(best, kernel.flops(iterations: iterations) / dt / 1e9)
      if dt < seconds { iterations = Int(Double(iterations) * Swift.min(16, seconds / Swift.max(dt, 1e-6))) }
    }
    return best
  }

  /// The same kernel on `threads` cores at once (each its own run): total GFLOP/s.
  public static func allCores(_ isa: GEMMISA, compiler: KernelCompiler, threads: Int) throws -> Double {
    let kernel = try compiler.fmaPeakKernel(isa)
    let single = try perCore(isa, compiler: compiler, repeats: 2)
    let iterations = Int(0.05 * single * 1e9 / kernel.flops(iterations: 1))
    var best = 0.0
    for _ in 0..<3 {
      let t0 = DispatchTime.now().uptimeNanoseconds
      DispatchQueue.concurrentPerform(iterations: threads) { _ in _ = kernel.entry(Int64(iterations), 0.999_9, 1e-4) }
      let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
      best = Swift.max(best, Double(threads) * kernel.flops(iterations: iterations) / dt / 1e9)
    }
    return best
  }

  /// The peak per core of the ISA the own GEMM kernels of `compiler` use (`ILOC_ISA` or the
  /// widest), measured once per process; nil without AVX2+FMA.
  public static func hostPerCore(compiler: KernelCompiler) -> (isa: GEMMISA, gflops: Double)? {
    lock.lock()
    defer { lock.unlock() }
    if let cached { return cached }
    let isa = GEMMRouter.forProvider(compiler).own?.kernel.shape.isa ?? compiler.supportedGEMMISAs.first
    guard let isa, let g = try? perCore(isa, compiler: compiler) else { return nil }
    cached = (isa, g)
    return cached
  }
  private static let lock = NSLock()
  nonisolated(unsafe) private static var cached: (isa: GEMMISA, gflops: Double)?
}

extension FMAPeak {
  /// The yardstick of `iloc profile`'s "%peak" column: the per-core peak of the own GEMM
  /// kernels' ISA times the thread count (GEMM steps run on all threads); nil without
  /// AVX2+FMA. Initializes LLVM (the shared compiler) if nothing has yet.
  public static func forProfile() -> (gflops: Double, isa: String)? {
    hostPerCore(compiler: Program.sharedCompiler).map { ($0.gflops * Double(Parallel.threads), $0.isa.rawValue) }
  }
}

/// CPU time of the calling thread, in seconds (excludes time the thread was not running).
func threadCPUSeconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// CPU time of the whole process (all threads), in seconds: the work done, which other
/// processes sharing the cores do not inflate (unlike wall time).
public func processCPUSeconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

import Dispatch
import Foundation
import COpenBLAS

/// Threading policy: generated kernels split their parallel loop over `threads` workers;
/// OpenBLAS is given the same number of threads and is never called concurrently with a
/// kernel, so the two never oversubscribe the cores.
public enum Parallel {
  public static let threads: Int = {
    let env = ProcessInfo.processInfo.environment["ILOC_THREADS"].flatMap { Int($0) }
    let n = Swift.max(1, env ?? ProcessInfo.processInfo.activeProcessorCount)
    openblas_set_num_threads(Int32(n))
    return n
  }()

  /// Runs `body(range)` over `0..<extent` split into at most `threads` contiguous chunks,
  /// in parallel when `work` (a rough count of element operations) makes it worthwhile.
  public static func forRange(_ extent: Int, work: Int, _ body: (Range<Int>) -> Void) {
    let t = Swift.min(threads, extent)
    if t <= 1 || work < 1 << 15 {
      body(0..<extent)
      return
    }
    DispatchQueue.concurrentPerform(iterations: t) { k in
      let lo = extent * k / t, hi = extent * (k + 1) / t
      if lo < hi { body(lo..<hi) }
    }
  }
}

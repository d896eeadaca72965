import Dispatch
import Foundation
import COpenBLAS

/// Threading policy: work is cut into a fixed partition (`Partition`) whose chunks depend only
/// on the size of the work, never on the number of threads; `threads` workers then share the
/// chunks out. Every chunk is computed by the same code on the same range whatever the thread
/// count, so results are the same bits with 1, 2, 3 or 64 threads. OpenBLAS runs
/// single-threaded inside those chunks (its own threading splits K differently with one and
/// with several threads, which changes the last bits of a product), and it is never called
/// concurrently with a kernel, so the two never oversubscribe the cores.
public enum Parallel {
  public static let threads: Int = {
    let env = ProcessInfo.processInfo.environment["ILOC_THREADS"].flatMap { Int($0) }
    let n = Swift.max(1, env ?? ProcessInfo.processInfo.activeProcessorCount)
    openblas_set_num_threads(1)
    return n
  }()

  /// Runs `body(range)` over every chunk of `Partition(extent:work:)`, in parallel when there
  /// is more than one chunk and more than one thread. `work` is a rough count of element
  /// operations of the whole range.
  public static func forRange(_ extent: Int, work: Int, _ body: (Range<Int>) -> Void) {
    let partition = Partition(extent: extent, work: work)
    forEachChunk(of: partition, body)
  }

  /// Runs `body` on every chunk of `partition`: worker k of w takes the contiguous run of
  /// chunks `count*k/w ..< count*(k+1)/w`. The chunks, not the workers, fix the results.
  public static func forEachChunk(of partition: Partition, _ body: (Range<Int>) -> Void) {
    let workers = Swift.min(threads, partition.count)
    if workers <= 1 {
      for c in 0..<partition.count { body(partition[c]) }
      return
    }
    let share = { (k: Int) in
      guard k < workers else { return }
      let first = partition.count * k / workers, last = partition.count * (k + 1) / workers
      for c in first..<last { body(partition[c]) }
    }
    if let pool, pool.run(share) { return }
    DispatchQueue.concurrentPerform(iterations: workers, execute: share)
  }

  /// The spinning workers (`WorkerPool`), one fewer than `threads`; nil with one thread or
  /// with `ILOC_POOL=0` (every call on `concurrentPerform`, for comparisons).
  static let pool: WorkerPool? = {
    guard threads > 1, ProcessInfo.processInfo.environment["ILOC_POOL"] != "0" else { return nil }
    return WorkerPool(workers: threads - 1)
  }()
}

/// A split of `0..<extent` into `count` contiguous chunks of `size` iterations (the last may
/// be shorter), chosen from the extent and the amount of work alone. Chunks carry at least
/// `grain` operations each (so small work stays one call), there are at most `maxChunks`
/// (enough for any core count we expect, few enough that per-chunk overhead is noise), and
/// long chunks are a multiple of `align` iterations (whole vectors in a vectorized loop).
public struct Partition: Sendable, Equatable {
  public static let maxChunks = 64
  public static let grain = 1 << 14

  public let extent: Int
  public let size: Int
  public let count: Int

  public init(extent: Int, work: Int, grain: Int = Partition.grain, align: Int = 16,
              maxChunks: Int = Partition.maxChunks) {
    self.extent = extent
    guard extent > 1 else {
      (size, count) = (Swift.max(extent, 1), extent > 0 ? 1 : 0)
      return
    }
    let wanted = Swift.max(1, Swift.min(maxChunks, extent, work / Swift.max(grain, 1)))
    var s = (extent + wanted - 1) / wanted
    if s > align { s = (s + align - 1) / align * align }
    size = s
    count = (extent + s - 1) / s
  }

  /// The iterations of chunk `c`.
  public subscript(c: Int) -> Range<Int> { c * size..<Swift.min(extent, (c + 1) * size) }
}

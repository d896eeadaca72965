import Atomics
import Foundation
import Testing
@testable import Runtime

/// `WorkerPool`, the spinning threads behind `Parallel.forEachChunk`: every share of a job
/// runs once, on its own thread, jobs follow each other with nothing lost, a busy pool refuses
/// (so nested and concurrent calls fall back to `concurrentPerform`), and workers that went to
/// sleep are woken.
@Suite struct WorkerPoolTests {
  /// Runs `jobs` jobs on `pool`; each share adds its index + 1 to its own slot and records the
  /// thread it ran on. Returns the slot sums and whether every job ran shares on distinct threads.
  static func runJobs(_ pool: WorkerPool, jobs: Int, pause: Double = 0) -> (sums: [Int], distinct: Bool) {
    let n = pool.workers + 1
    let slots = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
    let threads = UnsafeMutableBufferPointer<UInt>.allocate(capacity: n)
    defer { slots.deallocate(); threads.deallocate() }
    slots.initialize(repeating: 0)
    var distinct = true
    for _ in 0..<jobs {
      threads.initialize(repeating: 0)
      let ran = pool.run { k in
        slots[k] += k + 1
        threads[k] = UInt(bitPattern: Unmanaged.passUnretained(Thread.current).toOpaque())
      }
      #expect(ran)
      distinct = distinct && Set(threads).count == n
      if pause > 0 { Thread.sleep(forTimeInterval: pause) }
    }
    return (Array(slots), distinct)
  }

  /// Back-to-back jobs (the spinning workers pick each one up), then three workers that sleep.
  @Test func everyShareRunsOnceOnItsOwnThread() {
    let pool = WorkerPool(workers: 1, processors: 2)
    #expect(pool.spinLimit > 0)
    let (sums, distinct) = Self.runJobs(pool, jobs: 5000)
    #expect(sums == [1, 2].map { $0 * 5000 })
    #expect(distinct)
    let wide = WorkerPool(workers: 3, processors: 2)
    let (wideSums, wideDistinct) = Self.runJobs(wide, jobs: 500)
    #expect(wideSums == [1, 2, 3, 4].map { $0 * 500 })
    #expect(wideDistinct)
  }

  /// With more threads than processors the workers never spin: each job wakes them from the
  /// condition, and a pause between jobs lets them fall asleep first.
  @Test func sleepingWorkersAreWoken() {
    let pool = WorkerPool(workers: 2, processors: 1)
    #expect(pool.spinLimit == 0)
    let (sums, distinct) = Self.runJobs(pool, jobs: 200, pause: 0.0005)
    #expect(sums == [1, 2, 3].map { $0 * 200 })
    #expect(distinct)
    let spinning = WorkerPool(workers: 1, processors: 4)
    let (sums2, _) = Self.runJobs(spinning, jobs: 3, pause: 0.05)  // past the spin, asleep
    #expect(sums2 == [3, 6])
  }

  /// A job's share calling the pool again is refused (the pool is busy), as is another
  /// thread's call meanwhile; `Parallel.forEachChunk` then runs the call on concurrentPerform.
  @Test func aBusyPoolRefuses() {
    let pool = WorkerPool(workers: 1, processors: 4)
    let refused = ManagedAtomic<Int>(0)
    let ran = pool.run { _ in
      if !pool.run({ _ in }) { refused.wrappingIncrement(ordering: .relaxed) }
    }
    #expect(ran && refused.load(ordering: .relaxed) == 2)
    #expect(pool.run { _ in })  // free again
  }

  /// `Parallel.forEachChunk` nested inside itself covers every chunk once at both levels.
  @Test func nestedChunksAreAllCovered() {
    let outer = Partition(extent: 8, work: 8, grain: 1, align: 1, maxChunks: 8)
    let count = ManagedAtomic<Int>(0)
    Parallel.forEachChunk(of: outer) { r in
      for _ in r {
        let inner = Partition(extent: 100, work: 100, grain: 1, align: 1, maxChunks: 10)
        Parallel.forEachChunk(of: inner) { q in count.wrappingIncrement(by: q.count, ordering: .relaxed) }
      }
    }
    #expect(count.load(ordering: .relaxed) == 800)
  }
}

import Atomics
import Foundation

/// Persistent worker threads for `Parallel.forEachChunk`, which wait for the next job by
/// spinning for a while before they sleep.
///
/// `DispatchQueue.concurrentPerform` wakes a sleeping pool thread for every call. On the
/// virtual machines measured here (2 vCPUs) that costs 50-65 us a call: two shares of 82 us of
/// work each took 135 us instead of 82, and a `stylegan2-64` step makes about 120 parallel calls
/// (`stylegan2-256`: 190).
/// A worker that has just finished a job is usually still spinning when the next one comes (the
/// steps of a program follow each other within microseconds), so it starts at once; one idle
/// for `spinLimit` polls (a fraction of a millisecond) sleeps on a condition and is woken as
/// before. Which worker runs which chunks is fixed by `Parallel.forEachChunk` alone, so results
/// do not change. One job at a time: a call made while the pool is busy (a nested call from a
/// job, or another thread's) runs on `concurrentPerform` instead.
final class WorkerPool: @unchecked Sendable {
  /// Threads besides the caller's.
  let workers: Int
  /// Polls of the job counter before an idle worker sleeps (about 0.1-0.3 ms); none when there
  /// are more threads than processors (a spinning worker would take a core from a working one).
  let spinLimit: Int

  private let generation = ManagedAtomic<Int>(0)
  private let pending = ManagedAtomic<Int>(0)
  private let sleeping = ManagedAtomic<Int>(0)
  private let busy = ManagedAtomic<Bool>(false)
  private let wake = NSCondition()
  /// The running job: `share(k)` runs worker k's share (k = 1...workers; the caller runs 0).
  private var share: ((Int) -> Void)?

  init(workers: Int, processors: Int = ProcessInfo.processInfo.activeProcessorCount) {
    self.workers = workers
    spinLimit = workers < processors ? 200_000 : 0
    // the threads keep the pool alive: it is never freed (the process's pool lives as long as
    // the process; a test's pool stays asleep)
    for k in stride(from: 1, through: workers, by: 1) {
      let t = Thread { self.serve(k) }
      t.name = "iloc-worker-\(k)"
      t.start()
    }
  }

  /// Runs `share(k)` for k in 0...workers, k = 0 on the calling thread; false (nothing run)
  /// when the pool is busy.
  func run(_ share: (Int) -> Void) -> Bool {
    guard workers > 0, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
    else { return false }
    withoutActuallyEscaping(share) { escaping in
      self.share = escaping
      pending.store(workers, ordering: .relaxed)
      generation.wrappingIncrement(ordering: .sequentiallyConsistent)
      if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
        wake.lock()
        wake.broadcast()
        wake.unlock()
      }
      escaping(0)
      var polls = 0
      while pending.load(ordering: .acquiring) > 0 {
        polls += 1
        if polls > 1000 { sched_yield() }
      }
      self.share = nil
    }
    busy.store(false, ordering: .releasing)
    return true
  }

  /// Worker k's loop: wait for a new job, run its share, report it done.
  private func serve(_ k: Int) {
    var seen = 0
    while true {
      seen = waitForJob(after: seen)
      share?(k)
      pending.wrappingDecrement(ordering: .releasing)
    }
  }

  /// The next job's number: polled `spinLimit` times, then waited for on the condition.
  private func waitForJob(after seen: Int) -> Int {
    for _ in 0..<spinLimit {
      let g = generation.load(ordering: .acquiring)
      if g != seen { return g }
    }
    wake.lock()
    defer { wake.unlock() }
    sleeping.wrappingIncrement(ordering: .sequentiallyConsistent)
    defer { sleeping.wrappingDecrement(ordering: .sequentiallyConsistent) }
    while true {
      let g = generation.load(ordering: .sequentiallyConsistent)
      if g != seen { return g }
      wake.wait()
    }
  }
}

internal import CLLVM
import Foundation

/// Compiling many kernels at once: object code made on several threads, linked in order.
///
/// A program's kernels are independent LLVM modules, so their objects can be made in
/// parallel: each worker thread has its own target machine (same triple, CPU, features and
/// options as the compiler's) and builds every module in a fresh LLVM context. An object's
/// bytes therefore depend only on its kernel, never on the number of threads or on which
/// worker made it. Linking into the JIT is serialized and happens in the order of first
/// appearance, so symbols and reports are the same for any thread count too.
extension KernelCompiler {
  /// The result of `compileAll`: one compiled kernel per input kernel (same order) and what
  /// the batch cost.
  public struct Batch: Sendable {
    public var kernels: [CompiledKernel]
    /// Distinct canonical kernels among the inputs, and how many of them were new to this
    /// compiler's JIT (made from the disk cache or compiled now).
    public var distinct: Int
    public var made: Int
    /// Wall time of making the objects (parallel part) and of linking them (serial part).
    public var objectMilliseconds: Double
    public var linkMilliseconds: Double
  }

  /// Compiles (or loads from the cache) every kernel, making the objects of distinct canonical
  /// kernels that are not linked yet on up to `threads` threads, and links them into the JIT.
  /// Errors are those of the first failing kernel in input order.
  public func compileAll(_ kernels: [Kernel], threads: Int) throws -> Batch {
    let prepared = try Self.prepare(kernels, threads: threads)
    let (canonical, texts, symbols) = (prepared.map(\.kernel), prepared.map(\.text), prepared.map(\.symbol))
    var jobs: [Job] = []
    var queued = Set<String>()
    lock.lock()
    for n in canonical.indices where loaded[symbols[n]] == nil && queued.insert(symbols[n]).inserted {
      jobs.append(Job(kernel: canonical[n], symbol: symbols[n], text: texts[n]))
    }
    lock.unlock()

    var start = ContinuousClock.now
    let objects = try makeObjects(jobs, threads: threads)
    let objectMs = Self.ms(since: start)
    start = ContinuousClock.now
    lock.lock()
    defer { lock.unlock() }
    var fresh: [String: CompiledKernel] = [:]
    for (job, made) in zip(jobs, objects) where loaded[job.symbol] == nil {
      fresh[job.symbol] = try load(job.kernel, symbol: job.symbol, made: made, machine: targetMachine)
    }
    let linkMs = Self.ms(since: start)
    var out: [CompiledKernel] = []
    out.reserveCapacity(kernels.count)
    for (k, s) in zip(kernels, symbols) {
      if let f = fresh.removeValue(forKey: s) {
        out.append(CompiledKernel(kernel: k, symbol: s, report: renamed(f.report, k.name),
                                  address: loaded[s]!.address, owner: self))
      } else {
        out.append(reused(k, symbol: s, loaded[s]!))
      }
    }
    return Batch(kernels: out, distinct: Set(symbols).count, made: jobs.count, objectMilliseconds: objectMs,
                 linkMilliseconds: linkMs)
  }

  /// Each kernel validated, made canonical, printed once (symbols and cache keys hash the text)
  /// and named, on up to `threads` threads: contiguous chunks, each result depending on its kernel
  /// alone. A warm 1024-pixel round 0 spent 25 ms of its 539 kernels' build here on one thread.
  /// Errors are the first failing kernel's in input order.
  static func prepare(_ kernels: [Kernel], threads: Int) throws -> [(kernel: Kernel, text: String, symbol: String)] {
    let n = kernels.count
    var out = [(kernel: Kernel, text: String, symbol: String)?](repeating: nil, count: n)
    var errors = [(any Error)?](repeating: nil, count: n)
    let workers = Swift.max(1, Swift.min(threads, n / 32))  // a few kernels stay on this thread
    out.withUnsafeMutableBufferPointer { results in
      errors.withUnsafeMutableBufferPointer { failures in
        DispatchQueue.concurrentPerform(iterations: workers) { w in
          for i in (n * w / workers)..<(n * (w + 1) / workers) {
            do {
              try kernels[i].validate()
              let c = kernels[i].canonical, text = c.description
              results[i] = (c, text, symbol(forCanonical: c, text: text))
            } catch {
              failures[i] = error
            }
          }
        }
      }
    }
    if let first = errors.compactMap({ $0 }).first { throw first }
    return out.map { $0! }
  }

  /// The object files of the distinct canonical kernels among `kernels` (first appearance
  /// order), from the cache when possible, made on up to `threads` threads.
  public func objectFiles(for kernels: [Kernel], threads: Int) throws -> [(symbol: String, data: Data)] {
    for k in kernels { try k.validate() }
    var seen = Set<String>()
    var jobs: [Job] = []
    for k in kernels {
      let c = k.canonical, text = c.description
      let s = Self.symbol(forCanonical: c, text: text)
      if seen.insert(s).inserted { jobs.append(Job(kernel: c, symbol: s, text: text)) }
    }
    return zip(jobs, try makeObjects(jobs, threads: threads)).map { ($0.symbol, $1.0) }
  }

  private func renamed(_ r: CompileReport, _ name: String) -> CompileReport {
    var r = r
    r.kernelName = name
    return r
  }

  /// A canonical kernel to make an object of, with its symbol and printed form.
  struct Job {
    var kernel: Kernel, symbol: String, text: String
  }

  /// The objects of `jobs`, in order. Workers take the next job from a shared counter; each
  /// result goes to its job's slot.
  func makeObjects(_ jobs: [Job], threads: Int) throws -> [(Data, CompileReport)] {
    guard !jobs.isEmpty else { return [] }
    let workers = Swift.max(1, Swift.min(threads, jobs.count))
    let results = ResultSlots<(Data, CompileReport)>(count: jobs.count)
    let next = Counter()
    let work: @Sendable () -> Void = { [self] in
      let machine: LLVMTargetMachineRef
      do { machine = try makeWorkerMachine() } catch {
        while let i = next.take(below: jobs.count) { results.set(i, .failure(error)) }
        return
      }
      defer { Self.disposeMachine(machine) }
      while let i = next.take(below: jobs.count) {
        results.set(i, Result { try makeObject(jobs[i].kernel, symbol: jobs[i].symbol, machine: machine,
                                               text: jobs[i].text) })
      }
    }
    Self.runOnThreads(workers, work)
    return try results.values.map { try $0!.get() }
  }

  /// Runs `body` on `count` threads (the calling thread is one of them) and waits for all.
  /// Threads get an 8 MiB stack: LLVM's passes recurse deeper than a default worker allows.
  static func runOnThreads(_ count: Int, _ body: @escaping @Sendable () -> Void) {
    guard count > 1 else { return body() }
    let done = DispatchGroup()
    for _ in 1..<count {
      done.enter()
      let t = Thread { body(); done.leave() }
      t.stackSize = 8 << 20
      t.start()
    }
    body()
    done.wait()
  }
}

/// A lock-protected job counter shared by worker threads.
private final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var value = 0
  /// The next index below `limit`, or nil when all are taken.
  func take(below limit: Int) -> Int? {
    lock.lock()
    defer { lock.unlock() }
    guard value < limit else { return nil }
    value += 1
    return value - 1
  }
}

/// One result slot per job, written by whichever worker ran the job.
private final class ResultSlots<T>: @unchecked Sendable {
  private let lock = NSLock()
  private var slots: [Result<T, Error>?]
  init(count: Int) { slots = Array(repeating: nil, count: count) }
  func set(_ i: Int, _ r: Result<T, Error>) { lock.lock(); slots[i] = r; lock.unlock() }
  var values: [Result<T, Error>?] { lock.lock(); defer { lock.unlock() }; return slots }
}

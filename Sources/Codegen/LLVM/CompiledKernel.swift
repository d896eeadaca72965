import Foundation

/// Errors from the LLVM backend or the object cache; descriptions are one line.
public enum CodegenError: Error, CustomStringConvertible, Equatable, Sendable {
  /// LLVM reported an error (target lookup, verification, passes, codegen, JIT linking).
  case llvm(String)
  /// A cache or object file could not be read or written.
  case io(String)

  public var description: String {
    switch self {
    case .llvm(let m): return "LLVM error: \(m)"
    case .io(let m): return m
    }
  }
}

/// The uniform native entry point of every compiled kernel:
/// `void f(float *const *buffers, const int64_t *scalars, int64_t begin, int64_t end)`.
/// It runs iterations `begin..<end` of the kernel's parallel loop. Nothing is checked:
/// pointers must be valid for the kernel's buffer lengths and must not overlap.
public typealias KernelEntry = @convention(c) (
  UnsafePointer<UnsafeMutablePointer<Float>?>?, UnsafePointer<Int64>?, Int64, Int64
) -> Void

/// What one compile did and what it cost (for `ILOC_DEBUG=2`-style lines and metrics).
public struct CompileReport: Sendable, CustomStringConvertible {
  public var kernelName: String
  public var symbol: String
  /// The object came from the disk cache (or was already loaded in this compiler).
  public var cacheHit: Bool
  public var irBuildMilliseconds: Double
  /// Cache work: keys (SHA-256), look-ups and, after a compile, storing the object.
  public var cacheMilliseconds: Double = 0
  /// Zero on a cache hit.
  public var optimizeMilliseconds: Double
  /// Object emission; zero on a cache hit.
  public var codegenMilliseconds: Double
  /// JIT link of the object plus symbol lookup.
  public var loadMilliseconds: Double
  /// Widest `<N x float>` in the optimized IR (1 = not vectorized).
  public var vectorWidth: Int
  public var objectBytes: Int

  public var description: String {
    func f(_ v: Double) -> String { String(format: "%.2f", v) }
    return "compile \(kernelName) [\(cacheHit ? "hit" : "miss")] ir \(f(irBuildMilliseconds)) ms, "
      + "cache \(f(cacheMilliseconds)) ms, "
      + "opt \(f(optimizeMilliseconds)) ms, codegen \(f(codegenMilliseconds)) ms, "
      + "load \(f(loadMilliseconds)) ms, vector width \(vectorWidth), object \(objectBytes) B"
  }
}

/// A kernel loaded into a `KernelCompiler`'s JIT. Keeps its compiler (and so the code)
/// alive; safe to call from several threads at once on disjoint ranges/outputs.
///
/// A kernel can also be *pending* (`init(pending:symbol:resolve:)`): promised while a program
/// is being built, so that all of the program's kernels are compiled together afterwards
/// (in parallel), then filled in once with `fulfill(with:)`. A pending kernel that is called
/// before that compiles itself alone with its `resolve` function.
public final class CompiledKernel: @unchecked Sendable {
  public let kernel: Kernel
  public private(set) var symbol: String
  public private(set) var report: CompileReport
  /// The raw native function; see `KernelEntry`.
  public var entry: KernelEntry { resolved ?? resolveNow() }
  private var resolved: KernelEntry?
  private var owner: AnyObject?
  private var resolve: ((Kernel) throws -> CompiledKernel)?
  private let lock = NSLock()

  init(kernel: Kernel, symbol: String, report: CompileReport, address: UInt64, owner: AnyObject) {
    self.kernel = kernel
    self.symbol = symbol
    self.report = report
    self.resolved = unsafeBitCast(UnsafeRawPointer(bitPattern: UInt(address))!, to: KernelEntry.self)
    self.owner = owner
  }

  /// A kernel to be compiled later; `resolve` compiles it alone if it is called first. `symbol`
  /// may be left empty (the filled-in kernel brings its own): computing it prints the kernel.
  public init(pending kernel: Kernel, symbol: String = "", resolve: @escaping (Kernel) throws -> CompiledKernel) {
    self.kernel = kernel
    self.symbol = symbol
    self.report = CompileReport(
      kernelName: kernel.name, symbol: symbol, cacheHit: false, irBuildMilliseconds: 0, optimizeMilliseconds: 0,
      codegenMilliseconds: 0, loadMilliseconds: 0, vectorWidth: 0, objectBytes: 0)
    self.resolve = resolve
  }

  /// Whether this is a pending kernel not yet filled in.
  public var isPending: Bool { lock.lock(); defer { lock.unlock() }; return resolved == nil }

  /// Fills in a pending kernel with the compiled code of the same kernel (its symbol,
  /// report, entry point and owner). Does nothing to a kernel that is not pending.
  public func fulfill(with compiled: CompiledKernel) {
    lock.lock()
    defer { lock.unlock() }
    guard resolved == nil else { return }
    symbol = compiled.symbol
    report = compiled.report
    owner = compiled
    resolve = nil
    resolved = compiled.entry
  }

  /// Compiles a pending kernel now if its batch has not been compiled yet; a compile error is
  /// thrown (one line) rather than met inside `entry`. Callers that can throw call this first.
  public func resolveIfPending() throws {
    lock.lock()
    let pending = resolved == nil ? resolve : nil
    lock.unlock()
    if let pending { fulfill(with: try pending(kernel)) }
  }

  /// A pending kernel called before its batch was compiled: compiles it now (callers that can
  /// throw use `resolveIfPending` first, so this path only stops on a Codegen bug).
  private func resolveNow() -> KernelEntry {
    do { try resolveIfPending() } catch {
      fatalError("kernel \(kernel.name) could not be compiled when first called: \(error)")
    }
    return resolved!
  }

  /// A kernel whose native code was loaded from elsewhere (an ahead-of-time shared library):
  /// `address` is its entry point with the uniform ABI, `owner` keeps that code mapped. The
  /// report says "hit" with zero times (nothing was compiled).
  public convenience init(loaded kernel: Kernel, symbol: String, address: UnsafeRawPointer, owner: AnyObject) {
    let report = CompileReport(
      kernelName: kernel.name, symbol: symbol, cacheHit: true, irBuildMilliseconds: 0, optimizeMilliseconds: 0,
      codegenMilliseconds: 0, loadMilliseconds: 0, vectorWidth: 0, objectBytes: 0)
    self.init(kernel: kernel, symbol: symbol, report: report, address: UInt64(UInt(bitPattern: address)), owner: owner)
  }

  /// Runs iterations `range` (default: all) on raw buffers, after checking the counts of
  /// buffers and scalars and the range. `counts[n]` is the length of `buffers[n]`.
  public func run(
    buffers: [UnsafeMutablePointer<Float>], counts: [Int], scalars: [Int64] = [], range: Range<Int>? = nil
  ) throws {
    try KernelInterpreter.checkCall(kernel, bufferCounts: counts, scalarCount: scalars.count, range: range)
    try resolveIfPending()
    let r = range ?? 0..<kernel.parallel.extent
    let ptrs: [UnsafeMutablePointer<Float>?] = buffers
    ptrs.withUnsafeBufferPointer { p in
      scalars.withUnsafeBufferPointer { s in
        entry(p.baseAddress, s.baseAddress, Int64(r.lowerBound), Int64(r.upperBound))
      }
    }
  }

  /// Convenience for tests and small tools: runs on Swift arrays (copied in and out).
  public func run(_ arrays: inout [[Float]], scalars: [Int64] = [], range: Range<Int>? = nil) throws {
    let storage = arrays.map { a -> UnsafeMutableBufferPointer<Float> in
      let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(a.count, 1))
      _ = p.initialize(from: a)
      return p
    }
    defer { storage.forEach { $0.deallocate() } }
    try run(buffers: storage.map { $0.baseAddress! }, counts: arrays.map(\.count), scalars: scalars, range: range)
    for n in arrays.indices { arrays[n] = Array(storage[n].prefix(arrays[n].count)) }
  }
}

/// An object file written for ahead-of-time linking (`cc -shared *.o`).
public struct KernelObjectFile: Sendable, Equatable {
  public var kernelName: String
  /// The exported function (uniform ABI, see `KernelEntry`).
  public var symbol: String
  public var path: URL
}

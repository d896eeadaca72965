import Codegen
import Foundation

/// Where a `Program` gets the native code of its generated kernels: compiled now by LLVM (a
/// `KernelCompiler`, the JIT), or looked up in an ahead-of-time shared library
/// (`SharedLibraryKernels`, which needs no LLVM). Kernels are identified by
/// `KernelCompiler.symbol(for:)`, a hash of their text, so both give the same code for the
/// same kernel when the library was built for the same CPU and features.
public protocol KernelProvider: AnyObject {
  /// The callable code of `kernel`. Errors are one line.
  func kernel(for kernel: Kernel) throws -> CompiledKernel
  /// The callable code of each of `kernels`, in order (a program's kernels, requested
  /// together so that a compiler can make them in parallel). Default: one by one.
  func kernels(for kernels: [Kernel]) throws -> [CompiledKernel]
}

extension KernelProvider {
  public func kernels(for kernels: [Kernel]) throws -> [CompiledKernel] { try kernels.map { try kernel(for: $0) } }
}

extension KernelCompiler: KernelProvider {
  public func kernel(for kernel: Kernel) throws -> CompiledKernel { try compile(kernel) }
  /// Objects made on `threads` threads (`compileAll`).
  public func kernels(for kernels: [Kernel]) throws -> [CompiledKernel] {
    try compileAll(kernels, threads: threads).kernels
  }
}

/// Kernels from a shared library built by `iloc compile` (`cc -shared` of the objects
/// `KernelCompiler.writeObjects` wrote): `dlopen` once, `dlsym` per kernel symbol. Creates no
/// `KernelCompiler`, so LLVM is never initialized on this path.
public final class SharedLibraryKernels: KernelProvider, @unchecked Sendable {
  public let path: URL
  private let handle: UnsafeMutableRawPointer
  private let lock = NSLock()
  private var found: [String: CompiledKernel] = [:]
  /// Distinct kernels looked up so far.
  public var loadedCount: Int { lock.lock(); defer { lock.unlock() }; return found.count }

  public init(path: URL) throws {
    self.path = path
    guard let h = dlopen(path.path, RTLD_NOW | RTLD_LOCAL) else {
      let why = dlerror().map { String(cString: $0) } ?? "unknown error"
      throw ProviderError("cannot load the kernel library \(path.lastPathComponent): \(why)")
    }
    handle = h
  }

  deinit { dlclose(handle) }

  /// The address of any exported `symbol` (a GEMM microkernel), or nil.
  public func address(of symbol: String) -> UnsafeRawPointer? {
    dlsym(handle, symbol).map { UnsafeRawPointer($0) }
  }

  public func kernel(for kernel: Kernel) throws -> CompiledKernel {
    let symbol = KernelCompiler.symbol(for: kernel)
    lock.lock()
    defer { lock.unlock() }
    if let k = found[symbol] { return k }
    guard let address = dlsym(handle, symbol) else {
      throw ProviderError("\(path.lastPathComponent) has no kernel \(symbol) (\(kernel.name)): this run needs a kernel the artifact was not compiled with (different task flags or model, or an artifact from another iloc build?)")
    }
    let k = CompiledKernel(loaded: kernel, symbol: symbol, address: UnsafeRawPointer(address), owner: self)
    found[symbol] = k
    return k
  }
}

/// Passes kernels through to another provider and remembers every distinct one, in first-use
/// order (how `iloc compile` collects the kernels of the programs an inversion builds).
public final class RecordingKernelProvider: KernelProvider, @unchecked Sendable {
  public let base: KernelProvider
  private let lock = NSLock()
  private var seen = Set<String>()
  private var recorded: [Kernel] = []

  public init(base: KernelProvider) { self.base = base }

  /// The distinct kernels seen so far.
  public var kernels: [Kernel] { lock.lock(); defer { lock.unlock() }; return recorded }

  public func kernel(for kernel: Kernel) throws -> CompiledKernel { try kernels(for: [kernel])[0] }

  public func kernels(for kernels: [Kernel]) throws -> [CompiledKernel] {
    let compiled = try base.kernels(for: kernels)
    lock.lock()
    for (k, c) in zip(kernels, compiled) where seen.insert(c.symbol).inserted { recorded.append(k) }
    lock.unlock()
    return compiled
  }
}

/// A kernel provider failure; the description is one line.
public struct ProviderError: Error, CustomStringConvertible, Sendable {
  public var description: String
  public init(_ message: String) { description = message }
}

internal import CLLVM
import Foundation

/// Options of a `KernelCompiler`.
public struct CompilerOptions: Sendable {
  /// Where compiled objects are cached; nil disables the disk cache.
  public var cacheDirectory: URL?
  /// Target CPU (LLVM name, e.g. "znver4", "x86-64-v3"); nil means the host CPU, or the level
  /// named by `ILOC_TARGET` (`TargetLevel`).
  public var cpu: String?
  /// Where `ILOC_TARGET` is read (when `cpu` is nil): the process environment by default.
  public var environment: [String: String] = ProcessInfo.processInfo.environment
  /// Target features ("+avx2,+fma,..."); nil means the host's features (only when `cpu` is nil
  /// too; with an explicit cpu, nil means that cpu's defaults).
  public var features: String?
  /// Threads that make objects when many kernels are compiled at once (`compileAll` through
  /// `kernels(for:)`, `writeObjects`); nil: `KernelCompiler.compileThreads`. Objects do not
  /// depend on it.
  public var threads: Int?
  /// Where warnings go (a damaged cache entry, an unusable cache directory): one line each,
  /// without a trailing newline. Default: `warning: <line>` on stderr.
  public var warn: @Sendable (String) -> Void

  public init(cacheDirectory: URL? = KernelCompiler.defaultCacheDirectory, cpu: String? = nil, features: String? = nil,
              threads: Int? = nil, warn: @escaping @Sendable (String) -> Void = KernelCompiler.printWarning) {
    self.cacheDirectory = cacheDirectory
    self.threads = threads.map { Swift.max(1, $0) }
    self.cpu = cpu
    self.features = features
    self.warn = warn
  }
}

/// Compiles kernel IR to native code with LLVM 19: JIT into this process (ORC LLJIT), or
/// object files for ahead-of-time linking. The one class that owns LLVM-C state.
///
/// Pipeline per kernel (each step timed in `CompileReport`):
/// 0. The cache index (`ObjectCache.loadIndex`) is asked first, keyed by the canonical kernel
///    text, target, versions and the running executable: an entry names the object key below,
///    and that object, verified as always, is linked without building any IR (the warm path).
/// 1. `IREmitter` builds a module in a fresh LLVM context (target triple, data layout,
///    `target-cpu`/`target-features`, and `prefer-vector-width=512` when AVX-512F exists).
/// 2. The kernel text, the unoptimized module's bitcode, the CPU, features, LLVM version and
///    options, the iloc version and the cache format version are hashed (SHA-256); a cached
///    object with that key is verified (`ObjectCache`) and linked directly. A damaged entry is
///    deleted, rebuilt and reported in one warning line; an unusable cache directory means no
///    cache and one warning.
/// 3. Otherwise `default<O3>` runs, the widest vector type is recorded in a global
///    `<symbol>_vector_width`, an object is emitted (PIC, so it also links into shared
///    libraries) and stored in the cache, with an index entry for step 0.
/// 4. The object is added to the JIT (`LLVMOrcLLJITAddObjectFile`) and the symbol looked up.
///
/// Ownership: the JIT and the target machine live as long as this object (and it lives as
/// long as any `CompiledKernel` from it). Consumed by LLVM, never disposed here: memory
/// buffers passed to `LLVMOrcLLJITAddObjectFile`. Everything else (contexts, modules,
/// messages, pass options, data layouts, error messages) is disposed exactly once.
/// Thread safety: `compile` calls are serialized by a lock (one target machine);
/// `compileAll` makes objects on several threads, each with its own LLVM context and target
/// machine (created with the same settings, so an object's bytes do not depend on the thread
/// that made it), and links them under the lock. Compiled kernels can be called concurrently.
///
/// Kernels are compiled in their canonical form (`Kernel.canonical`): kernels that differ
/// only in node and buffer names share one symbol, one object and one cache entry.
///
/// Floating-point policy: ordinary arithmetic carries only the `contract` flag (a*b+c may
/// fuse into an fma); `sum` accumulations add `reassoc` so reductions vectorize (their
/// order, hence last bits, may differ from a sequential loop). No `nnan`/`ninf`/`nsz`/`afn`
/// anywhere: NaN and infinities propagate as in IEEE arithmetic, `min`/`max` (elementwise
/// and reductions) are IEEE 754-2019 `minimum`/`maximum` (NaN-propagating, like PyTorch),
/// and `sqrt`, `rsqrt` and division are correctly rounded.
public final class KernelCompiler: @unchecked Sendable {
  /// Bump when the lowering changes in a way the IR text would not show (it always shows).
  public static let cacheFormatVersion = 3

  /// `$ILOC_CACHE_DIR`, else `~/.cache/iloc/kernels`.
  public static var defaultCacheDirectory: URL {
    cacheDirectory(environment: ProcessInfo.processInfo.environment,
                   home: FileManager.default.homeDirectoryForCurrentUser)
  }

  /// Threads that make kernel objects in `compileAll` and `writeObjects`: `$ILOC_COMPILE_THREADS`
  /// when set (1 = serial), else the number of active processors. Objects do not depend on it.
  public static var compileThreads: Int {
    if let v = ProcessInfo.processInfo.environment["ILOC_COMPILE_THREADS"], let n = Int(v), n >= 1 { return n }
    return ProcessInfo.processInfo.activeProcessorCount
  }

  /// Writes `warning: <line>` to stderr (the default `CompilerOptions.warn`).
  public static func printWarning(_ line: String) {
    FileHandle.standardError.write(Data(("warning: " + line + "\n").utf8))
  }

  /// The cache directory rule, separated from the process environment for testing.
  static func cacheDirectory(environment: [String: String], home: URL) -> URL {
    if let dir = environment["ILOC_CACHE_DIR"], !dir.isEmpty {
      return URL(fileURLWithPath: dir, isDirectory: true)
    }
    return home.appendingPathComponent(".cache/iloc/kernels", isDirectory: true)
  }

  public let cpu: String
  public let features: String
  /// "major.minor.patch" of the LLVM library in use.
  public let llvmVersion: String
  /// Where compiled objects are cached: the options' directory, or nil when there is none or
  /// it cannot be used (then a warning said so).
  public var cacheDirectory: URL? { cacheLock.lock(); defer { cacheLock.unlock() }; return cache?.directory }
  /// Threads that make objects in batch compiles (the options' value or `compileThreads`).
  public let threads: Int
  /// 512 when the target has AVX-512F (then set as `prefer-vector-width`), else nil.
  public let preferredVectorBits: Int?

  private let triple: String
  private let target: LLVMTargetRef
  let targetMachine: LLVMTargetMachineRef
  private let jit: LLVMOrcLLJITRef
  /// Guards the JIT, `targetMachine` and `loaded`.
  let lock = NSLock()
  /// Guards `cache` (taken inside `lock`, never the other way round).
  private let cacheLock = NSLock()
  private let warn: @Sendable (String) -> Void
  /// The disk cache; set to nil (with one warning) when writing to it fails.
  private var cache: ObjectCache?
  /// Kernels linked into the JIT, by symbol.
  var loaded: [String: (address: UInt64, vectorWidth: Int, bytes: Int)] = [:]

  /// LLVM options set once per process (they are part of every cache key). `-disable-lsr`:
  /// loop strength reduction took a fifth of code generation (about 0.4 s of CPU of a cold
  /// 256-pixel ILO stage) and changed no kernel's speed measurably (`iloc profile
  /// ilo-step-256`, category sums within run-to-run noise; the GEMM microkernels keep 97-99 %
  /// of the FMA peak): the kernels' addresses are base + index, which x86 addressing folds.
  ///
  /// `-prefer-predicate-over-epilogue=predicate-else-scalar-epilogue`: vectorized loops run
  /// their last partial vector with masked loads and stores (AVX-512 masks) instead of a scalar
  /// remainder, where the cost model finds that legal and cheaper. StyleGAN2's feature maps are
  /// 2^k + 1 wide after each transposed convolution, so a 257-wide row ran 13 of its outputs one
  /// at a time (and 240 sixteen at a time): `iloc profile stylegan2-256`, alternating, direct
  /// convolutions 38-44 -> 30-31 ms a step, direct products 4.0-4.3 -> 2.9-3.1 ms; at 64, 8.6-12.1
  /// -> 6.7-7.2 and 3.2-4.0 -> 2.6-2.8 ms. The same operations per element, so elementwise
  /// results keep their bits (sums, which may reassociate, can move in their last bits, as with
  /// any change of vectorization); cold compiles took no longer (LLVM summed 3.3-3.7 s either way).
  ///
  /// `-enable-masked-interleaved-mem-accesses`: with the last vector masked, a loop reading
  /// every second element (Winograd's input tiles: columns 2t, 2t + 1, 2t + 2, 2t + 3 of a row)
  /// was vectorized with masked gathers, one element at a time in effect; masked interleaved
  /// groups load whole vectors and shuffle. `iloc profile stylegan2-256`, alternating: the
  /// Winograd steps' time outside their products 89-116 -> 54-64 ms a step.
  public static let llvmOptions = ["-disable-lsr", "-prefer-predicate-over-epilogue=predicate-else-scalar-epilogue",
                                   "-enable-masked-interleaved-mem-accesses"]

  /// Native target, asm printer and parser, registered once per process (thread-safe
  /// `static let` initialization), and `llvmOptions`.
  private static let llvmInitialized: Void = {
    LLVMInitializeNativeTarget()
    LLVMInitializeNativeAsmPrinter()
    LLVMInitializeNativeAsmParser()
    // Copies that live as long as the process (LLVM keeps no pointer to them, but this runs
    // once). An option LLVM does not know would stop the process with LLVM's own message.
    var args: [UnsafePointer<CChar>?] = (["iloc"] + llvmOptions).map { UnsafePointer(strdup($0)) }
    LLVMParseCommandLineOptions(Int32(args.count), &args, nil)
  }()

  /// How many `KernelCompiler`s this process has created (each one initializes LLVM and
  /// creates a JIT). `iloc run` reports it to show that an ahead-of-time run used no LLVM.
  public static var instancesCreated: Int {
    counterLock.lock()
    defer { counterLock.unlock() }
    return instanceCount
  }
  private static let counterLock = NSLock()
  nonisolated(unsafe) private static var instanceCount = 0

  /// The host CPU's LLVM feature string ("+avx2,-avx512f,...").
  public static var hostFeatures: String { takeMessage(LLVMGetHostCPUFeatures()) }
  /// The host CPU's LLVM name ("znver4", ...).
  public static var hostCPU: String { takeMessage(LLVMGetHostCPUName()) }

  /// The target triple code is generated for (the host's default triple).
  public var targetTriple: String { triple }

  public init(options: CompilerOptions = CompilerOptions()) throws {
    Self.counterLock.lock()
    Self.instanceCount += 1
    Self.counterLock.unlock()
    _ = Self.llvmInitialized
    triple = Self.takeMessage(LLVMGetDefaultTargetTriple())
    if let c = options.cpu {
      cpu = c
      features = options.features ?? ""
    } else if let level = try TargetLevel.requested(options.environment, hostFeatures: Self.hostFeatures) {
      cpu = level.rawValue
      features = options.features ?? level.features
    } else {
      cpu = Self.hostCPU
      features = options.features ?? Self.hostFeatures
    }
    var major: UInt32 = 0, minor: UInt32 = 0, patch: UInt32 = 0
    LLVMGetVersion(&major, &minor, &patch)
    llvmVersion = "\(major).\(minor).\(patch)"
    warn = options.warn
    threads = options.threads ?? Self.compileThreads
    cache = Self.openCache(options.cacheDirectory, warn: options.warn)
    preferredVectorBits = features.split(separator: ",").contains("+avx512f") ? 512 : nil

    var found: LLVMTargetRef?
    var message: UnsafeMutablePointer<CChar>?
    if LLVMGetTargetFromTriple(triple, &found, &message) != 0 {
      throw CodegenError.llvm("no target for \(triple): \(Self.takeMessage(message))")
    }
    target = found!
    targetMachine = try Self.makeTargetMachine(target, triple: triple, cpu: cpu, features: features)
    let tm = targetMachine

    var j: LLVMOrcLLJITRef?
    if let err = LLVMOrcCreateLLJIT(&j, nil) {
      LLVMDisposeTargetMachine(tm)
      throw CodegenError.llvm("cannot create the JIT: \(Self.consume(err))")
    }
    jit = j!
  }

  deinit {
    LLVMOrcDisposeLLJIT(jit)
    LLVMDisposeTargetMachine(targetMachine)
  }

  /// A target machine with this compiler's settings (one per compiling thread: LLVM's are
  /// not shared between threads). The caller disposes it.
  static func makeTargetMachine(_ target: LLVMTargetRef, triple: String, cpu: String, features: String) throws
    -> LLVMTargetMachineRef
  {
    guard let tm = LLVMCreateTargetMachine(
      target, triple, cpu, features, LLVMCodeGenLevelAggressive, LLVMRelocPIC, LLVMCodeModelDefault)
    else { throw CodegenError.llvm("cannot create a target machine for \(triple) \(cpu)") }
    return tm
  }

  /// A new target machine for a worker thread (see `makeTargetMachine`).
  func makeWorkerMachine() throws -> LLVMTargetMachineRef {
    try Self.makeTargetMachine(target, triple: triple, cpu: cpu, features: features)
  }

  static func disposeMachine(_ tm: LLVMTargetMachineRef) { LLVMDisposeTargetMachine(tm) }

  // MARK: public API

  /// Compiles (or loads from cache) and links a kernel into this compiler's JIT.
  public func compile(_ kernel: Kernel) throws -> CompiledKernel {
    try kernel.validate()
    let canonical = kernel.canonical
    let symbol = Self.symbol(forCanonical: canonical)
    lock.lock()
    defer { lock.unlock() }
    if let l = loaded[symbol] { return reused(kernel, symbol: symbol, l) }
    let made = try makeObject(canonical, symbol: symbol, machine: targetMachine)
    return try load(kernel, symbol: symbol, made: made, machine: targetMachine)
  }

  /// A kernel whose canonical form is linked already (a hit with zero times).
  func reused(_ kernel: Kernel, symbol: String, _ l: (address: UInt64, vectorWidth: Int, bytes: Int))
    -> CompiledKernel
  {
    let report = CompileReport(
      kernelName: kernel.name, symbol: symbol, cacheHit: true, irBuildMilliseconds: 0,
      optimizeMilliseconds: 0, codegenMilliseconds: 0, loadMilliseconds: 0,
      vectorWidth: l.vectorWidth, objectBytes: l.bytes)
    return CompiledKernel(kernel: kernel, symbol: symbol, report: report, address: l.address, owner: self)
  }

  /// Links an object made by `makeObject` (called with the lock held). A cached object that
  /// does not link is rebuilt with `machine`.
  func load(_ kernel: Kernel, symbol: String, made: (Data, CompileReport), machine: LLVMTargetMachineRef) throws
    -> CompiledKernel
  {
    var (object, report) = made
    report.kernelName = kernel.name
    let start = ContinuousClock.now
    let address: UInt64
    do {
      address = try link(object, symbol: symbol)
    } catch where report.cacheHit {
      // A verified entry that still does not link (it should not happen): rebuild, not fail.
      (object, report) = try makeObject(kernel.canonical, symbol: symbol, machine: machine, useCache: false)
      report.kernelName = kernel.name
      address = try link(object, symbol: symbol)
    }
    if report.cacheHit {
      let widthAddress = try lookup(symbol + "_vector_width")
      report.vectorWidth = Int(UnsafePointer<Int32>(bitPattern: UInt(widthAddress))!.pointee)
    }
    report.loadMilliseconds = Self.ms(since: start)
    loaded[symbol] = (address, report.vectorWidth, object.count)
    return CompiledKernel(kernel: kernel, symbol: symbol, report: report, address: address, owner: self)
  }

  /// The optimized LLVM IR of a kernel as text (for `ILOC_DEBUG=4`), and the widest
  /// `<N x float>` in it. Never uses the cache.
  public func optimizedIR(for kernel: Kernel) throws -> (text: String, vectorWidth: Int) {
    try kernel.validate()
    lock.lock()
    defer { lock.unlock() }
    let m = try buildModule(kernel.canonical, symbol: Self.symbol(for: kernel), machine: targetMachine)
    defer { m.dispose() }
    try optimize(m.module, machine: targetMachine)
    let text = Self.printModule(m.module)
    return (text, Self.vectorWidth(inIR: text))
  }

  /// The unoptimized LLVM IR of a kernel as text (the cache key hashes its bitcode).
  public func unoptimizedIR(for kernel: Kernel) throws -> String {
    try kernel.validate()
    lock.lock()
    defer { lock.unlock() }
    let m = try buildModule(kernel.canonical, symbol: Self.symbol(for: kernel), machine: targetMachine)
    defer { m.dispose() }
    return Self.printModule(m.module)
  }

  /// The object file of a kernel (from the cache when possible) and its exported symbol.
  public func objectFile(for kernel: Kernel) throws -> (symbol: String, data: Data, report: CompileReport) {
    try kernel.validate()
    let symbol = Self.symbol(for: kernel)
    lock.lock()
    defer { lock.unlock() }
    let (data, report) = try makeObject(kernel.canonical, symbol: symbol, machine: targetMachine)
    return (symbol, data, report)
  }

  /// Writes one `<symbol>.o` per distinct kernel into `directory` (created if needed), for
  /// linking into a shared library with `cc -shared`. The objects are position independent
  /// and export only the kernels' entry points (uniform ABI) and `<symbol>_vector_width`.
  public func writeObjects(_ kernels: [Kernel], to directory: URL) throws -> [KernelObjectFile] {
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
      throw CodegenError.io("cannot create directory \(directory.path): \(error.localizedDescription)")
    }
    var names: [String: String] = [:]
    for k in kernels where names[Self.symbol(for: k)] == nil { names[Self.symbol(for: k)] = k.name }
    var files: [KernelObjectFile] = []
    for (symbol, data) in try objectFiles(for: kernels, threads: threads) {
      let url = directory.appendingPathComponent(symbol + ".o")
      do { try data.write(to: url, options: .atomic) } catch {
        throw CodegenError.io("cannot write \(url.path): \(error.localizedDescription)")
      }
      files.append(KernelObjectFile(kernelName: names[symbol]!, symbol: symbol, path: url))
    }
    return files
  }

  /// The exported symbol of a kernel: `iloc_<sanitized name>_<16 hex of its text's hash>`,
  /// both of its canonical form (`Kernel.canonical`), so kernels that differ only in node and
  /// buffer names share a symbol.
  public static func symbol(for kernel: Kernel) -> String { symbol(forCanonical: kernel.canonical) }

  static func symbol(forCanonical kernel: Kernel, text: String? = nil) -> String {
    var h = FNV1a128()
    h.combine(text ?? kernel.description)
    let clean = String(kernel.name.prefix(48).map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
    return "iloc_\(clean)_\(h.hex.prefix(16))"
  }

  // MARK: pipeline steps (`machine` is used by one thread at a time)

  /// The object of a canonical kernel: from the disk cache, or optimized and emitted with
  /// `machine`. Touches no JIT state, so worker threads call it concurrently.
  /// `text` is the kernel's printed form when the caller has it already (printing a large
  /// kernel costs about as much as loading its object from the cache).
  func makeObject(_ kernel: Kernel, symbol: String, machine: LLVMTargetMachineRef, useCache: Bool = true,
                  text known: String? = nil) throws -> (Data, CompileReport)
  {
    var report = CompileReport(
      kernelName: kernel.name, symbol: symbol, cacheHit: false, irBuildMilliseconds: 0,
      optimizeMilliseconds: 0, codegenMilliseconds: 0, loadMilliseconds: 0, vectorWidth: 1, objectBytes: 0)
    var start = ContinuousClock.now
    let text = known ?? kernel.description
    let index = useCache ? indexKey(text) : nil
    if let index, let data = indexedObject(index) {
      report.cacheHit = true
      report.cacheMilliseconds = Self.ms(since: start)
      report.objectBytes = data.count
      return (data, report)
    }
    report.cacheMilliseconds = Self.ms(since: start)
    start = ContinuousClock.now
    let m = try buildModule(kernel, symbol: symbol, machine: machine)
    defer { m.dispose() }
    report.irBuildMilliseconds = Self.ms(since: start)
    start = ContinuousClock.now
    let key = cacheKey(text, module: m.module)
    let cached = useCache ? cachedObject(key) : nil
    report.cacheMilliseconds += Self.ms(since: start)
    if let data = cached {
      if let index { storeIndex(index, key) }
      report.cacheHit = true
      report.objectBytes = data.count
      return (data, report)
    }
    start = ContinuousClock.now
    try optimize(m.module, machine: machine)
    let width = Self.vectorWidth(of: m.module)
    report.optimizeMilliseconds = Self.ms(since: start)
    report.vectorWidth = width
    start = ContinuousClock.now
    addVectorWidthGlobal(m, symbol: symbol, width: width)
    let data = try emitObject(m.module, machine: machine)
    report.codegenMilliseconds = Self.ms(since: start)
    report.objectBytes = data.count
    start = ContinuousClock.now
    storeObject(data, key: key)
    if let index { storeIndex(index, key) }
    report.cacheMilliseconds += Self.ms(since: start)
    return (data, report)
  }

  /// The cache directory of `options`, created and checked; nil (and one warning) if unusable.
  private static func openCache(_ directory: URL?, warn: (String) -> Void) -> ObjectCache? {
    guard let directory else { return nil }
    do {
      return try ObjectCache(opening: directory)
    } catch {
      warn("kernel cache \(directory.path): \(error); compiling without a cache")
      return nil
    }
  }

  /// The verified object of `key` from the disk cache; a damaged entry is deleted and
  /// reported (one warning line), and the caller rebuilds it.
  private func cachedObject(_ key: ObjectCacheKey) -> Data? {
    cacheLock.lock()
    let cache = self.cache
    cacheLock.unlock()
    guard let cache else { return nil }
    switch cache.load(key) {
    case .hit(let data): return data
    case .miss: return nil
    case .damaged(let why):
      cache.remove(key)
      let name = cache.url(for: key).lastPathComponent
      warn("kernel cache \(cache.directory.path): entry \(name) \(why); deleted and recompiled")
      return nil
    }
  }

  /// The object an index entry leads to (verified like any cached object), or nil.
  private func indexedObject(_ index: ObjectCacheKey) -> Data? {
    cacheLock.lock()
    let cache = self.cache
    cacheLock.unlock()
    guard let target = cache?.loadIndex(index) else { return nil }
    return cachedObject(target)
  }

  /// Records an index entry; a failure only costs the fast path later, so it is ignored.
  private func storeIndex(_ index: ObjectCacheKey, _ key: ObjectCacheKey) {
    cacheLock.lock()
    let cache = self.cache
    cacheLock.unlock()
    try? cache?.storeIndex(index, key)
  }

  /// Stores an object in the disk cache. The cache is an optimization: a failed write never
  /// fails the compile; it turns the cache off, with one warning.
  private func storeObject(_ data: Data, key: ObjectCacheKey) {
    cacheLock.lock()
    let c = cache
    cacheLock.unlock()
    guard let c else { return }
    do {
      try c.store(key, data)
    } catch {
      cacheLock.lock()
      let first = cache != nil
      cache = nil
      cacheLock.unlock()
      if first { warn("kernel cache \(c.directory.path): \(error); compiling without a cache from now on") }
    }
  }

  /// A module and the context it lives in; `dispose` frees both (module first).
  private struct BuiltModule {
    let context: LLVMContextRef
    let module: LLVMModuleRef
    func dispose() {
      LLVMDisposeModule(module)
      LLVMContextDispose(context)
    }
  }

  private func buildModule(_ kernel: Kernel, symbol: String, machine: LLVMTargetMachineRef) throws -> BuiltModule {
    let context = LLVMContextCreate()!
    let module = LLVMModuleCreateWithNameInContext(symbol, context)!
    let built = BuiltModule(context: context, module: module)
    LLVMSetTarget(module, triple)
    let layout = LLVMCreateTargetDataLayout(machine)
    LLVMSetModuleDataLayout(module, layout)
    LLVMDisposeTargetData(layout)
    var attributes = [("target-cpu", cpu), ("target-features", features)]
    if let bits = preferredVectorBits { attributes.append(("prefer-vector-width", "\(bits)")) }
    IREmitter(kernel: kernel, symbol: symbol, context: context, module: module).emit(targetAttributes: attributes)
    var message: UnsafeMutablePointer<CChar>?
    if LLVMVerifyModule(module, LLVMReturnStatusAction, &message) != 0 {
      let text = Self.takeMessage(message)
      built.dispose()
      throw CodegenError.llvm("invalid IR for kernel \(kernel.name) (a Codegen bug): \(text.split(separator: "\n").first ?? "")")
    }
    if let message { LLVMDisposeMessage(message) }
    return built
  }

  private func optimize(_ module: LLVMModuleRef, machine: LLVMTargetMachineRef) throws {
    let options = LLVMCreatePassBuilderOptions()
    defer { LLVMDisposePassBuilderOptions(options) }
    LLVMPassBuilderOptionsSetLoopVectorization(options, 1)
    LLVMPassBuilderOptionsSetSLPVectorization(options, 1)
    LLVMPassBuilderOptionsSetLoopInterleaving(options, 1)
    LLVMPassBuilderOptionsSetLoopUnrolling(options, 1)
    if let err = LLVMRunPasses(module, "default<O3>", machine, options) {
      throw CodegenError.llvm("optimization failed: \(Self.consume(err))")
    }
  }

  private func addVectorWidthGlobal(_ m: BuiltModule, symbol: String, width: Int) {
    let i32 = LLVMInt32TypeInContext(m.context)
    let g = LLVMAddGlobal(m.module, i32, symbol + "_vector_width")
    LLVMSetInitializer(g, LLVMConstInt(i32, UInt64(width), 0))
    LLVMSetGlobalConstant(g, 1)
  }

  private func emitObject(_ module: LLVMModuleRef, machine: LLVMTargetMachineRef) throws -> Data {
    var message: UnsafeMutablePointer<CChar>?
    var buffer: LLVMMemoryBufferRef?
    if LLVMTargetMachineEmitToMemoryBuffer(machine, module, LLVMObjectFile, &message, &buffer) != 0 {
      throw CodegenError.llvm("object emission failed: \(Self.takeMessage(message))")
    }
    if let message { LLVMDisposeMessage(message) }
    defer { LLVMDisposeMemoryBuffer(buffer) }
    let start = UnsafeRawPointer(LLVMGetBufferStart(buffer)!)
    return Data(bytes: start, count: LLVMGetBufferSize(buffer))
  }

  /// Adds an object to the JIT's main dylib and returns the address of `symbol`.
  private func link(_ object: Data, symbol: String) throws -> UInt64 {
    let buffer = object.withUnsafeBytes { raw in
      LLVMCreateMemoryBufferWithMemoryRangeCopy(
        raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count, symbol)
    }
    // Consumes the buffer, also on error.
    if let err = LLVMOrcLLJITAddObjectFile(jit, LLVMOrcLLJITGetMainJITDylib(jit), buffer) {
      throw CodegenError.llvm("cannot add object of \(symbol) to the JIT: \(Self.consume(err))")
    }
    return try lookup(symbol)
  }

  private func lookup(_ name: String) throws -> UInt64 {
    var address: LLVMOrcExecutorAddress = 0
    if let err = LLVMOrcLLJITLookup(jit, &address, name) {
      throw CodegenError.llvm("JIT lookup of \(name) failed: \(Self.consume(err))")
    }
    return address
  }

  /// The object key of a kernel: everything that decides its code, ending with the bitcode of
  /// its unoptimized module (half the bytes of the printed IR, made in half the time).
  private func cacheKey(_ kernelText: String, module: LLVMModuleRef) -> ObjectCacheKey {
    let bitcode = LLVMWriteBitcodeToMemoryBuffer(module)!
    defer { LLVMDisposeMemoryBuffer(bitcode) }
    let bytes = UnsafeRawBufferPointer(start: LLVMGetBufferStart(bitcode), count: LLVMGetBufferSize(bitcode))
    return ObjectCacheKey(["iloc-kernel-object"] + codeIdentity + [kernelText], bytes: bytes)
  }

  /// What decides the code of every object besides its source, at the front of every cache
  /// key: the cache format, iloc and LLVM versions, target triple, CPU, features, LLVM options.
  private var codeIdentity: [String] {
    ["\(Self.cacheFormatVersion)", ILOCVersion.string, llvmVersion, triple, cpu, features,
     Self.llvmOptions.joined(separator: " ")]
  }

  /// The index key of a canonical kernel's text: everything of the object key except the
  /// LLVM IR, with the running executable (its size, modification time and inode) standing
  /// for the code generator that turns the text into IR. A cache hit through the index skips
  /// building the IR; a rebuilt executable misses the index once and finds the object by its
  /// IR as before. nil when the executable cannot be identified (then there is no index).
  private func indexKey(_ kernelText: String) -> ObjectCacheKey? {
    guard let exe = Self.executableIdentity else { return nil }
    return ObjectCacheKey(["iloc-kernel-index"] + codeIdentity + [exe, kernelText])
  }

  /// Size, modification time and inode of the running executable (`/proc/self/exe`).
  static let executableIdentity: String? = {
    var s = stat()
    guard stat("/proc/self/exe", &s) == 0 else { return nil }
    return "\(s.st_size) \(s.st_mtim.tv_sec).\(s.st_mtim.tv_nsec) \(s.st_dev) \(s.st_ino)"
  }()

  // MARK: helpers

  /// Copies and disposes an LLVM-allocated message (`LLVMDisposeMessage`).
  private static func takeMessage(_ m: UnsafeMutablePointer<CChar>?) -> String {
    guard let m else { return "" }
    defer { LLVMDisposeMessage(m) }
    return String(cString: m)
  }

  /// Turns an `LLVMErrorRef` into its message, consuming the error.
  private static func consume(_ err: LLVMErrorRef) -> String {
    let m = LLVMGetErrorMessage(err)
    defer { LLVMDisposeErrorMessage(m) }
    return m.map { String(cString: $0) } ?? "unknown error"
  }

  private static func printModule(_ module: LLVMModuleRef) -> String {
    takeMessage(LLVMPrintModuleToString(module))
  }

  /// The widest `<N x float>` produced by an instruction of `module` (1 if none): what
  /// `vectorWidth(inIR:)` finds in the printed module, without printing it (printing every
  /// optimized kernel cost about 3 % of a cold stage compile).
  static func vectorWidth(of module: LLVMModuleRef) -> Int {
    var best = 1
    var fn = LLVMGetFirstFunction(module)
    while let f = fn {
      var block = LLVMGetFirstBasicBlock(f)
      while let bb = block {
        var inst = LLVMGetFirstInstruction(bb)
        while let i = inst {
          let type = LLVMTypeOf(i)!
          if LLVMGetTypeKind(type) == LLVMVectorTypeKind, LLVMGetTypeKind(LLVMGetElementType(type)) == LLVMFloatTypeKind {
            best = max(best, Int(LLVMGetVectorSize(type)))
          }
          inst = LLVMGetNextInstruction(i)
        }
        block = LLVMGetNextBasicBlock(bb)
      }
      fn = LLVMGetNextFunction(f)
    }
    return best
  }

  /// The largest N in any `<N x float>` of the IR text; 1 if there is none. A scan over the
  /// UTF-8 bytes: optimized kernels run to hundreds of kilobytes of IR, where Foundation's
  /// substring search took milliseconds per kernel.
  static func vectorWidth(inIR text: String) -> Int {
    let pattern = Array(" x float>".utf8)
    let bytes = Array(text.utf8)
    var best = 1, i = 0, restStart = 0
    while i + pattern.count <= bytes.count {
      guard bytes[i] == pattern[0], bytes[i..<(i + pattern.count)].elementsEqual(pattern) else {
        i += 1
        continue
      }
      // the number between the last "<" since the previous match and this " x float>"
      if let lt = bytes[restStart..<i].lastIndex(of: UInt8(ascii: "<")),
         let n = Int(String(decoding: bytes[(lt + 1)..<i], as: UTF8.self)) {
        best = max(best, n)
      }
      i += pattern.count
      restStart = i
    }
    return best
  }

  static func ms(since start: ContinuousClock.Instant) -> Double {
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
  }
}

// MARK: hand-built modules (GEMM microkernels, the FMA peak kernel)

extension KernelCompiler {
  /// Compiles (or loads from the disk cache) a module that `emit` builds by hand, links it and
  /// returns the address of `symbol`. `keyParts` must name everything `emit` depends on; the
  /// IR text is hashed too. Used by `KernelCompiler+GEMM.swift`.
  func compileHandBuilt(symbol: String, keyParts: [String],
                        emit: (LLVMContextRef, LLVMModuleRef) -> Void) throws -> UInt64 {
    lock.lock()
    defer { lock.unlock() }
    if let l = loaded[symbol] { return l.address }
    let object = try handBuiltObject(symbol: symbol, keyParts: keyParts, emit: emit)
    let address = try link(object, symbol: symbol)
    loaded[symbol] = (address, 0, object.count)
    return address
  }

  /// The object file of a hand-built module (from the cache when possible); lock held.
  func handBuiltObject(symbol: String, keyParts: [String], emit: (LLVMContextRef, LLVMModuleRef) -> Void) throws -> Data {
    let context = LLVMContextCreate()!
    let module = LLVMModuleCreateWithNameInContext(symbol, context)!
    let m = BuiltModule(context: context, module: module)
    defer { m.dispose() }
    LLVMSetTarget(module, triple)
    let layout = LLVMCreateTargetDataLayout(targetMachine)
    LLVMSetModuleDataLayout(module, layout)
    LLVMDisposeTargetData(layout)
    emit(context, module)
    var message: UnsafeMutablePointer<CChar>?
    if LLVMVerifyModule(module, LLVMReturnStatusAction, &message) != 0 {
      throw CodegenError.llvm("invalid IR for \(symbol) (a Codegen bug): \(Self.takeMessage(message))")
    }
    if let message { LLVMDisposeMessage(message) }
    let key = ObjectCacheKey(["iloc-handbuilt-object"] + codeIdentity + keyParts + [Self.printModule(module)])
    var object: Data
    if let cached = cachedObject(key) {
      object = cached
    } else {
      try optimize(module, machine: targetMachine)
      object = try emitObject(module, machine: targetMachine)
      storeObject(object, key: key)
    }
    return object
  }

  /// `handBuiltObject` with the lock taken (for writing objects of ahead-of-time artifacts).
  func lockedHandBuiltObject(symbol: String, keyParts: [String],
                             emit: (LLVMContextRef, LLVMModuleRef) -> Void) throws -> Data {
    lock.lock()
    defer { lock.unlock() }
    return try handBuiltObject(symbol: symbol, keyParts: keyParts, emit: emit)
  }
}

// The kernel IR: one loop nest over float buffers, the unit that Codegen compiles to one
// native function.
//
// Shapes are static, so every loop has a constant trip count. The outermost loop is the
// *parallel* loop: the compiled function receives a `[begin, end)` sub-range of it, so a
// runtime can split it over threads. Everything else is sequential inside one call.

/// How a kernel uses a buffer. Distinct buffers of one call must not overlap (they are
/// compiled as `noalias`).
public enum BufferAccess: String, Hashable, Codable, Sendable {
  /// Only read.
  case input
  /// Written, and possibly also read (for example `y[i] = y[i] + g`).
  case output
}

/// A float buffer parameter of a kernel: a name for printing, its access and its length in
/// elements (used for validation and by the interpreter; the compiled code does not check it).
public struct KernelBuffer: Hashable, Codable, Sendable {
  public var name: String
  public var access: BufferAccess
  public var count: Int

  public init(_ name: String, _ access: BufferAccess, count: Int) {
    self.name = name
    self.access = access
    self.count = count
  }
}

/// Reduction operators of accumulators. `sum` may be reassociated by the compiler (so it can
/// be vectorized; results may differ from sequential order in the last bits). `max`/`min`
/// propagate NaN like `FloatBinaryOp.max`/`.min`.
public enum ReduceOp: String, Hashable, Codable, Sendable, CaseIterable {
  case sum, max, min
}

/// `for variable in 0..<extent { body }`.
public struct Loop: Hashable, Codable, Sendable {
  public var variable: String
  public var extent: Int
  public var body: [Stmt]

  public init(_ variable: String, _ extent: Int, _ body: [Stmt]) {
    self.variable = variable
    self.extent = extent
    self.body = body
  }
}

/// A statement. Names bound by `letFloat`, `letInt` and `accumulator` are visible in the rest
/// of the enclosing block (including nested loops); a loop variable is visible in its body.
/// Inner bindings may shadow outer ones.
public indirect enum Stmt: Hashable, Codable, Sendable {
  /// `buffers[buffer][index] = value`; the buffer must be an `.output`.
  case store(buffer: Int, index: IntExpr, value: FloatExpr)
  case letFloat(String, FloatExpr)
  case letInt(String, IntExpr)
  /// Declares a mutable float local initialised to `initial`, combined by `op` on each
  /// `accumulate`. Read it with `FloatExpr.variable(name)`.
  case accumulator(String, ReduceOp, initial: Float)
  /// `name = op(name, value)` for an accumulator declared in an enclosing scope.
  case accumulate(String, FloatExpr)
  case loop(Loop)
}

/// A compilable kernel: buffers, scalar parameters, and the parallel outer loop.
///
/// The compiled function has the uniform C ABI
/// `void f(float *const *buffers, const int64_t *scalars, int64_t begin, int64_t end)` and
/// runs iterations `begin..<end` of `parallel` (0 <= begin <= end <= parallel.extent).
public struct Kernel: Hashable, Codable, Sendable {
  /// A readable name; the native symbol is derived from it plus a content hash.
  public var name: String
  public var buffers: [KernelBuffer]
  /// Names of the int64 scalar parameters (for printing); `IntExpr.scalar(n)` reads number n.
  public var scalars: [String]
  public var parallel: Loop

  public init(name: String, buffers: [KernelBuffer], scalars: [String] = [], parallel: Loop) {
    self.name = name
    self.buffers = buffers
    self.scalars = scalars
    self.parallel = parallel
  }
}

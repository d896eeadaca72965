import Foundation

/// Executes kernel IR directly on Swift arrays: the executable definition of the IR's
/// semantics, with every load and store bounds-checked. Slow (a tree walk); meant for tests
/// and `--validate` runs on small shapes. Transcendentals use the C library, so results can
/// differ from compiled code in the last bits; `sum` accumulates sequentially.
public enum KernelInterpreter {
  /// Runs iterations `range` (default: all) of the kernel's parallel loop.
  /// `buffers[n]` must have `kernel.buffers[n].count` elements.
  public static func run(
    _ kernel: Kernel, buffers: inout [[Float]], scalars: [Int64] = [], range: Range<Int>? = nil
  ) throws {
    try kernel.validate()
    try checkCall(kernel, bufferCounts: buffers.map(\.count), scalarCount: scalars.count,
                  range: range)
    var m = Machine(kernel: kernel, buffers: buffers, scalars: scalars)
    defer { buffers = m.buffers }
    let r = range ?? 0..<kernel.parallel.extent
    for i in r {
      var env = Env()
      env.ints[kernel.parallel.variable] = i
      try m.block(kernel.parallel.body, env)
    }
  }

  /// Shared argument checks of the interpreter and `CompiledKernel.run`.
  static func checkCall(_ kernel: Kernel, bufferCounts: [Int], scalarCount: Int, range: Range<Int>?) throws {
    func bad(_ r: String) -> KernelError { .badCall(kernel: kernel.name, reason: r) }
    if bufferCounts.count != kernel.buffers.count {
      throw bad("expected \(kernel.buffers.count) buffers, got \(bufferCounts.count)")
    }
    for (n, c) in bufferCounts.enumerated() where c < kernel.buffers[n].count {
      throw bad("buffer '\(kernel.buffers[n].name)' has \(c) elements, needs \(kernel.buffers[n].count)")
    }
    if scalarCount != kernel.scalars.count {
      throw bad("expected \(kernel.scalars.count) scalars, got \(scalarCount)")
    }
    if let r = range, r.lowerBound < 0 || r.upperBound > kernel.parallel.extent {
      throw bad("range \(r) outside 0..<\(kernel.parallel.extent)")
    }
  }

  /// An accumulator: a mutable cell shared by the nested scopes that see it.
  private final class Cell {
    let op: ReduceOp
    var value: Float
    init(_ op: ReduceOp, _ value: Float) { self.op = op; self.value = value }
  }

  private enum FloatBinding {
    case value(Float)
    case cell(Cell)
  }

  /// Lexical scope; copied into nested blocks, so inner bindings never leak out.
  private struct Env {
    var ints: [String: Int] = [:]
    var floats: [String: FloatBinding] = [:]
  }

  private struct Machine {
    let kernel: Kernel
    var buffers: [[Float]]
    let scalars: [Int64]

    func oob(_ b: Int, _ i: Int) -> KernelError {
      .outOfBounds(kernel: kernel.name, buffer: kernel.buffers[b].name, index: i, count: kernel.buffers[b].count)
    }

    mutating func block(_ body: [Stmt], _ outer: Env) throws {
      var env = outer
      for s in body {
        switch s {
        case .store(let b, let i, let v):
          let idx = try int(i, env)
          let value = try float(v, env)
          guard idx >= 0 && idx < kernel.buffers[b].count else { throw oob(b, idx) }
          buffers[b][idx] = value
        case .letFloat(let n, let v):
          env.floats[n] = .value(try float(v, env))
        case .letInt(let n, let v):
          env.ints[n] = try int(v, env)
        case .accumulator(let n, let op, let initial):
          env.floats[n] = .cell(Cell(op, initial))
        case .accumulate(let n, let v):
          let x = try float(v, env)
          guard case .cell(let c)? = env.floats[n] else { fatalError("validated: accumulator") }
          c.value = Self.reduce(c.op, c.value, x)
        case .loop(let l):
          for i in 0..<l.extent {
            var inner = env
            inner.ints[l.variable] = i
            try block(l.body, inner)
          }
        }
      }
    }

    static func reduce(_ op: ReduceOp, _ a: Float, _ b: Float) -> Float {
      switch op {
      case .sum: return a + b
      case .max: return maximum(a, b)
      case .min: return minimum(a, b)
      }
    }

    func int(_ e: IntExpr, _ env: Env) throws -> Int {
      switch e {
      case .const(let v): return v
      case .variable(let n): return env.ints[n]!
      case .scalar(let n): return Int(scalars[n])
      case .binary(let op, let a, let b):
        let x = try int(a, env), y = try int(b, env)
        switch op {
        case .add: return x &+ y
        case .sub: return x &- y
        case .mul: return x &* y
        case .floorDiv, .mod:
          guard y != 0 else { throw KernelError.badCall(kernel: kernel.name, reason: "integer division by zero") }
          var q = x / y, r = x % y
          if r != 0 && ((r < 0) != (y < 0)) { q -= 1; r += y }
          return op == .floorDiv ? q : r
        case .min: return Swift.min(x, y)
        case .max: return Swift.max(x, y)
        }
      case .select(let c, let a, let b):
        let x = try int(a, env), y = try int(b, env)
        return try bool(c, env) ? x : y
      }
    }

    func float(_ e: FloatExpr, _ env: Env) throws -> Float {
      switch e {
      case .const(let v): return v
      case .load(let b, let i):
        let idx = try int(i, env)
        guard idx >= 0 && idx < kernel.buffers[b].count else { throw oob(b, idx) }
        return buffers[b][idx]
      case .variable(let n):
        switch env.floats[n]! {
        case .value(let v): return v
        case .cell(let c): return c.value
        }
      case .unary(let op, let a):
        let x = try float(a, env)
        switch op {
        case .neg: return -x
        case .abs: return Swift.abs(x)
        case .sign: return x > 0 ? 1 : (x < 0 ? -1 : x)
        case .sqrt: return x.squareRoot()
        case .rsqrt: return 1 / x.squareRoot()
        case .exp: return Foundation.exp(x)
        case .log: return Foundation.log(x)
        case .tanh: return Foundation.tanh(x)
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        case .floor: return x.rounded(.down)
        }
      case .binary(let op, let a, let b):
        let x = try float(a, env), y = try float(b, env)
        switch op {
        case .add: return x + y
        case .sub: return x - y
        case .mul: return x * y
        case .div: return x / y
        case .min: return minimum(x, y)
        case .max: return maximum(x, y)
        case .atan2: return Foundation.atan2(x, y)
        }
      case .fma(let a, let b, let c):
        let x = try float(a, env), y = try float(b, env), z = try float(c, env)
        return z.addingProduct(x, y)
      case .select(let c, let a, let b):
        let x = try float(a, env), y = try float(b, env)
        return try bool(c, env) ? x : y
      case .fromInt(let i): return Float(try int(i, env))
      }
    }

    func bool(_ e: BoolExpr, _ env: Env) throws -> Bool {
      switch e {
      case .const(let v): return v
      case .compareFloat(let op, let a, let b): return compare(op, try float(a, env), try float(b, env))
      case .compareInt(let op, let a, let b): return compare(op, try int(a, env), try int(b, env))
      case .and(let a, let b): return try bool(a, env) && bool(b, env)
      case .or(let a, let b): return try bool(a, env) || bool(b, env)
      case .not(let a): return try !bool(a, env)
      }
    }

    func compare<T: Comparable>(_ op: CompareOp, _ a: T, _ b: T) -> Bool {
      switch op {
      case .lt: return a < b
      case .le: return a <= b
      case .gt: return a > b
      case .ge: return a >= b
      case .eq: return a == b
      case .ne: return a != b
      }
    }
  }

  /// IEEE 754-2019 maximum: NaN if either is NaN, +0 > -0.
  static func maximum(_ a: Float, _ b: Float) -> Float {
    if a.isNaN || b.isNaN { return .nan }
    if a == b { return a.sign == .minus ? b : a }
    return a > b ? a : b
  }

  /// IEEE 754-2019 minimum: NaN if either is NaN, -0 < +0.
  static func minimum(_ a: Float, _ b: Float) -> Float {
    if a.isNaN || b.isNaN { return .nan }
    if a == b { return a.sign == .minus ? a : b }
    return a < b ? a : b
  }
}

// Structural checks of a kernel before lowering: every name defined with the right kind,
// buffer and scalar numbers in range, stores only to outputs, no constant zero divisors.
// Index bounds are NOT proven here (that needs path-sensitive reasoning for padding
// selects); `KernelInterpreter` checks them exactly on concrete runs.

/// An error in a kernel or in a call of it. Each description is one line.
public enum KernelError: Error, CustomStringConvertible, Equatable, Sendable {
  case invalid(kernel: String, reason: String)
  case outOfBounds(kernel: String, buffer: String, index: Int, count: Int)
  case badCall(kernel: String, reason: String)

  public var description: String {
    switch self {
    case .invalid(let k, let r): return "kernel '\(k)' is invalid: \(r)"
    case .outOfBounds(let k, let b, let i, let c):
      return "kernel '\(k)' accessed \(b)[\(i)] outside 0..<\(c)"
    case .badCall(let k, let r): return "kernel '\(k)' called wrongly: \(r)"
    }
  }
}

extension Kernel {
  /// Throws `KernelError.invalid` with the first problem found.
  public func validate() throws {
    var v = Validator(kernel: self)
    try v.run()
  }
}

private struct Validator {
  enum Kind { case int, float, accumulator }
  let kernel: Kernel

  func fail(_ reason: String) -> KernelError { .invalid(kernel: kernel.name, reason: reason) }

  mutating func run() throws {
    if kernel.name.isEmpty { throw fail("empty name") }
    for b in kernel.buffers where b.count < 0 {
      throw fail("buffer '\(b.name)' has negative length \(b.count)")
    }
    try loop(kernel.parallel, scope: [:])
  }

  func loop(_ l: Loop, scope: [String: Kind]) throws {
    if l.extent < 0 { throw fail("loop '\(l.variable)' has negative extent \(l.extent)") }
    var inner = scope
    inner[l.variable] = .int
    try block(l.body, scope: inner)
  }

  func block(_ body: [Stmt], scope: [String: Kind]) throws {
    var scope = scope
    for s in body {
      switch s {
      case .store(let b, let i, let v):
        try buffer(b)
        if kernel.buffers[b].access != .output {
          throw fail("store to input buffer '\(kernel.buffers[b].name)'")
        }
        try expr(.int(i), scope)
        try expr(.float(v), scope)
      case .letFloat(let n, let v):
        try expr(.float(v), scope)
        scope[n] = .float
      case .letInt(let n, let v):
        try expr(.int(v), scope)
        scope[n] = .int
      case .accumulator(let n, _, _):
        scope[n] = .accumulator
      case .accumulate(let n, let v):
        guard scope[n] == .accumulator else { throw fail("'\(n)' is not an accumulator in scope") }
        try expr(.float(v), scope)
      case .loop(let l):
        try loop(l, scope: scope)
      }
    }
  }

  func buffer(_ b: Int) throws {
    if b < 0 || b >= kernel.buffers.count {
      throw fail("buffer number \(b) out of range (kernel has \(kernel.buffers.count))")
    }
  }

  /// Checks the names, buffer and scalar numbers and constant divisors of `node` and of every
  /// expression inside it.
  func expr(_ node: ExprNode, _ scope: [String: Kind]) throws {
    switch node {
    case .int(.variable(let n)):
      guard scope[n] == .int else { throw fail("'\(n)' is not an integer variable in scope") }
    case .int(.scalar(let n)):
      if n < 0 || n >= kernel.scalars.count {
        throw fail("scalar number \(n) out of range (kernel has \(kernel.scalars.count))")
      }
    case .int(.binary(.floorDiv, _, .const(0))), .int(.binary(.mod, _, .const(0))):
      throw fail("division by constant zero")
    case .float(.load(let b, _)):
      try buffer(b)
    case .float(.variable(let n)):
      guard let k = scope[n], k != .int else { throw fail("'\(n)' is not a float variable in scope") }
    default:
      break
    }
    for o in node.operands { try expr(o, scope) }
  }
}

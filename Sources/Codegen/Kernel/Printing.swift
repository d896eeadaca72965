// Readable text for the kernel IR (ILOC_DEBUG dumps, test failure messages).
//
// Example:
//   kernel bias_act(in x[64], in b[16], out y[64]; scalars: none) {
//     parallel for i in 0..<4 {
//       for j in 0..<16 {
//         y[((i * 16) + j)] = tanh((x[((i * 16) + j)] + b[j]))
//       }
//     }
//   }

/// Renders expressions with the kernel's buffer and scalar names.
struct KernelPrinter {
  var bufferNames: [String]
  var scalarNames: [String]

  func buffer(_ n: Int) -> String { n >= 0 && n < bufferNames.count ? bufferNames[n] : "buf\(n)" }
  func scalar(_ n: Int) -> String { n >= 0 && n < scalarNames.count ? scalarNames[n] : "scalar\(n)" }

  func text(_ e: IntExpr) -> String {
    switch e {
    case .const(let v): return "\(v)"
    case .variable(let n): return n
    case .scalar(let n): return "$" + scalar(n)
    case .binary(let op, let a, let b):
      switch op {
      case .add: return "(\(text(a)) + \(text(b)))"
      case .sub: return "(\(text(a)) - \(text(b)))"
      case .mul: return "(\(text(a)) * \(text(b)))"
      default: return "\(op.rawValue)(\(text(a)), \(text(b)))"
      }
    case .select(let c, let a, let b): return "select(\(text(c)), \(text(a)), \(text(b)))"
    }
  }

  func text(_ e: FloatExpr) -> String {
    switch e {
    case .const(let v): return "\(v)"
    case .load(let b, let i): return "\(buffer(b))[\(text(i))]"
    case .variable(let n): return n
    case .unary(.neg, let a): return "-\(text(a))"
    case .unary(let op, let a): return "\(op.rawValue)(\(text(a)))"
    case .binary(let op, let a, let b):
      switch op {
      case .add: return "(\(text(a)) + \(text(b)))"
      case .sub: return "(\(text(a)) - \(text(b)))"
      case .mul: return "(\(text(a)) * \(text(b)))"
      case .div: return "(\(text(a)) / \(text(b)))"
      default: return "\(op.rawValue)(\(text(a)), \(text(b)))"
      }
    case .fma(let a, let b, let c): return "fma(\(text(a)), \(text(b)), \(text(c)))"
    case .select(let c, let a, let b): return "select(\(text(c)), \(text(a)), \(text(b)))"
    case .fromInt(let i): return "float(\(text(i)))"
    }
  }

  func text(_ e: BoolExpr) -> String {
    switch e {
    case .const(let v): return "\(v)"
    case .compareFloat(let op, let a, let b): return "(\(text(a)) \(symbol(op)) \(text(b)))"
    case .compareInt(let op, let a, let b): return "(\(text(a)) \(symbol(op)) \(text(b)))"
    case .and(let a, let b): return "(\(text(a)) && \(text(b)))"
    case .or(let a, let b): return "(\(text(a)) || \(text(b)))"
    case .not(let a): return "!\(text(a))"
    }
  }

  func symbol(_ op: CompareOp) -> String {
    switch op {
    case .lt: return "<"
    case .le: return "<="
    case .gt: return ">"
    case .ge: return ">="
    case .eq: return "=="
    case .ne: return "!="
    }
  }

  func lines(_ s: Stmt, indent: String, into out: inout [String]) {
    switch s {
    case .store(let b, let i, let v): out.append("\(indent)\(buffer(b))[\(text(i))] = \(text(v))")
    case .letFloat(let n, let v): out.append("\(indent)let \(n) = \(text(v))")
    case .letInt(let n, let v): out.append("\(indent)let \(n): int = \(text(v))")
    case .accumulator(let n, let op, let initial):
      out.append("\(indent)var \(n) = \(initial) reduce \(op.rawValue)")
    case .accumulate(let n, let v): out.append("\(indent)\(n) <- \(text(v))")
    case .loop(let l): lines(l, header: "for", indent: indent, into: &out)
    }
  }

  func lines(_ l: Loop, header: String, indent: String, into out: inout [String]) {
    out.append("\(indent)\(header) \(l.variable) in 0..<\(l.extent) {")
    for s in l.body { lines(s, indent: indent + "  ", into: &out) }
    out.append("\(indent)}")
  }
}

extension Kernel: CustomStringConvertible {
  public var description: String {
    let p = KernelPrinter(bufferNames: buffers.map(\.name), scalarNames: scalars)
    let params = buffers.map { "\($0.access == .input ? "in" : "out") \($0.name)[\($0.count)]" }
    let scalarText = scalars.isEmpty ? "none" : scalars.joined(separator: ", ")
    var out = ["kernel \(name)(\(params.joined(separator: ", ")); scalars: \(scalarText)) {"]
    p.lines(parallel, header: "parallel for", indent: "  ", into: &out)
    out.append("}")
    return out.joined(separator: "\n")
  }
}

extension IntExpr: CustomStringConvertible {
  public var description: String { KernelPrinter(bufferNames: [], scalarNames: []).text(self) }
}

extension FloatExpr: CustomStringConvertible {
  public var description: String { KernelPrinter(bufferNames: [], scalarNames: []).text(self) }
}

extension BoolExpr: CustomStringConvertible {
  public var description: String { KernelPrinter(bufferNames: [], scalarNames: []).text(self) }
}

extension Stmt: CustomStringConvertible {
  public var description: String {
    var out: [String] = []
    KernelPrinter(bufferNames: [], scalarNames: []).lines(self, indent: "", into: &out)
    return out.joined(separator: "\n")
  }
}

/// The readable text form of a graph: one line per node, `%id = op(args) attrs : shape`.
extension Graph: CustomStringConvertible {
  public var description: String {
    var lines = ["graph \(name): \(inputs.count) inputs, \(nodes.count) nodes, \(outputs.count) outputs"]
    for (i, n) in nodes.enumerated() {
      let args = n.inputs.map { "%\($0)" }.joined(separator: ", ")
      let attrs = n.op.attributeText
      var line = "  %\(i) = \(n.op.name)"
      if case .input(let name, _) = n.op { line += " \"\(name)\"" } else { line += "(\(args))" }
      if !attrs.isEmpty { line += " " + attrs }
      lines.append(line + " : " + n.shape.shapeText)
    }
    lines.append("outputs: " + outputs.map { "\($0.name) = %\($0.id)" }.joined(separator: ", "))
    if let error { lines.append("error: \(error)") }
    return lines.joined(separator: "\n")
  }
}

extension Op {
  /// The attributes of an op as text (empty when it has none).
  public var attributeText: String {
    switch self {
    case .constant(let c):
      if let v = c.splatValue { return "splat=\(v)" }
      let head = c.values.prefix(4).map { "\($0)" }.joined(separator: ", ")
      return "[\(head)\(c.values.count > 4 ? ", ..." : "")]"
    case .leakyRelu(let s): return "slope=\(s)"
    case .reduce(_, let axes): return "axes=\(axes)"
    case .reshape(let s), .broadcast(let s): return "to=\(s.shapeText)"
    case .transpose(let p): return "perm=\(p)"
    case .slice(let a, let b, let c): return "start=\(a) end=\(b) step=\(c)"
    case .pad(let lo, let hi, let i, _): return "lo=\(lo) hi=\(hi)" + (i.allSatisfy { $0 == 0 } ? "" : " interior=\(i)")
    case .reverse(let a): return "axes=\(a)"
    case .concat(let a): return "axis=\(a)"
    case .gather(let a, let idx): return "axis=\(a) n=\(idx.values.count)"
    case .scatterAdd(let a, let idx, let size): return "axis=\(a) n=\(idx.values.count) size=\(size)"
    case .conv2d(let a), .convTranspose2d(let a): return a.description
    case .conv2dWeightGrad(let a, _): return a.description
    case .maxPool2d(let p), .maxPool2dGrad(let p): return p.description
    default: return ""
    }
  }
}

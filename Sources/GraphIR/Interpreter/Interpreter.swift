import RealModule

/// The reference interpreter: executes any graph, forward or backward, on plain Swift arrays,
/// in `Float` or `Double`. It is the executable definition of every op; the compiled engine
/// is tested against it. Obviously correct before fast.
public enum Interpreter {
  /// Runs `graph` with inputs bound by name and returns the requested outputs (all by default).
  public static func run<T>(_ graph: Graph, inputs: [String: HostTensor<T>], outputs: [String]? = nil) throws -> [String: HostTensor<T>] {
    try graph.check()
    let wanted = outputs ?? graph.outputs.map(\.name)
    var roots: [(String, Int)] = []
    for name in wanted {
      guard let o = graph.outputs.first(where: { $0.name == name }) else {
        throw GraphError(op: "run", message: "graph '\(graph.name)' has no output '\(name)'")
      }
      roots.append((name, o.id))
    }
    let nodes = graph.nodes
    // Which nodes are needed, and how many needed consumers each has (to free early).
    var needed = [Bool](repeating: false, count: nodes.count)
    for (_, id) in roots { needed[id] = true }
    for i in stride(from: nodes.count - 1, through: 0, by: -1) where needed[i] { for j in nodes[i].inputs { needed[j] = true } }
    var uses = [Int](repeating: 0, count: nodes.count)
    for i in nodes.indices where needed[i] { for j in nodes[i].inputs { uses[j] += 1 } }
    for (_, id) in roots { uses[id] += 1 }

    var values = [HostTensor<T>?](repeating: nil, count: nodes.count)
    for i in nodes.indices where needed[i] {
      let node = nodes[i]
      if case .input(let name, _) = node.op {
        guard let v = inputs[name] else { throw GraphError(op: "run", message: "missing input '\(name)' \(node.shape.shapeText)") }
        guard v.shape == node.shape else {
          throw GraphError(op: "run", message: "input '\(name)' has shape \(v.shape.shapeText), expected \(node.shape.shapeText)")
        }
        values[i] = v
      } else {
        let args = node.inputs.map { values[$0]! }
        values[i] = evaluate(node.op, args, shape: node.shape)
      }
      for j in node.inputs {
        uses[j] -= 1
        if uses[j] == 0 { values[j] = nil }
      }
    }
    var result: [String: HostTensor<T>] = [:]
    for (name, id) in roots { result[name] = values[id]! }
    return result
  }

  /// Evaluates one op on host tensors (shapes already checked by the shape rule).
  public static func evaluate<T>(_ op: Op, _ x: [HostTensor<T>], shape: Shape) -> HostTensor<T> {
    switch op {
    case .input: fatalError("inputs are bound, not evaluated")
    case .constant(let c): return HostTensor(shape: c.shape, values: c.values.map { T($0) })
    case .unary(let u): return HostTensor(shape: shape, values: x[0].values.map { u.apply($0) })
    case .leakyRelu(let slope):
      let s = T(slope)
      return HostTensor(shape: shape, values: x[0].values.map { $0 > 0 ? $0 : s * $0 })
    case .binary(let b): return HostTensor(shape: shape, values: zip(x[0].values, x[1].values).map { b.apply($0, $1) })
    case .select:
      var out = x[2].values
      for i in out.indices where x[0].values[i] != 0 { out[i] = x[1].values[i] }
      return HostTensor(shape: shape, values: out)
    case .reduce(let kind, let axes): return Kernels.reduce(kind, axes, x[0], shape)
    case .reshape: return HostTensor(shape: shape, values: x[0].values)
    case .transpose, .broadcast, .slice, .reverse, .gather:
      return Kernels.remap(op, x[0], shape)
    case .pad(let lo, _, let interior, let mode): return Kernels.pad(lo, interior, mode, x[0], shape)
    case .concat(let axis): return Kernels.concat(axis, x, shape)
    case .scatterAdd(let axis, let idx, _): return Kernels.scatterAdd(axis, idx.values, x[0], shape)
    case .matmul: return Kernels.matmul(x[0], x[1], shape)
    case .conv2d(let a): return Kernels.conv2d(x[0], x[1], a, shape)
    case .convTranspose2d(let a): return Kernels.convTranspose2d(x[0], x[1], a, shape)
    case .conv2dWeightGrad(let a, _): return Kernels.conv2dWeightGrad(x[0], x[1], a, shape)
    case .maxPool2d(let p): return Kernels.maxPool2d(x[0], p, shape)
    case .maxPool2dGrad(let p): return Kernels.maxPool2dGrad(x[0], x[1], p)
    case .fft(let inverse): return Kernels.fft(x[0], inverse: inverse)
    }
  }
}

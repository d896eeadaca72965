import GraphIR

/// Partitions a graph into steps, in the spirit of TVM's op-pattern lattice and XLA's
/// "do not recompute expensive producers" rule:
///
/// - GEMM-shaped ops (matmul, conv2d, transposed conv, conv weight gradient) are library calls;
///   their operands and results are materialized. Their elementwise epilogue (bias, noise,
///   modulation/demodulation scales, activation, gain, residual adds) fuses into one kernel
///   that reads the library result once.
/// - Elementwise and movement ops (reshape, transpose, broadcast, slice, pad, reverse,
///   concat) are inlined into their consumers (loop fusion), and reductions fuse with their
///   producers, unless that would recompute work: a value with several consumers is
///   materialized when it costs more than `recomputeLimit` per element, and an expensive
///   value read many times per output element by a broadcast is materialized too.
public struct FusionPlanner: Sendable {
  /// Largest per-element cost (see `cost`) that may be recomputed by several consumers.
  public var recomputeLimit: Int = 3
  public init() {}

  /// Per-element cost of one op when inlined: memory movement is free, transcendentals and
  /// divisions count 8, other arithmetic 1.
  public static func opCost(_ op: Op) -> Int {
    switch op {
    case .unary(let u):
      switch u {
      case .neg, .abs, .relu, .square, .sign, .floor: 1
      default: 8
      }
    case .binary(let b): [.div, .pow, .atan2].contains(b) ? 8 : 1
    case .leakyRelu, .select: 1
    default: 0
    }
  }

  /// Whether an op can be generated as (part of) a loop-nest kernel.
  static func kernelizable(_ op: Op) -> Bool {
    switch op {
    case .unary(.sin), .unary(.cos): false
    case .unary, .leakyRelu, .binary, .select, .reduce, .reshape, .transpose, .broadcast, .slice, .pad,
      .reverse, .concat, .maxPool2d, .maxPool2dGrad, .conv2d, .convTranspose2d, .conv2dWeightGrad, .matmul:
      true
    default: false
    }
  }

  /// A convolution with at most `KernelLowering.narrowConvolutionChannels` output channels, stride
  /// 1, no groups and a reduction longer than a direct kernel takes: lowered as rows accumulated
  /// in the output (`KernelLowering.narrowConvolution`), its operands buffers.
  public static func isNarrowConvolution(_ n: Graph.Node, _ g: Graph) -> Bool {
    guard case .conv2d(let a) = n.op, a.groups == 1, a.stride == [1, 1], n.shape[1] <= KernelLowering.narrowConvolutionChannels,
          n.shape[3] >= 16 else { return false }
    return KernelLowering.reductionLength(n.op, n.inputs.map { g.nodes[$0].shape }) > defaultDirectConvolutionLimit
  }

  /// The gather form of the pooling gradient reads every operand element once per window tap;
  /// its operands are buffers rather than recomputed k*k times over.
  static func isPoolingGradient(_ op: Op) -> Bool {
    if case .maxPool2dGrad = op { return true }
    return false
  }

  /// Convolutions whose outputs each read at most this many products are generated as direct
  /// loop nests (fusible with their producers); larger ones are GEMM library calls.
  public var directConvolutionLimit: Int = Self.defaultDirectConvolutionLimit
  public static let defaultDirectConvolutionLimit = 32
  /// Matrix products with at most this many multiply-adds are direct kernels.
  public var directMatmulLimit: Double = 262_144

  /// About how many outputs of a direct convolution or product read each input element.
  static func readsPerInput(_ n: Graph.Node, _ g: Graph) -> Int {
    let shapes = n.inputs.map { g.nodes[$0].shape }
    switch n.op {
    case .conv2d(let a): return shapes[1][2] * shapes[1][3] * (shapes[1][0] / a.groups) / Swift.max(1, a.stride[0] * a.stride[1])
    case .convTranspose2d(let a): return shapes[1][2] * shapes[1][3] * shapes[1][1] / Swift.max(1, a.stride[0] * a.stride[1])
    case .conv2dWeightGrad: return n.shape[0] * n.shape[2] * n.shape[3]
    case .matmul: return n.shape[n.shape.count - 1]
    default: return 1
    }
  }

  /// A transpose that only swaps the last two axes (what a GEMM can read with a flag).
  /// Elementwise and movement ops: each output element reads (at most) one element of each input.
  static func passesElementsThrough(_ op: Op) -> Bool {
    switch op {
    case .reshape, .transpose, .slice, .pad, .reverse: true
    default: op.isElementwise
    }
  }

  public static func isLastAxesSwap(_ op: Op) -> Bool {
    guard case .transpose(let p) = op, p.count >= 2 else { return false }
    let r = p.count
    return p[r - 1] == r - 2 && p[r - 2] == r - 1 && (0..<(r - 2)).allSatisfy { p[$0] == $0 }
  }

  /// Whether node `n` runs as a GEMM-shaped library call.
  func isLibrary(_ n: Graph.Node, _ g: Graph) -> Bool {
    if Self.isNarrowConvolution(n, g) { return false }
    switch n.op {
    case .matmul:
      // small products (e.g. a style vector times a modulation matrix) run as direct
      // reduction kernels: a GEMM call costs more than the arithmetic
      let a = g.nodes[n.inputs[0]].shape
      return Double(n.shape.elementCount) * Double(a[a.count - 1]) > directMatmulLimit
    case .conv2d, .convTranspose2d, .conv2dWeightGrad:
      // a weight gradient reduces over the whole batch and image; what matters is how many
      // inputs of each sample meet one output, Cg*kh*kw
      if n.op.isWeightGrad { return n.shape[1] * n.shape[2] * n.shape[3] > directConvolutionLimit }
      return KernelLowering.reductionLength(n.op, n.inputs.map { g.nodes[$0].shape }) > directConvolutionLimit
    default: return false
    }
  }

  public func plan(_ g: Graph) throws -> FusionPlan {
    try g.check()
    let nodes = g.nodes
    var consumers = [[Int]](repeating: [], count: nodes.count)
    for (i, n) in nodes.enumerated() { for j in Set(n.inputs) { consumers[j].append(i) } }
    let outputs = Set(g.outputs.map(\.id))

    var materialized = [Bool](repeating: false, count: nodes.count)
    var reason = [String](repeating: "", count: nodes.count)
    var kind = [FusionPlan.StepKind](repeating: .kernel, count: nodes.count)
    var cost = [Int](repeating: 0, count: nodes.count)
    func mark(_ i: Int, _ k: FusionPlan.StepKind, _ why: String) {
      if !materialized[i] { materialized[i] = true; kind[i] = k; reason[i] = why }
    }

    // Pass 1, in graph order: decisions that depend on the node itself and its consumers.
    for (i, n) in nodes.enumerated() {
      let op = n.op
      switch op {
      case .input: mark(i, .input, "graph input")
      case .constant(let c):
        if c.splatValue == nil { mark(i, .constant, "constant data (\(c.values.count) values)") }
      default:
        if isLibrary(n, g) {
          mark(i, .library, "\(op.name) is a GEMM library call (\(KernelLowering.reductionLength(op, n.inputs.map { nodes[$0].shape })) products per output)")
        } else if Self.isNarrowConvolution(n, g) {
          mark(i, .kernel, "conv2d to \(n.shape[1]) channels: rows accumulated in the output (an im2col GEMM would pack "
               + "\(KernelLowering.reductionLength(op, n.inputs.map { nodes[$0].shape })) rows per pixel for \(n.shape[1]) outputs)")
        } else if op.isConvolution || op == .matmul {
          mark(i, .kernel, "direct \(op.name) (\(KernelLowering.reductionLength(op, n.inputs.map { nodes[$0].shape })) products per output, fused with its producers)")
        }
        else if !Self.kernelizable(op) { mark(i, .builtin, "\(op.name) has no loop-nest lowering; runs as a builtin") }
        else if case .reduce = op { mark(i, .kernel, "reduction (fused with its producers)") }
        else if case .maxPool2d = op { mark(i, .kernel, "pooling window (fused with its producers)") }
        else if case .maxPool2dGrad = op { mark(i, .kernel, "pooling gradient, gathered per input element") }
      }
      if outputs.contains(i) { mark(i, kind[i] == .kernel ? .kernel : kind[i], "graph output") }
      // Operands of library and builtin steps must be buffers.
      if case .matmul = op, isLibrary(n, g) {
        // a swap of the last two axes is read by the GEMM itself (a transposed operand)
        for j in n.inputs where !materialized[j] {
          if Self.isLastAxesSwap(nodes[j].op) {
            let k = nodes[j].inputs[0]
            if !materialized[k] { mark(k, .kernel, "operand of matmul %\(i), read transposed by the GEMM") }
          } else {
            mark(j, .kernel, "operand of \(op.name) (%\(i))")
          }
        }
      } else if isLibrary(n, g) || (!Self.kernelizable(op) && n.inputs.count > 0) || Self.isPoolingGradient(op)
                  || Self.isNarrowConvolution(n, g) {
        for j in n.inputs where !materialized[j] { mark(j, .kernel, "operand of \(op.name) (%\(i))") }
      }
    }
    // How many times each element of a value is read when inlined into its consumers:
    // windowed kernels (direct convolutions, pooling) read each input element once per tap,
    // broadcasts once per copy; fused elementwise and movement ops pass their own reuse on.
    var reuse = [Int](repeating: 1, count: nodes.count)
    for i in stride(from: nodes.count - 1, through: 0, by: -1) {
      for c in consumers[i] {
        let cn = nodes[c]
        var f = 1
        switch cn.op {
        case .conv2d, .convTranspose2d, .conv2dWeightGrad, .matmul:
          if !isLibrary(cn, g) { f = Swift.max(1, Self.readsPerInput(cn, g)) }
        case .maxPool2d(let p): f = Swift.max(1, (p.kernel[0] * p.kernel[1]) / (p.stride[0] * p.stride[1]))
        case .reduce: f = 1
        case .broadcast: f = materialized[c] ? 1 : reuse[c] * Swift.max(1, cn.shape.elementCount / Swift.max(1, nodes[i].shape.elementCount))
        default: f = materialized[c] ? 1 : reuse[c]
        }
        reuse[i] = Swift.max(reuse[i], f)
      }
    }
    // Pass 2, in graph order: recomputation costs decide the rest.
    for (i, n) in nodes.enumerated() {
      cost[i] = Self.opCost(n.op) + n.inputs.reduce(0) { $0 + (materialized[$1] ? 0 : cost[$1]) }
      if materialized[i] { continue }
      let users = consumers[i]
      // A chain of elementwise ops before a windowed consumer is materialized at its end (where
      // its cost is highest), not at its first node with more than one op per element.
      let passesReuseOn = users.count == 1 && !materialized[users[0]] && reuse[users[0]] == reuse[i]
        && Self.passesElementsThrough(nodes[users[0]].op)
      if reuse[i] > 1 && cost[i] > 1 && !passesReuseOn && !users.contains(where: { if case .broadcast = nodes[$0].op { return true } else { return false } }) {
        mark(i, .kernel, "\(cost[i]) ops per element would be recomputed \(reuse[i])x by a windowed consumer")
      } else if users.count > 1 && cost[i] > recomputeLimit {
        mark(i, .kernel, "\(users.count) consumers would each recompute \(cost[i]) ops per element")
      } else if cost[i] >= 8, let b = users.first(where: { if case .broadcast = nodes[$0].op { return true } else { return false } }),
        nodes[b].shape.elementCount > n.shape.elementCount
      {
        mark(i, .kernel, "expensive (\(cost[i]) ops per element) and re-read \(nodes[b].shape.elementCount / n.shape.elementCount)x by broadcast %\(b)")
      }
      if materialized[i] { cost[i] = 0 }
    }
    for i in nodes.indices where materialized[i] { cost[i] = 0 }

    // Steps and decisions.
    var steps: [FusionPlan.Step] = []
    var decisions: [FusionPlan.Decision] = []
    for i in nodes.indices where materialized[i] {
      var fused: [Int] = [], reads = Set<Int>()
      var stack = (kind[i] == .kernel) ? nodes[i].inputs : []
      var seen = Set<Int>()
      if kind[i] != .kernel {
        // a GEMM reads the source of an unmaterialized last-axes swap directly
        reads.formUnion(nodes[i].inputs.map { j in !materialized[j] && Self.isLastAxesSwap(nodes[j].op) ? nodes[j].inputs[0] : j })
      }
      while let j = stack.popLast() {
        guard seen.insert(j).inserted else { continue }
        if materialized[j] { reads.insert(j) } else { fused.append(j); stack += nodes[j].inputs }
      }
      steps.append(.init(node: i, kind: kind[i], fused: fused.sorted(), reads: reads.sorted(), reason: reason[i]))
    }
    for (i, n) in nodes.enumerated() {
      for j in Set(n.inputs) {
        if materialized[j] {
          decisions.append(.init(producer: j, consumer: i, fused: false, reason: reason[j]))
        } else {
          let why = consumers[j].count > 1 ? "inlined (cost \(cost[j]) per element, recomputed by \(consumers[j].count) consumers)" : "inlined into its only consumer"
          decisions.append(.init(producer: j, consumer: i, fused: true, reason: why))
        }
      }
    }
    return FusionPlan(steps: steps, decisions: decisions, materialized: materialized)
  }
}

extension Op {
  var isConvolution: Bool {
    switch self {
    case .conv2d, .convTranspose2d, .conv2dWeightGrad: true
    default: false
    }
  }
  var isWeightGrad: Bool { if case .conv2dWeightGrad = self { return true } else { return false } }
}

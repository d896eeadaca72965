import GraphIR

/// Lowers one `.kernel` step of a fusion plan to a loop-nest `Kernel`.
///
/// The step's node is the kernel's output (buffer 0); every materialized node it reads is an
/// input buffer (in `step.reads` order); every fused node is recomputed inline, element by
/// element, from a *position*: a row-major linear index and/or coordinates in that node's
/// shape. Elementwise ops and reshapes pass the linear index through unchanged (so plain
/// elementwise chains load and store at the same contiguous index and vectorize); movement
/// ops map coordinates; padding and concatenation become selects over clamped (always in
/// bounds) loads. Values used more than once at the same position are bound once with `let`.
public struct KernelLowering {
  let graph: Graph
  let plan: FusionPlan
  let step: FusionPlan.Step
  var alg = IndexAlgebra()
  /// Buffer number of each materialized node read (the output is buffer 0).
  var bufferOf: [Int: Int] = [:]
  var lets: [Stmt] = []
  var memo: [String: FloatExpr] = [:]
  var useCount: [Int: Int] = [:]
  var counter = 0

  public init(graph: Graph, plan: FusionPlan, step: FusionPlan.Step) {
    self.graph = graph; self.plan = plan; self.step = step
    for (k, r) in step.reads.enumerated() { bufferOf[r] = k + 1 }
    // how often each fused node is referenced inside this kernel
    let members = Set(step.fused + [step.node])
    for m in members { for j in graph.nodes[m].inputs where members.contains(j) { useCount[j, default: 0] += 1 } }
  }

  /// A position in a node's output.
  struct Pos {
    var lin: IntExpr?
    var coords: [IntExpr]?
  }

  func linear(_ p: Pos, _ shape: Shape) -> IntExpr { p.lin ?? alg.linear(p.coords!, shape) }
  func coords(_ p: Pos, _ shape: Shape) -> [IntExpr] { p.coords ?? alg.coords(p.lin!, shape) }

  /// Builds the kernel.
  public mutating func lower() -> Kernel {
    let node = graph.nodes[step.node]
    let shape = node.shape
    var buffers = [KernelBuffer("%\(step.node)", .output, count: shape.elementCount)]
    for r in step.reads { buffers.append(KernelBuffer("%\(r)", .input, count: graph.nodes[r].shape.elementCount)) }
    let name = "k\(step.node)_" + node.op.name
    switch node.op {
    case .reduce(let kind, let axes): return Kernel(name: name, buffers: buffers, parallel: reduction(kind, axes, node))
    case .maxPool2d(let p): return Kernel(name: name, buffers: buffers, parallel: pooling(p, node))
    case .maxPool2dGrad(let p): return Kernel(name: name, buffers: buffers, parallel: poolingGradient(p, node))
    case .conv2d(let a) where FusionPlanner.isNarrowConvolution(node, graph):
      return Kernel(name: name, buffers: buffers, parallel: narrowConvolution(a, node))
    case .conv2d, .convTranspose2d, .conv2dWeightGrad, .matmul: return Kernel(name: name, buffers: buffers, parallel: directConvolution(node))
    default: return Kernel(name: name, buffers: buffers, parallel: elementwise(node))
    }
  }

  /// Splits `shape` into (outer, inner) loop extents: inner is the smallest suffix product of
  /// at least `minInner` elements (or the whole tensor), except that a last axis of at least
  /// 64 elements (a long enough vector loop) is never merged with the axis before it unless
  /// that keeps every coordinate a power-of-two division: an inner loop over 257x257 positions
  /// would divide by 257 for every element that needs its coordinates (a pad or a broadcast).
  static func split(_ shape: Shape, minInner: Int = 1024) -> (outer: Int, inner: Int) {
    let total = shape.elementCount
    var inner = 1
    for d in shape.reversed() {
      if inner >= Swift.min(minInner, total) { break }
      if inner >= 64 && inner & (inner - 1) != 0 { break }
      inner *= d
    }
    return (total / inner, inner)
  }

  mutating func elementwise(_ node: Graph.Node) -> Loop {
    let byRows = interleavesPhases && (node.shape.last ?? 0) >= 8
    let (outer, inner) = byRows ? Self.rows(node.shape) : Self.split(node.shape)
    alg.ranges["o"] = 0...(outer - 1)
    alg.ranges["i"] = 0...(inner - 1)
    let lin = alg.add(alg.mul(.variable("o"), inner), .variable("i"))
    let v = value(step.node, Pos(lin: lin, coords: alg.coords(outer: .variable("o"), inner: .variable("i"), innerExtent: inner, node.shape)), root: true)
    let body = lets + [Stmt.store(buffer: 0, index: lin, value: v)]
    return Loop("o", outer, ParityUnroll.statements(Loop("i", inner, body)))
  }

  /// Whether the kernel reads through a zero-inserting pad: it interleaves a strided transposed
  /// convolution's phases (`TransposedConvPhases`), testing the parity of each element's row and
  /// column. With a loop per row the column parity folds (`ParityUnroll`) and the row parity is
  /// invariant. Rows narrower than 64, flattened by `split`, divided each position by the width
  /// instead: StyleGAN2's 33-wide interleave (512 channels) took 0.72 ms at 6 GB/s, 0.18 with
  /// rows; 9-, 17- and 33-wide together 1.10 -> 0.31 ms a `stylegan2-64` step.
  var interleavesPhases: Bool {
    (step.fused + [step.node]).contains { n in
      if case .pad(_, _, let interior, _) = graph.nodes[n].op { return interior.contains { $0 > 0 } }
      return false
    }
  }

  /// (all rows, the row's length): one inner loop per row of the last axis.
  static func rows(_ shape: Shape) -> (outer: Int, inner: Int) {
    let width = shape.last ?? 1
    return (shape.elementCount / Swift.max(width, 1), width)
  }

  mutating func reduction(_ kind: GraphIR.ReduceOp, _ axes: [Int], _ node: Graph.Node) -> Loop {
    if let tailForm = tailReduction(kind, axes, node) { return tailForm }
    let x = node.inputs[0]
    let xs = graph.nodes[x].shape
    let kept = xs.indices.filter { !axes.contains($0) }
    let outShape = node.shape
    let (outer, inner) = Self.split(outShape, minInner: 64)
    alg.ranges["o"] = 0...(outer - 1)
    alg.ranges["i"] = 0...(inner - 1)
    let outLin = alg.add(alg.mul(.variable("o"), inner), .variable("i"))
    let acc = "acc"
    let op: ReduceOp = kind == .max ? .max : .sum
    let count = axes.map { xs[$0] }.elementCount
    var loops: [(String, Int)] = []
    let pos: Pos
    if axes == Array((xs.count - axes.count)..<xs.count) {
      // reduced axes form a suffix: one loop, contiguous loads
      alg.ranges["r"] = 0...(count - 1)
      loops = [("r", count)]
      pos = Pos(lin: alg.add(alg.mul(outLin, count), .variable("r")))
    } else {
      let oc = alg.coords(outer: .variable("o"), inner: .variable("i"), innerExtent: inner, outShape)
      var c = [IntExpr](repeating: .const(0), count: xs.count)
      for (k, a) in kept.enumerated() { c[a] = oc[k] }
      for a in axes {
        let v = "r\(a)"
        alg.ranges[v] = 0...(xs[a] - 1)
        loops.append((v, xs[a]))
        c[a] = .variable(v)
      }
      pos = Pos(coords: c)
    }
    let v = value(x, pos)
    var body: [Stmt] = lets + [.accumulate(acc, v)]
    for (name, extent) in loops.reversed() { body = [.loop(Loop(name, extent, body))] }
    let result: FloatExpr = kind == .mean ? .binary(.mul, .variable(acc), .const(1 / Float(count))) : .variable(acc)
    let stmts: [Stmt] = [.accumulator(acc, op, initial: kind == .max ? -Float.infinity : 0)] + body + [.store(buffer: 0, index: outLin, value: result)]
    return Loop("o", outer, [.loop(Loop("i", inner, stmts))])
  }

  mutating func pooling(_ p: PoolAttrs, _ node: Graph.Node) -> Loop {
    let x = node.inputs[0]
    let xs = graph.nodes[x].shape
    let (outer, inner) = Self.split(node.shape, minInner: 64)
    alg.ranges["o"] = 0...(outer - 1)
    alg.ranges["i"] = 0...(inner - 1)
    alg.ranges["ky"] = 0...(p.kernel[0] - 1)
    alg.ranges["kx"] = 0...(p.kernel[1] - 1)
    let outLin = alg.add(alg.mul(.variable("o"), inner), .variable("i"))
    let oc = alg.coords(outer: .variable("o"), inner: .variable("i"), innerExtent: inner, node.shape)
    let iy = alg.add(alg.mul(oc[2], p.stride[0]), alg.add(.variable("ky"), .const(-p.padding[0])))
    let ix = alg.add(alg.mul(oc[3], p.stride[1]), alg.add(.variable("kx"), .const(-p.padding[1])))
    let valid = alg.and(alg.and(alg.atLeast(iy, 0), alg.less(iy, xs[2])), alg.and(alg.atLeast(ix, 0), alg.less(ix, xs[3])))
    let v = value(x, Pos(coords: [oc[0], oc[1], alg.clamp(iy, 0, xs[2] - 1), alg.clamp(ix, 0, xs[3] - 1)]))
    let guarded: FloatExpr = valid == .const(true) ? v : .select(valid, v, .const(-Float.infinity))
    let body: [Stmt] = [.accumulator("acc", .max, initial: -Float.infinity),
                        .loop(Loop("ky", p.kernel[0], [.loop(Loop("kx", p.kernel[1], lets + [.accumulate("acc", guarded)]))])),
                        .store(buffer: 0, index: outLin, value: .variable("acc"))]
    return Loop("o", outer, [.loop(Loop("i", inner, body))])
  }

  // MARK: values

  /// The value of node `id` at position `p`, as a float expression.
  mutating func value(_ id: Int, _ p: Pos, root: Bool = false) -> FloatExpr {
    let node = graph.nodes[id]
    if case .constant(let c) = node.op, let s = c.splatValue { return .const(s) }
    if !root, let b = bufferOf[id] { return .load(buffer: b, index: linear(p, node.shape)) }
    let key = "\(id)@" + (p.lin.map { "\($0)" } ?? "\(p.coords!)")
    if let m = memo[key] { return m }
    var e = compute(id, node, p)
    if !root && (useCount[id] ?? 0) > 1 && !Self.isTrivial(e) {
      counter += 1
      let name = "t\(id)_\(counter)"
      lets.append(.letFloat(name, e))
      e = .variable(name)
    }
    memo[key] = e
    return e
  }

  static func isTrivial(_ e: FloatExpr) -> Bool {
    switch e {
    case .const, .variable, .load: true
    default: false
    }
  }

  /// Turns a 0/1 float into a condition, looking through `select(c, 1, 0)`.
  static func condition(_ f: FloatExpr) -> BoolExpr {
    if case .select(let c, .const(1), .const(0)) = f { return c }
    return .compareFloat(.ne, f, .const(0))
  }

  mutating func compute(_ id: Int, _ node: Graph.Node, _ p: Pos) -> FloatExpr {
    let x = node.inputs
    switch node.op {
    case .unary(let u):
      let a = value(x[0], p)
      switch u {
      case .neg: return .unary(.neg, a)
      case .sqrt: return .unary(.sqrt, a)
      case .rsqrt: return .unary(.rsqrt, a)
      case .exp: return .unary(.exp, a)
      case .log: return .unary(.log, a)
      case .abs: return .unary(.abs, a)
      case .sign: return .unary(.sign, a)
      case .tanh: return .unary(.tanh, a)
      case .sigmoid: return .unary(.sigmoid, a)
      case .floor: return .unary(.floor, a)
      case .relu: return .select(.compareFloat(.gt, a, .const(0)), a, .select(.compareFloat(.ne, a, a), a, .const(0)))
      case .square: return .binary(.mul, a, a)
      case .reciprocal: return .binary(.div, .const(1), a)
      case .sin, .cos: fatalError("sin/cos are builtins, never inlined")
      }
    case .leakyRelu(let s):
      let a = value(x[0], p)
      return .select(.compareFloat(.gt, a, .const(0)), a, .binary(.mul, a, .const(s)))
    case .binary(let b):
      let l = value(x[0], p), r = value(x[1], p)
      switch b {
      case .add: return .binary(.add, l, r)
      case .sub: return .binary(.sub, l, r)
      case .mul: return .binary(.mul, l, r)
      case .div: return .binary(.div, l, r)
      case .max: return .binary(.max, l, r)
      case .min: return .binary(.min, l, r)
      case .atan2: return .binary(.atan2, l, r)
      case .pow: return .unary(.exp, .binary(.mul, r, .unary(.log, l)))
      case .lt: return .select(.compareFloat(.lt, l, r), .const(1), .const(0))
      case .le: return .select(.compareFloat(.le, l, r), .const(1), .const(0))
      case .gt: return .select(.compareFloat(.gt, l, r), .const(1), .const(0))
      case .ge: return .select(.compareFloat(.ge, l, r), .const(1), .const(0))
      case .eq: return .select(.compareFloat(.eq, l, r), .const(1), .const(0))
      case .ne: return .select(.compareFloat(.ne, l, r), .const(1), .const(0))
      }
    case .select:
      return .select(Self.condition(value(x[0], p)), value(x[1], p), value(x[2], p))
    case .reshape:
      return value(x[0], Pos(lin: linear(p, node.shape)))
    case .transpose(let perm):
      let c = coords(p, node.shape)
      var ic = [IntExpr](repeating: .const(0), count: c.count)
      for (i, a) in perm.enumerated() { ic[a] = c[i] }
      return value(x[0], Pos(coords: ic))
    case .broadcast:
      let xs = graph.nodes[x[0]].shape
      let c = coords(p, node.shape)
      return value(x[0], Pos(coords: c.indices.map { xs[$0] == 1 ? .const(0) : c[$0] }))
    case .slice(let start, _, let step):
      let c = coords(p, node.shape)
      return value(x[0], Pos(coords: c.indices.map { alg.add(alg.mul(c[$0], step[$0]), .const(start[$0])) }))
    case .reverse(let axes):
      let xs = graph.nodes[x[0]].shape
      let c = coords(p, node.shape)
      return value(x[0], Pos(coords: c.indices.map { axes.contains($0) ? alg.sub(.const(xs[$0] - 1), c[$0]) : c[$0] }))
    case .pad(let lo, _, let interior, let mode):
      let xs = graph.nodes[x[0]].shape
      let c = coords(p, node.shape)
      var ic: [IntExpr] = [], valid: BoolExpr = .const(true)
      for a in c.indices {
        let j = alg.add(c[a], .const(-lo[a]))
        if mode == .reflect {
          let n = xs[a]
          if lo[a] == 0 && graph.nodes[id].shape[a] == n { ic.append(c[a]); continue }
          let r: IntExpr = .select(.compareInt(.lt, j, .const(0)), alg.sub(.const(0), j),
                                   .select(.compareInt(.ge, j, .const(n)), alg.sub(.const(2 * (n - 1)), j), j))
          ic.append(alg.clamp(r, 0, n - 1))
        } else {
          let q = interior[a] + 1
          valid = alg.and(valid, alg.and(alg.atLeast(j, 0), alg.less(j, (xs[a] - 1) * q + 1)))
          if q > 1 {
            valid = alg.and(valid, .compareInt(.eq, alg.mod(alg.clamp(j, 0, (xs[a] - 1) * q), q), .const(0)))
            ic.append(alg.clamp(alg.floorDiv(alg.clamp(j, 0, (xs[a] - 1) * q), q), 0, xs[a] - 1))
          } else {
            ic.append(alg.clamp(j, 0, xs[a] - 1))
          }
        }
      }
      let v = value(x[0], Pos(coords: ic))
      if case .const(true) = valid { return v }
      return .select(valid, v, .const(0))
    case .concat(let axis):
      let c = coords(p, node.shape)
      var offset = 0
      var parts: [(Int, FloatExpr)] = []
      for part in x {
        let n = graph.nodes[part].shape[axis]
        var pc = c
        pc[axis] = alg.clamp(alg.add(c[axis], .const(-offset)), 0, n - 1)
        parts.append((offset + n, value(part, Pos(coords: pc))))
        offset += n
      }
      var e = parts.last!.1
      for (end, v) in parts.dropLast().reversed() { e = .select(alg.less(c[axis], end), v, e) }
      return e
    case .constant, .input:
      fatalError("materialized leaf %\(id) must be read from a buffer")
    default:
      fatalError("op \(node.op.name) cannot be inlined (it must be materialized)")
    }
  }
}

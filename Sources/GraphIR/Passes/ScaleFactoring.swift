/// Moves per-channel scales out of a convolution's weight (StyleGAN2's modulation and
/// demodulation, written the reference way as per-sample weights):
///
///     conv2d(x, W * s_in[c] * s_out[o])  ->  conv2d(x * s_in, W) * s_out
///
/// A factor of the weight that varies only along the input-channel axis moves onto the
/// input; one that varies only along the output-channel axis moves onto the output. The
/// values are the same (exactly so in real arithmetic), but the weight no longer depends on
/// the style, so the gradient w.r.t. the style needs no weight-gradient convolution: a third
/// fewer FLOPs for a differentiated modulated convolution. Runs before differentiation (a
/// forward-graph pass); ungrouped convolutions only.
public struct ScaleFactoring: GraphPass {
  public var name: String { "conv-scale-factoring" }
  public init() {}

  public func run(_ graph: Graph) -> Graph {
    var r = GraphRebuilder(graph)
    return r.rebuild { r, i, inputs in
      let node = graph.nodes[i]
      guard case .conv2d(let a) = node.op, a.groups == 1, let id = Self.rewrite(r.target, x: inputs[0], w: inputs[1], attrs: a) else {
        return r.copy(i, inputs)
      }
      return id
    }
  }

  /// The factored convolution built in `g`, or nil when the weight has no channel-only factor.
  static func rewrite(_ g: Graph, x: Int, w: Int, attrs: ConvAttrs) -> Int? {
    let ws = g.nodes[w].shape  // [O, C, kh, kw]
    let (o, c) = (ws[0], ws[1])
    guard o > 1, c > 1 else { return nil }
    // look through reshapes to the product
    var p = w
    while case .reshape = g.nodes[p].op { p = g.nodes[p].inputs[0] }
    let ps = g.nodes[p].shape
    let nonUnit = ps.indices.filter { ps[$0] != 1 }
    guard nonUnit.map({ ps[$0] }) == ws.filter({ $0 != 1 }), ws[0] != 1, ws[1] != 1 else { return nil }
    let (oAxis, cAxis) = (nonUnit[0], nonUnit[1])
    // the factors of a product tree
    var factors: [Int] = [], stack = [p]
    while let f = stack.popLast() {
      if case .binary(.mul) = g.nodes[f].op, g.nodes[f].shape == ps { stack += g.nodes[f].inputs } else { factors.append(f) }
    }
    var weightParts: [Int] = [], inParts: [Int] = [], outParts: [Int] = []
    for f in factors {
      var src = f
      if case .broadcast = g.nodes[f].op { src = g.nodes[f].inputs[0] }
      let ss = g.nodes[src].shape
      let varies = ss.count == ps.count ? Set(ps.indices.filter { ss[$0] != 1 && ps[$0] != 1 }) : Set(nonUnit)
      if varies == [cAxis] { inParts.append(src) } else if varies == [oAxis] { outParts.append(src) } else { weightParts.append(f) }
    }
    guard !weightParts.isEmpty, !(inParts.isEmpty && outParts.isEmpty) else { return nil }
    var weight = g.value(weightParts[0])
    for f in weightParts.dropFirst() { weight = weight * g.value(f) }
    weight = reshape(weight, ws)
    var input = g.value(x)
    for f in inParts { input = input * reshape(g.value(f), [1, c, 1, 1]) }
    var y = g.add(.conv2d(attrs), [input, weight])
    for f in outParts { y = y * reshape(g.value(f), [1, o, 1, 1]) }
    return g.error == nil ? y.id : nil
  }
}

extension PassPipeline {
  /// Passes for a forward graph before it is differentiated: rewrites that change what the
  /// backward graph will need (and so are useless after autodiff), then cleanup.
  public static var forward: PassPipeline {
    PassPipeline([AlgebraicSimplification(), ScaleFactoring(), CommonSubexpressionElimination(), DeadCodeElimination()])
  }
}

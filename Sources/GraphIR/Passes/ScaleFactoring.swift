/// Moves per-channel scales out of a convolution's weight: StyleGAN2's modulation and
/// demodulation, written the reference way as per-sample weights and one convolution grouped
/// over the batch, become an ordinary convolution with the shared weight:
///
///     conv2d(x, W * s_in[b, c] * s_out[b, o], groups: B)  ->  conv2d(x * s_in, W) * s_out
///
/// (and the same for `convTranspose2d`, whose weight is [C, O, kh, kw] per group). The weight
/// is seen through reshapes and at most one transpose as a product tree over the canonical
/// axes [group, out, in, kh, kw]; a factor that varies only along (group, in) moves onto the
/// input, one that varies only along (group, out) onto the output, and one that does not vary
/// with the group stays in the shared weight. With more than one group the input must be the
/// batch packed into channels (`reshape(x, [1, B*C, H, W])`), one group per sample.
///
/// The values are the same (exactly so in real arithmetic), but the weight no longer depends
/// on the style, so the gradient w.r.t. the style needs no weight-gradient convolution: a third
/// fewer FLOPs for a differentiated modulated convolution. It belongs before differentiation
/// (`PassPipeline.forward`), and is harmless after.
public struct ScaleFactoring: GraphPass {
  public var name: String { "conv-scale-factoring" }
  public init() {}

  public func run(_ graph: Graph) -> Graph {
    var r = GraphRebuilder(graph)
    return r.rebuild { r, i, inputs in
      let node = graph.nodes[i]
      let id: Int? = switch node.op {
      case .conv2d(let a): Self.rewrite(r.target, x: inputs[0], w: inputs[1], attrs: a, transposed: false, shape: node.shape)
      case .convTranspose2d(let a): Self.rewrite(r.target, x: inputs[0], w: inputs[1], attrs: a, transposed: true, shape: node.shape)
      default: nil
      }
      return id ?? r.copy(i, inputs)
    }
  }

  /// The roles of the canonical weight axes.
  enum Role: Int { case group, out, input, kh, kw }

  /// What a factor of the weight product does once factored.
  enum Placement { case input, output, weight }

  /// The factored convolution built in `g`, or nil when the weight has no channel-only factor
  /// (nothing is added to `g` then).
  static func rewrite(_ g: Graph, x: Int, w: Int, attrs: ConvAttrs, transposed: Bool, shape: Shape) -> Int? {
    let ws = g.nodes[w].shape, xs = g.nodes[x].shape
    let groups = attrs.groups
    guard ws.count == 4, xs.count == 4, ws[0] % groups == 0, groups == 1 || xs[0] == 1 else { return nil }
    // canonical 5-d view of the weight: conv [G, O, C, kh, kw]; transposed conv [G, C, O, kh, kw]
    let canonical: Shape = [groups, ws[0] / groups, ws[1], ws[2], ws[3]]
    let canonicalRoles: [Role] = transposed ? [.group, .input, .out, .kh, .kw] : [.group, .out, .input, .kh, .kw]
    guard let (product, axisOf, perm) = productView(g, weight: w, canonical: canonical, roles: canonicalRoles) else { return nil }
    let ps = g.nodes[product].shape

    // the factors of the product tree and where each goes
    var parts: [(source: Int, placement: Placement)] = []
    for (_, src) in productFactors(g, product) {
      let ss = g.nodes[src].shape
      let varies = Set(axisOf.compactMap { role, axis in ss[axis] != 1 && ps[axis] != 1 ? role : nil })
      if !varies.isEmpty && varies.isSubset(of: [.group, .input]) { parts.append((src, .input)) }
      else if !varies.isEmpty && varies.isSubset(of: [.group, .out]) { parts.append((src, .output)) }
      else if !varies.contains(.group) { parts.append((src, .weight)) }
      else { return nil }
    }
    guard parts.contains(where: { $0.placement == .weight }), parts.contains(where: { $0.placement != .weight }) else { return nil }

    // the shared weight: the weight factors over the product's axes with the group axis 1,
    // then into the layer's own layout
    var shared = ps
    if let ga = axisOf[.group] { shared[ga] = 1 }
    var weight: Tensor? = nil
    for p in parts where p.placement == .weight {
      let v = broadcast(g.value(p.source), to: shared)
      weight = weight.map { $0 * v } ?? v
    }
    var wv = weight!
    if let perm { wv = transpose(wv, perm) }
    wv = reshape(wv, [ws[0] / groups, ws[1], ws[2], ws[3]])

    // one scale per (sample, channel) of `role`, as [G or 1, channels or 1, 1, 1]
    func channelScale(_ src: Int, _ role: Role) -> Tensor {
      let ss = g.nodes[src].shape
      let (gDim, cDim) = (axisOf[.group].map { ss[$0] } ?? 1, ss[axisOf[role]!])
      let groupFirst = (axisOf[.group] ?? -1) < axisOf[role]!
      let v = groupFirst ? reshape(g.value(src), [gDim, cDim]) : transpose(reshape(g.value(src), [cDim, gDim]), [1, 0])
      return reshape(v, [gDim, cDim, 1, 1])
    }
    let cin = xs[1] / groups
    var input = groups > 1 ? reshape(g.value(x), [groups, cin, xs[2], xs[3]]) : g.value(x)
    for p in parts where p.placement == .input { input = input * channelScale(p.source, .input) }
    var ungrouped = attrs
    ungrouped.groups = 1
    var y = g.add(transposed ? .convTranspose2d(ungrouped) : .conv2d(ungrouped), [input, wv])
    for p in parts where p.placement == .output { y = y * channelScale(p.source, .out) }
    if groups > 1 { y = reshape(y, shape) }
    return g.error == nil && y.shape == shape ? y.id : nil
  }

  /// The product node behind a convolution weight, seen through reshapes and at most one
  /// transpose (the reference's `view(B, O, C, k, k).transpose(1, 2).reshape(B*C, O, k, k)`),
  /// the product's axis for each role and that transpose's permutation; nil when the weight is
  /// not such a view.
  static func productView(_ g: Graph, weight w: Int, canonical: Shape, roles: [Role]) -> (Int, [Role: Int], [Int]?)? {
    var p = w
    while case .reshape = g.nodes[p].op { p = g.nodes[p].inputs[0] }
    var axes = Array(0..<5)  // canonical axis i is axis axes[i] of the product
    var viewShape = canonical
    var transposePerm: [Int]? = nil
    if case .transpose(let perm) = g.nodes[p].op {
      guard perm.count == 5, g.nodes[p].shape == canonical else { return nil }
      axes = perm
      transposePerm = perm
      p = g.nodes[p].inputs[0]
      while case .reshape = g.nodes[p].op, g.nodes[g.nodes[p].inputs[0]].shape == g.nodes[p].shape { p = g.nodes[p].inputs[0] }
      viewShape = perm.indices.map { i in canonical[perm.firstIndex(of: i)!] }
    }
    guard case .binary(.mul) = g.nodes[p].op else { return nil }
    let ps = g.nodes[p].shape
    if ps == viewShape {
      return (p, Dictionary(uniqueKeysWithValues: zip(roles, axes)), transposePerm)
    }
    // a 4-d product without the group axis (one group, no transpose)
    if canonical[0] == 1, axes == Array(0..<5), ps == Array(canonical.dropFirst()) {
      return (p, Dictionary(uniqueKeysWithValues: zip(roles.dropFirst(), 0..<4)), nil)
    }
    return nil
  }
}

extension PassPipeline {
  /// Passes for a forward graph before it is differentiated: rewrites that change what the
  /// backward graph will need (and so are useless after autodiff), then cleanup.
  public static var forward: PassPipeline {
    PassPipeline([AlgebraicSimplification(), ScaleFactoring(), SquareSumFactoring(), CommonSubexpressionElimination(), DeadCodeElimination()])
  }
}

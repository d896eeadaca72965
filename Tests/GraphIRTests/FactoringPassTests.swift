import Testing
@testable import GraphIR

/// The rewrites that run before differentiation (`PassPipeline.forward`): StyleGAN2's modulated
/// convolutions written the reference way (per-sample weights, one convolution grouped over the
/// batch) must come out as ordinary convolutions of the shared weight with the scales on the
/// activations, with the demodulation sum contracted small; values and gradients unchanged
/// (checked with the interpreter in Double against the graph as written).
@Suite struct FactoringPassTests {
  static func feed(_ g: Graph, seed: UInt64) -> [String: HostTensor<Double>] {
    var rng = SplitMix64(seed: seed)
    return Dictionary(uniqueKeysWithValues: g.inputs.map { i in
      let s = g.nodes[i.id].shape
      return (i.name, HostTensor<Double>(shape: s, values: rng.normals(s.elementCount)))
    })
  }

  /// The ids of nodes of `g` that depend on input `name`.
  static func dependents(of name: String, in g: Graph) -> Set<Int> {
    var d = Set<Int>([g.input(named: name)!.id])
    for (i, n) in g.nodes.enumerated() where n.inputs.contains(where: d.contains) { d.insert(i) }
    return d
  }

  /// Largest element count of a weight-like value (trailing 3x3 window) that depends on the style.
  static func largestStyleDependent(_ g: Graph) -> Int {
    dependents(of: "s", in: g).filter { g.nodes[$0].shape.suffix(2) == [3, 3] }.map { g.nodes[$0].shape.elementCount }.max() ?? 0
  }

  /// A modulated conv layer (x [B, C, 6, 6], weight [O, C, 3, 3], style s [B, C]) with loss output.
  static func layer(batch b: Int, up: Bool, form: ModulationForm, demodulate: Bool = true) -> Graph {
    let g = Graph("modconv")
    let (c, o, k) = (4, 5, 3)
    let x = g.input("x", [b, c, 6, 6]), w = g.input("w", [o, c, k, k]), s = g.input("s", [b, c])
    let y = up ? modulatedConvUp(x, weight: w, style: s, form: form) : modulatedConv2d(x, weight: w, style: s, demodulate: demodulate, form: form)
    g.output("y", y)
    g.output("loss", sum(square(y) * g.input("r", y.shape)))
    return g
  }

  /// StyleGAN2's upsampling modulated conv (stride-2 transposed, no blur) in both forms, as
  /// the model writes it.
  static func modulatedConvUp(_ x: Tensor, weight: Tensor, style: Tensor, form: ModulationForm) -> Tensor {
    let (b, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, k) = (weight.shape[0], weight.shape[2])
    let scale = 1 / Float(cin * k * k).squareRoot()
    switch form {
    case .groupedWeights:
      var wm = reshape(weight, [1, cout, cin, k, k]) * reshape(style, [b, 1, cin, 1, 1]) * scale
      wm = wm * rsqrt(sum(square(wm), axes: [2, 3, 4], keepDims: true) + 1e-8)
      let wt = reshape(transpose(wm, [0, 2, 1, 3, 4]), [b * cin, cout, k, k])
      let y = convTranspose2d(reshape(x, [1, b * cin, h, w]), wt, stride: 2, groups: b)
      return reshape(y, [b, cout, y.shape[2], y.shape[3]])
    case .inputScaling:
      let ws = weight * scale
      let y = convTranspose2d(x * reshape(style, [b, cin, 1, 1]), transpose(ws, [1, 0, 2, 3]), stride: 2)
      let d = rsqrt(matmul(square(style), transpose(sum(square(ws), axes: [2, 3]), [1, 0])) + 1e-8)
      return y * reshape(d, [b, cout, 1, 1])
    }
  }

  @Test(arguments: [(1, false), (2, false), (1, true), (3, true)])
  func referenceModulationBecomesInputScaling(batch: Int, up: Bool) throws {
    let g = Self.layer(batch: batch, up: up, form: .groupedWeights)
    let out = try PassPipeline.forward.run(g).0
    // one ungrouped convolution whose weight does not depend on the style
    let convs = out.nodes.indices.filter { out.nodes[$0].op.isConvolution }
    #expect(convs.count == 1)
    let conv = convs[0]
    if case .conv2d(let a) = out.nodes[conv].op { #expect(a.groups == 1) }
    if case .convTranspose2d(let a) = out.nodes[conv].op { #expect(a.groups == 1) }
    #expect(!Self.dependents(of: "s", in: out).contains(out.nodes[conv].inputs[1]))
    // and the demodulation no longer squares a per-sample weight: nothing weight-sized depends on s
    #expect(Self.largestStyleDependent(out) == 0)
    #expect(Self.largestStyleDependent(g) >= batch * 5 * 4 * 3 * 3)
    let feed = Self.feed(g, seed: 3)
    let a = try Interpreter.run(g, inputs: feed), b = try Interpreter.run(out, inputs: feed)
    #expect(b["y"]!.maxRelativeDifference(to: a["y"]!) < 1e-12)
    // gradients: the differentiated rewrite has no weight-gradient convolution and equals the
    // gradient of the graph as written
    let plain = try gradients(of: g.output(named: "loss")!, wrt: [g.input(named: "s")!, g.input(named: "x")!])
    let optimized = try differentiate(g, loss: "loss", wrt: ["s", "x"])
    #expect(plain.opCounts["conv2d_weight_grad"] == 1)
    #expect(optimized.opCounts["conv2d_weight_grad"] == nil)
    let ga = try Interpreter.run(plain, inputs: feed), gb = try Interpreter.run(optimized, inputs: feed)
    for k in ["grad:s", "grad:x"] { #expect(gb[k]!.maxRelativeDifference(to: ga[k]!) < 1e-10, "\(k)") }
    // the same op mix as the hand-written input-scaling form
    let hand = try differentiate(Self.layer(batch: batch, up: up, form: .inputScaling), loss: "loss", wrt: ["s", "x"])
    for op in ["conv2d", "conv_transpose2d", "conv2d_weight_grad", "matmul"] { #expect(optimized.opCounts[op] == hand.opCounts[op], "\(op)") }
  }

  @Test func toRGBWithoutDemodulation() throws {
    let g = Self.layer(batch: 1, up: false, form: .groupedWeights, demodulate: false)
    let out = try PassPipeline.forward.run(g).0
    #expect(Self.largestStyleDependent(out) == 0)
    let feed = Self.feed(g, seed: 5)
    #expect(try Interpreter.run(out, inputs: feed)["y"]!.maxRelativeDifference(to: try Interpreter.run(g, inputs: feed)["y"]!) < 1e-12)
  }

  @Test func plainConvolutionsAreLeftAlone() throws {
    let g = Graph()
    let x = g.input("x", [1, 4, 6, 6]), w = g.input("w", [5, 4, 3, 3]), s = g.input("s", [5, 4, 3, 3])
    g.output("y", conv2d(x, w * 2, padding: 1))  // a scalar factor is not a channel scale
    g.output("z", conv2d(x, w * s, padding: 1))  // an elementwise weight product has no channel factor
    let out = ScaleFactoring().run(g)
    #expect(out.opCounts == g.opCounts)
  }

  @Test func groupedConvolutionOfABatchedInputIsLeftAlone() throws {
    // two groups over a batch of 2: the groups are not the samples, so nothing moves
    let g = Graph()
    let x = g.input("x", [2, 8, 5, 5]), w = g.input("w", [2, 3, 4, 3, 3]), s = g.input("s", [2, 1, 4, 1, 1])
    g.output("y", conv2d(x, reshape(w * s, [6, 4, 3, 3]), padding: 1, groups: 2))
    let out = ScaleFactoring().run(g)
    #expect(out.opCounts == g.opCounts)
  }

  /// `sum_R(square(product))` for factor layouts where the contraction applies and where it must not.
  @Test func squareSumFactoring() throws {
    struct Case { var factors: [Shape]; var axes: [Int]; var fires: Bool; var full: Shape? = nil }
    let cases = [
      Case(factors: [[1, 5, 4, 3, 3], [2, 1, 4, 1, 1], [1, 1, 1, 1, 1]], axes: [2, 3, 4], fires: true),  // demodulation
      Case(factors: [[5, 4, 3], [1, 4, 1]], axes: [1, 2], fires: true),
      Case(factors: [[1, 4, 3], [6, 1, 1]], axes: [1], fires: true),  // no shared axis: outer product
      Case(factors: [[1, 4, 3], [6, 1, 1]], axes: [0, 1, 2], fires: true),  // everything reduced
      Case(factors: [[5, 4, 1, 3], [1, 4, 2, 1]], axes: [1, 3], fires: true),  // kept axes interleave
      Case(factors: [[5, 4, 1, 3], [1, 4, 2, 1]], axes: [1], fires: false),  // nothing saved
      Case(factors: [[5, 4, 1], [1, 4, 1]], axes: [1, 2], fires: true, full: [5, 4, 2]),  // no factor varies along axis 2
      Case(factors: [[5, 4, 3], [5, 4, 1]], axes: [1], fires: false),  // axis 0 kept by both: a batched product
      Case(factors: [[5, 4, 3], [5, 1, 3]], axes: [], fires: false),
    ]
    for (n, c) in cases.enumerated() {
      let g = Graph()
      let full = c.full ?? c.factors.reduce(c.factors[0]) { a, b in zip(a, b).map { max($0, $1) } }
      var p = broadcast(g.input("f0", c.factors[0]), to: full)
      for (i, s) in c.factors.enumerated().dropFirst() { p = p * broadcast(g.input("f\(i)", s), to: full) }
      g.output("y", sum(square(p), axes: c.axes))
      let out = DeadCodeElimination().run(SquareSumFactoring().run(g))
      #expect((out.opCounts["matmul"] != nil) == c.fires, "case \(n)")
      let feed = Self.feed(g, seed: UInt64(n))
      let a = try Interpreter.run(g, inputs: feed)["y"]!, b = try Interpreter.run(out, inputs: feed)["y"]!
      #expect(a.shape == b.shape && b.maxRelativeDifference(to: a) < 1e-12, "case \(n)")
    }
  }

  @Test func differentiateChecksNames() throws {
    let g = Graph()
    let x = g.input("x", [3])
    g.output("loss", sum(exp(x)))
    #expect(throws: GraphError.self) { try differentiate(g, loss: "nope", wrt: ["x"]) }
    #expect(throws: GraphError.self) { try differentiate(g, loss: "loss", wrt: ["y"]) }
    let d = try differentiate(g, loss: "loss", wrt: ["x"])
    let v = try Interpreter.run(d, inputs: ["x": HostTensor<Double>(shape: [3], values: [0, 1, 2])])["grad:x"]!
    #expect(v.values == [0, 1, 2].map { Double.exp($0) })
  }

  /// Transposed convolutions as stride-1 phase convolutions: same values for the shapes the
  /// models use (StyleGAN2's k3 s2 and its blur's adjoint, depthwise k4 s1 p1; DCGAN's k4 s2
  /// p1; AlexNet's adjoint k11 s4 p2) and odd ones (output padding, unequal strides, groups,
  /// padding larger than the kernel); left alone when the stride exceeds the kernel.
  @Test(arguments: [
    (k: 3, s: [2, 2], p: 0, op: 0, groups: 1, phases: 4), (k: 4, s: [2, 2], p: 1, op: 0, groups: 1, phases: 4),
    (k: 11, s: [4, 4], p: 2, op: 0, groups: 1, phases: 16), (k: 3, s: [2, 2], p: 1, op: 1, groups: 1, phases: 4),
    (k: 3, s: [2, 1], p: 1, op: 0, groups: 1, phases: 2), (k: 3, s: [2, 2], p: 0, op: 0, groups: 3, phases: 4),
    (k: 3, s: [1, 1], p: 1, op: 0, groups: 1, phases: 1), (k: 4, s: [1, 1], p: 1, op: 0, groups: 6, phases: 1),
    (k: 2, s: [1, 1], p: 2, op: 0, groups: 1, phases: 0), (k: 1, s: [2, 2], p: 0, op: 0, groups: 1, phases: 0),
  ])
  func transposedConvPhases(k: Int, s: [Int], p: Int, op: Int, groups: Int, phases: Int) throws {
    let g = Graph()
    let cin = 6, cout = groups == 6 ? 6 : 4
    let x = g.input("x", [2, cin, 5, 4]), w = g.input("w", [cin, cout / groups, k, k])
    let a = ConvAttrs(stride: s, padding: [p, p, p, p], groups: groups, outputPadding: [op, s[1] > 1 ? op : 0])
    g.output("y", g.add(.convTranspose2d(a), [x, w]))
    try g.check()
    let out = DeadCodeElimination().run(TransposedConvPhases().run(g))
    #expect((out.opCounts["conv_transpose2d"] == nil) == (phases > 0))
    #expect((out.opCounts["conv2d"] ?? 0) == phases)
    let feed = Self.feed(g, seed: UInt64(k))
    let ya = try Interpreter.run(g, inputs: feed)["y"]!, yb = try Interpreter.run(out, inputs: feed)["y"]!
    #expect(ya.shape == yb.shape && yb.maxRelativeDifference(to: ya) < 1e-12)
  }
}

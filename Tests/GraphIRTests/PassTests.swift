import Testing
@testable import GraphIR

/// Each pass on a graph where it must fire and one where it must not; and every rewrite keeps
/// the graph's values (checked with the interpreter).
@Suite struct PassTests {
  static func values(_ g: Graph, _ feed: [String: HostTensor<Double>]) throws -> [String: HostTensor<Double>] {
    try Interpreter.run(g, inputs: feed)
  }

  @Test func deadCodeElimination() throws {
    let g = Graph()
    let x = g.input("x", [4]), unused = g.input("unused", [2])
    _ = exp(x) * 3  // dead
    _ = unused + 1  // dead
    g.output("y", tanh(x))
    let out = DeadCodeElimination().run(g)
    #expect(out.nodes.count == 3)  // both inputs kept, plus tanh
    #expect(out.input(named: "unused") != nil)
    let clean = DeadCodeElimination().run(out)
    #expect(clean.nodes == out.nodes)  // nothing left to remove
  }

  @Test func commonSubexpressionElimination() throws {
    let g = Graph()
    let a = g.input("a", [3]), b = g.input("b", [3])
    g.output("y", exp(a * b) + exp(b * a))  // commutative match
    let out = DeadCodeElimination().run(CommonSubexpressionElimination().run(g))
    #expect(out.opCounts["exp"] == 1 && out.opCounts["mul"] == 1)
    let feed = ["a": HostTensor<Double>(shape: [3], values: [1, 2, 3]), "b": HostTensor(shape: [3], values: [0.5, -1, 0.1])]
    #expect(try Self.values(out, feed) == Self.values(g, feed))

    let h = Graph()
    let c = h.input("a", [3]), d = h.input("b", [3])
    h.output("y", exp(c - d) + exp(d - c))  // sub is not commutative
    #expect(CommonSubexpressionElimination().run(h).opCounts["exp"] == 2)
  }

  /// Constants merge by content (their hash is made once from the bytes): separate objects
  /// with equal values merge, values that differ in one element or only in the sign of a
  /// zero do not, and hashing twice gives the same value.
  @Test func cseMergesConstantsByContent() throws {
    let big = (0..<100_000).map { Float($0 % 977) * 0.25 }
    var changed = big
    changed[99_999] += 1
    let g = Graph()
    let x = g.input("x", [100_000])
    let sums = [big, big, changed].map { x * g.constant($0, [100_000]) }
    let zeros = [Float(0), -Float(0)].map { x * g.constant([Float](repeating: $0, count: 100_000), [100_000]) }
    g.output("y", sums[0] + sums[1] + sums[2] + zeros[0] + zeros[1])
    let out = DeadCodeElimination().run(CommonSubexpressionElimination().run(g))
    #expect(out.opCounts["constant"] == 4)  // big, changed, +0, -0
    #expect(out.opCounts["mul"] == 4)
    let a = Constant(shape: [100_000], values: big), b = Constant(shape: [100_000], values: big)
    #expect(a == b && a.hashValue == b.hashValue && a.hashValue == a.hashValue)
    #expect(a != Constant(shape: [100_000], values: changed))
  }

  @Test func constantFolding() throws {
    let g = Graph()
    let x = g.input("x", [2])
    let k = exp(g.constant([0, 1], [2])) * 2  // foldable
    g.output("y", x * k)
    let out = DeadCodeElimination().run(ConstantFolding().run(g))
    #expect(out.opCounts["exp"] == nil)
    let feed = ["x": HostTensor<Double>(shape: [2], values: [1, 1])]
    #expect(try Self.values(out, feed)["y"]!.maxRelativeDifference(to: Self.values(g, feed)["y"]!) < 1e-7)

    let h = Graph()
    h.output("y", exp(h.input("x", [2])) + broadcast(h.scalar(1), to: [2]))
    let kept = DeadCodeElimination().run(ConstantFolding().run(h))
    #expect(kept.opCounts["exp"] == 1)  // depends on an input
    #expect(kept.opCounts["broadcast"] == 1)  // a broadcast scalar is not materialized
    #expect(kept.nodes.allSatisfy { if case .constant(let c) = $0.op { return c.values.count == 1 } else { return true } })
  }

  @Test func algebraicSimplification() throws {
    let g = Graph()
    let x = g.input("x", [2, 3])
    let t = transpose(transpose(x, [1, 0]), [1, 0])  // identity
    let y = (t * 1 + 0) / 1 - 0
    g.output("y", -(-reshape(reshape(y, [3, 2]), [2, 3])))
    g.output("z", x * 0)
    let out = DeadCodeElimination().run(AlgebraicSimplification().run(g))
    #expect(out.output(named: "y")!.id == out.input(named: "x")!.id)
    #expect(AlgebraicSimplification.splat(out, out.output(named: "z")!.id) == 0)
    let feed = ["x": HostTensor<Double>(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])]
    #expect(try Self.values(out, feed) == Self.values(g, feed))

    let h = Graph()
    let a = h.input("x", [2, 3])
    h.output("y", transpose(a * 2 + 1, [1, 0]))
    let same = AlgebraicSimplification().run(h)
    #expect(same.opCounts == h.opCounts)
  }

  @Test func pipelineRecordsEveryPassAndKeepsValues() throws {
    let g = Graph()
    let x = g.input("x", [1, 2, 4, 4]), w = g.input("w", [2, 2, 3, 3])
    let loss = sum(square(leakyRelu(conv2d(x, w, padding: 1) * 1, slope: 0.2)))
    g.output("loss", loss)
    let gg = try gradients(of: loss, wrt: [x, w])
    var seen: [String] = []
    let (opt, records) = try PassPipeline(PassPipeline.standard.passes) { r, _ in seen.append(r.pass) }.run(gg)
    #expect(seen.prefix(7) == ["constant-folding", "algebraic-simplification", "conv-scale-factoring", "square-sum-factoring", "conv-transpose-phases", "cse", "dce"])
    #expect(records.last!.nodesAfter <= records.first!.nodesBefore)
    #expect(opt.nodes.count < gg.nodes.count)
    var rng = SplitMix64(seed: 2)
    let feed = ["x": HostTensor<Double>(shape: [1, 2, 4, 4], values: rng.normals(32)),
                "w": HostTensor<Double>(shape: [2, 2, 3, 3], values: rng.normals(36))]
    let a = try Self.values(opt, feed), b = try Self.values(gg, feed)
    for k in b.keys { #expect(a[k]!.maxRelativeDifference(to: b[k]!) < 1e-12) }
    try Verifier.verify(opt)
  }
}

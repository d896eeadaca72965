import Codegen
import Foundation
import GraphIR
import Testing
@testable import Runtime

@Suite struct ProgramTests {
  static func convGraph() -> Graph {
    let g = Graph("conv")
    let x = g.input("x", [2, 8, 16, 16]), w = g.input("w", [16, 8, 3, 3]), b = g.input("b", [16])
    g.output("y", leakyRelu(conv2d(x, w, padding: 1) + reshape(b, [1, 16, 1, 1]), slope: 0.2))
    return g
  }

  static func feed(_ g: Graph, seed: UInt64) -> [String: HostTensor<Float>] {
    var rng = SplitMix64(seed: seed)
    return Dictionary(uniqueKeysWithValues: g.inputs.map { i in
      let s = g.nodes[i.id].shape
      return (i.name, HostTensor(shape: s, values: rng.normals(s.elementCount).map { Float($0) }))
    })
  }

  @Test func profileFlopsMatchAnIndependentCountOfMultiplyAdds() throws {
    let g = Self.convGraph()
    let p = try Program(g)
    p.resetProfile()
    _ = try p.run(inputs: Self.feed(g, seed: 1))
    _ = try p.run()
    let report = p.profileReport()
    let conv = report.rows.first { $0.kind == "gemm" }!
    // each output element: 8 input channels x 3 x 3 taps; 2 x 16 x 16 x 16 outputs
    let multiplyAdds = 2 * 16 * 16 * 16 * (8 * 3 * 3)
    #expect(conv.flopsPerCall == Double(2 * multiplyAdds))
    #expect(conv.calls == 2)
    #expect(report.runs == 2)
    let epilogue = report.rows.first { $0.kind == "kernel" }!
    #expect(epilogue.opsFused == 2)  // bias add and leaky relu in one pass over the GEMM output
    #expect(report.rows.filter { $0.kind == "kernel" }.count == 1)
    // the ILOC_DEBUG=2 line of the conv reports the same FLOPs: 1179648 in 1 ms = 1.18 GFLOP/s
    let line = p.steps.first { $0.kind == "gemm" }!.debugLine(seconds: 1e-3)
    #expect(line.contains("1.18 GFLOP/s"), "\(line)")
    #expect(report.table().contains("conv2d gemm"))
    #expect(report.csv().split(separator: "\n").count == report.rows.count + 1)
    // the GEMM call is timed apart from the step's im2col: positive, and part of the step's time
    let inside = try #require(conv.gemmMilliseconds)
    #expect(inside > 0 && inside <= conv.milliseconds)
    #expect(report.rows.filter { $0.kind != "gemm" }.allSatisfy { $0.gemmMilliseconds == nil })
  }

  @Test func winogradIsSelectedForLarge3x3Convolutions() throws {
    let g = Graph("w")
    let x = g.input("x", [1, 32, 8, 8]), w = g.input("w", [32, 32, 3, 3])
    let y = conv2d(x, w, padding: 1)
    g.output("y", y)
    let gg = try gradients(of: sum(y * y), wrt: [x])  // forward conv and its stride-1 transpose
    let p = try Program(gg)
    #expect(p.steps.filter { $0.label.contains("winograd") }.count == 2)
    var o = ProgramOptions()
    o.winograd = false
    #expect(try Program(gg, options: o).steps.filter { $0.label.contains("winograd") }.isEmpty)
    // a 4x4 output has 4 tiles: its products would fill a quarter of a 16-wide GEMM tile
    let small = try Self.convLossGradient(x: [1, 32, 4, 4], w: [32, 32, 3, 3])
    #expect(try Program(small).steps.filter { $0.label.contains("winograd") }.isEmpty)
    // 16 tiles do with 32 channels, not with 512 (transformed weights of 16 MB, read per product)
    #expect(WinogradStep.eligible(.conv2d(ConvAttrs(padding: [1, 1, 1, 1])), [[1, 32, 8, 8], [32, 32, 3, 3]], output: [1, 32, 8, 8]))
    #expect(!WinogradStep.eligible(.conv2d(ConvAttrs(padding: [1, 1, 1, 1])), [[1, 512, 8, 8], [512, 512, 3, 3]], output: [1, 512, 8, 8]))
    #expect(WinogradStep.eligible(.conv2d(ConvAttrs(padding: [1, 1, 1, 1])), [[1, 512, 16, 8], [512, 512, 3, 3]], output: [1, 512, 16, 8]))
  }

  /// Winograd in blocks of tile rows (here one row of tiles per block, 8 blocks) gives the bits
  /// of the whole-image transform, forward and transposed, and agrees with the interpreter.
  @Test func winogradBlocksOfTileRowsMatchTheWholeImage() throws {
    let gg = try Self.convLossGradient(x: [2, 16, 16, 12], w: [16, 16, 3, 3])
    var blocked = ProgramOptions()
    blocked.winogradBlockBytes = 1
    let whole = try Program(gg), rows = try Program(gg, options: blocked)
    #expect(rows.steps.filter { $0.label.contains("winograd") }.count == 2)
    #expect(rows.steps.compactMap { ($0 as? WinogradStep)?.blockRows }.allSatisfy { $0 == 1 })
    #expect(whole.steps.compactMap { ($0 as? WinogradStep)?.blockRows }.allSatisfy { $0 == 8 })
    try Self.expectSameBitsAndInterpreter(gg, whole, rows, seed: 5)
  }

  /// `sum(y * y)` for the 3x3 convolution `y = conv2d(x, w)` (padding 1), differentiated
  /// w.r.t. x (and w): a forward convolution and the convolutions of its gradient.
  static func convLossGradient(x xs: Shape, w ws: Shape, stride: Int = 1, weightGradient: Bool = false) throws -> Graph {
    let g = Graph("conv-loss")
    let x = g.input("x", xs), w = g.input("w", ws)
    let y = conv2d(x, w, stride: stride, padding: 1)
    g.output("y", y)
    return try gradients(of: sum(y * y), wrt: weightGradient ? [x, w] : [x])
  }

  /// Winograd with each thread transforming, multiplying and transforming back its own blocks
  /// (one tile row each, 16 blocks over the two samples) gives the bits of the whole image.
  @Test func fusedWinogradBlocksMatchTheWholeImage() throws {
    let gg = try Self.convLossGradient(x: [2, 16, 16, 12], w: [24, 16, 3, 3])
    var off = ProgramOptions(), fused = ProgramOptions()
    off.fusedBlockBytes = 0
    fused.fusedBlockBytes = 16 * (16 + 24) * 6 * 4  // one row of 6 tiles
    let whole = try Program(gg, options: off), blocks = try Program(gg, options: fused)
    let steps = blocks.steps.compactMap { $0 as? WinogradStep }
    #expect(steps.count == 2 && steps.allSatisfy { $0.fused && $0.blockRows == 1 })
    #expect(whole.steps.compactMap { $0 as? WinogradStep }.allSatisfy { !$0.fused })
    try Self.expectSameBitsAndInterpreter(gg, whole, blocks, seed: 6)
  }

  /// F(4x4) (asked for) on a 32x32 output (64 tiles; 16x16 stays F(2x2)), in fused
  /// blocks of one tile row and in blocks of tile rows, gives the bits of the whole image and
  /// agrees with the interpreter.
  @Test func f4WinogradBlocksMatchTheWholeImage() throws {
    #expect(WinogradKernels.Transform.forOutput(ho: 32, wo: 32).m == 4)
    #expect(WinogradKernels.Transform.forOutput(ho: 16, wo: 16).m == 2)
    #expect(WinogradKernels.Transform.forOutput(ho: 32, wo: 30).m == 2)
    let gg = try Self.convLossGradient(x: [1, 16, 32, 32], w: [16, 16, 3, 3])
    var off = ProgramOptions(), fused = ProgramOptions(), rows = ProgramOptions()
    off.fusedBlockBytes = 0
    fused.fusedBlockBytes = 36 * (16 + 16) * 8 * 4  // one row of 8 tiles
    rows.fusedBlockBytes = 0
    rows.winogradBlockBytes = 1
    off.winogradF4 = true; fused.winogradF4 = true; rows.winogradF4 = true
    let whole = try Program(gg, options: off)
    let steps = whole.steps.compactMap { $0 as? WinogradStep }
    #expect(steps.count == 2 && steps.allSatisfy { $0.transform.m == 4 && $0.blockRows == 8 })
    let blocks = try Program(gg, options: fused)
    #expect(blocks.steps.compactMap { $0 as? WinogradStep }.allSatisfy { $0.fused && $0.blockRows == 1 })
    try Self.expectSameBitsAndInterpreter(gg, whole, blocks, seed: 7)
    let perRow = try Program(gg, options: rows)
    #expect(perRow.steps.compactMap { $0 as? WinogradStep }.allSatisfy { !$0.fused && $0.blockRows == 1 })
    try Self.expectSameBitsAndInterpreter(gg, whole, perRow, seed: 8)
  }

  /// A strided 3x3 convolution gathered and multiplied in blocks of one output row (64
  /// positions) per thread gives the bits of the whole-image im2col product (its gradients too).
  @Test func im2colBlocksMatchTheWholeImage() throws {
    let gg = try Self.convLossGradient(x: [2, 16, 8, 128], w: [16, 16, 3, 3], stride: 2, weightGradient: true)
    var off = ProgramOptions(), fused = ProgramOptions()
    off.fusedBlockBytes = 0
    fused.fusedBlockBytes = 144 * 64 * 4  // one row: K = 144 by 64 positions
    off.winograd = false; fused.winograd = false  // (x's gradient's 2x2 phase would run by F(3x3, 2x2))
    let whole = try Program(gg, options: off), blocks = try Program(gg, options: fused)
    let forward = { (p: Program) in p.steps.compactMap { $0 as? ConvolutionGEMMStep }.filter { $0.form == .forward } }
    // y (4x64 positions: a row a block) and x's gradient as a 2x2 phase convolution, whose rows
    // of 65 positions would leave a GEMM tile nearly empty in every block (not blocked)
    #expect(forward(blocks).map(\.blockRows) == [1, nil] && forward(whole).map(\.blockRows) == [nil, nil])
    #expect(ConvolutionGEMMStep.blockingPays(o: 16, columns: 64, tile: 64))
    #expect(!ConvolutionGEMMStep.blockingPays(o: 16, columns: 65, tile: 64))
    #expect(!ConvolutionGEMMStep.blockingPays(o: 256, columns: 64, tile: 64))
    try Self.expectSameBitsAndInterpreter(gg, whole, blocks, seed: 7)
  }

  /// A depthwise 4x4 blur with rows of 33 outputs (StyleGAN2's at 32x32) loops over rows, each
  /// row split into its left border, interior and right border (the interior without clamps).
  @Test func narrowRowsOfDirectConvolutionsAreSplitIntoBordersAndInterior() throws {
    let g = Graph("blur")
    let x = g.input("x", [1, 3, 32, 32]), w = g.input("w", [3, 1, 4, 4])
    g.output("y", conv2d(x, w, stride: [1, 1], padding: [2, 2, 2, 2], groups: 3))
    let p = try Program(g)
    let conv = try #require(p.steps.compactMap { $0 as? KernelStep }.first { $0.kernel.name.contains("conv2d") })
    #expect(conv.kernel.parallel.extent == 3 * 33)
    #expect(conv.kernel.parallel.body.map { if case .loop(let l) = $0 { l.extent } else { 0 } } == [2, 29, 2])
  }

  /// `b` gives `a`'s bits on every output, and both agree with the float64 interpreter.
  static func expectSameBitsAndInterpreter(_ g: Graph, _ a: Program, _ b: Program, seed: UInt64) throws {
    let feed = Self.feed(g, seed: seed)
    let ra = try a.run(inputs: feed), rb = try b.run(inputs: feed)
    for (k, v) in ra { #expect(rb[k]!.values.map(\.bitPattern) == v.values.map(\.bitPattern), "\(k)") }
    let ref = try Interpreter.run(g, inputs: feed.mapValues { HostTensor<Double>(shape: $0.shape, values: $0.values.map(Double.init)) })
    for (k, v) in rb {
      #expect(HostTensor<Double>(shape: v.shape, values: v.values.map(Double.init)).maxRelativeDifference(to: ref[k]!) < 1e-4)
    }
  }

  @Test func objectCacheRoundTrip() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-cache-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let g = Self.convGraph()
    let feed = Self.feed(g, seed: 2)
    var options = ProgramOptions()
    options.compiler = try KernelCompiler(options: CompilerOptions(cacheDirectory: dir))
    let first = try Program(g, options: options)
    #expect(first.stats.cacheMisses > 0 && first.stats.cacheHits == 0)
    let a = try first.run(inputs: feed)["y"]!
    // a fresh compiler (a new process, as far as the JIT knows) loads every object from disk
    options.compiler = try KernelCompiler(options: CompilerOptions(cacheDirectory: dir))
    let second = try Program(g, options: options)
    #expect(second.stats.cacheMisses == 0 && second.stats.cacheHits == first.stats.cacheMisses)
    let b = try second.run(inputs: feed)["y"]!
    #expect(a.values.map(\.bitPattern) == b.values.map(\.bitPattern))
  }

  @Test func inputsPersistAcrossRunsAndProgramsCoexist() throws {
    let g = Graph("affine")
    let x = g.input("x", [4]), w = g.input("w", [4])
    g.output("y", x * w + 1)
    let h = Graph("square")
    h.output("y", square(h.input("x", [4])))
    let p = try Program(g), q = try Program(h)
    try p.setInput("w", [1, 2, 3, 4])
    try p.setInput("x", [1, 1, 1, 1])
    try q.setInput("x", [3, 3, 3, 3])
    try p.run(); try q.run()
    #expect(try p.output("y").values == [2, 3, 4, 5])
    try p.setInput("x", [2, 2, 2, 2])  // the weights stay bound
    try p.run()
    #expect(try p.output("y").values == [3, 5, 7, 9])
    #expect(try q.output("y").values == [9, 9, 9, 9])
  }

  @Test func workOnStaticInputsRunsOncePerBinding() throws {
    // y = conv(x, w * 0.5) with w static: the scaled weight and its Winograd transform are
    // computed once, and again only after w is rebound.
    let g = Graph("static")
    let x = g.input("x", [1, 16, 8, 8]), w = g.input("w", [16, 16, 3, 3])
    g.output("y", conv2d(x, w * 0.5, padding: 1))
    var o = ProgramOptions()
    o.staticInputs = ["w"]
    let p = try Program(g, options: o)
    #expect(p.steps.contains { $0.invariant })
    var feed = Self.feed(g, seed: 4)
    let ref = { (f: [String: HostTensor<Float>]) in try Interpreter.run(g, inputs: f.mapValues { $0.converted(to: Double.self) })["y"]! }
    let a = try p.run(inputs: feed)["y"]!
    #expect(a.converted(to: Double.self).maxRelativeDifference(to: try ref(feed)) < 1e-4)
    feed["x"] = HostTensor(shape: [1, 16, 8, 8], values: feed["x"]!.values.map { $0 * -2 })
    try p.setInput("x", feed["x"]!.values)
    try p.run()
    #expect(try p.output("y").converted(to: Double.self).maxRelativeDifference(to: try ref(feed)) < 1e-4)
    feed["w"] = HostTensor(shape: [16, 16, 3, 3], values: feed["w"]!.values.map { $0 + 0.25 })
    try p.setInput("w", feed["w"]!.values)
    try p.run()
    #expect(try p.output("y").converted(to: Double.self).maxRelativeDifference(to: try ref(feed)) < 1e-4)
  }

  @Test func badBindingsAreOneLineErrors() throws {
    let p = try Program(Self.convGraph())
    #expect(throws: GraphError(op: "run", message: "program 'conv' has no input 'nope'")) { try p.setInput("nope", [1]) }
    #expect(throws: GraphError(op: "run", message: "input 'b' has 3 values, expected 16 [16]")) { try p.setInput("b", [1, 2, 3]) }
  }

  @Test func memoryPlanReusesDeadBuffers() throws {
    // a chain of materialized values: each dies after the next is made
    let g = Graph("chain")
    var v = g.input("x", [1, 4, 8, 8])
    let w = g.input("w", [4, 4, 3, 3])
    for _ in 0..<6 { v = conv2d(tanh(v), w, padding: 1) }
    g.output("y", v)
    let p = try Program(g)
    #expect(p.stats.peakBytes < p.stats.unsharedBytes)
    let req = [MemoryPlan.Request(id: 0, count: 100, first: 0, last: 1), .init(id: 1, count: 100, first: 1, last: 2),
               .init(id: 2, count: 100, first: 2, last: 3)]
    let plan = MemoryPlan(req)
    #expect(plan.offsets[0] == plan.offsets[2])  // 0 and 2 never live together
    #expect(plan.offsets[0] != plan.offsets[1] && plan.offsets[1] != plan.offsets[2])
  }
}

/// F(4x4, 3x3) Winograd (opt-in) against the reference interpreter, directly on its kernels.
@Suite struct Winograd4Tests {
  @Test func f4MatchesTheInterpreterOnModerateData() throws {
    let (c, o, h) = (16, 12, 8)
    var rng = SplitMix64(seed: 11)
    let x = rng.normals(c * h * h).map { Float($0) }, w = rng.normals(o * c * 9).map { Float($0) }
    let y = [try Winograd2x2Tests.winograd(.f4, x: x, w: w, c: c, o: o, h: h, wd: h, pad: 1)]
    let g = Graph()
    g.output("y", conv2d(g.input("x", [1, c, h, h]), g.input("w", [o, c, 3, 3]), padding: 1))
    let ref = try Interpreter.run(g, inputs: ["x": HostTensor<Double>(shape: [1, c, h, h], values: x.map(Double.init)),
                                              "w": HostTensor(shape: [o, c, 3, 3], values: w.map(Double.init))])["y"]!
    #expect(HostTensor<Double>(shape: ref.shape, values: y[0].map(Double.init)).maxRelativeDifference(to: ref) < 1e-5)
  }
}

/// F(3x3, 2x2) Winograd for 2x2 convolutions (a stride-2 transposed convolution's largest phase):
/// its kernels against the float64 interpreter, on outputs the 3x3 tiles divide and on ragged
/// ones whose last tile row and column reach past the output.
@Suite struct Winograd2x2Tests {
  /// The three kernels of `t` run by the interpreter, the a^2 products in between in float: a
  /// stride-1 convolution with an r x r kernel and padding `pad` on every side.
  static func winograd(_ t: WinogradKernels.Transform, x: [Float], w: [Float], c: Int, o: Int, h: Int, wd: Int,
                       pad: Int) throws -> [Float] {
    let (ho, wo) = (h + 2 * pad - t.r + 1, wd + 2 * pad - t.r + 1)
    let xi = t.a * t.a
    let ks = [WinogradKernels.weightTransform(o: o, c: c, transposed: false, t),
              WinogradKernels.inputTransform(x: [1, c, h, wd], padTop: pad, padLeft: pad, ho: ho, wo: wo, t),
              WinogradKernels.outputTransform(y: [1, o, ho, wo], t)]
    let tiles = t.tiles(ho: ho, wo: wo).rows * t.tiles(ho: ho, wo: wo).columns
    var u = [[Float](repeating: 0, count: xi * o * c), w]
    try KernelInterpreter.run(ks[0], buffers: &u)
    let (planeV, planeM) = (WinogradKernels.plane(c * tiles), WinogradKernels.plane(o * tiles))
    var v = [[Float](repeating: 0, count: xi * planeV), x]
    try KernelInterpreter.run(ks[1], buffers: &v, scalars: [0, 0])
    var m = [Float](repeating: 0, count: xi * planeM)
    for q in 0..<xi { for a in 0..<o { for b in 0..<tiles {
      var acc: Float = 0
      for k in 0..<c { acc += u[0][q * o * c + a * c + k] * v[0][q * planeV + k * tiles + b] }
      m[q * planeM + a * tiles + b] = acc
    } } }
    var y = [[Float](repeating: .nan, count: o * ho * wo), m]
    try KernelInterpreter.run(ks[2], buffers: &y, scalars: [0, 0])
    return y[0]
  }

  /// 8x8 input, padding 1: a 9x9 output (3x3 tiles); 10x7: 11x8 (4x3 tiles, the last row of
  /// tiles 2 high, the last column 2 wide); padding 0: 9x6 from 10x7 (3x2 tiles, exact).
  @Test(arguments: [(8, 8, 1), (10, 7, 1), (10, 7, 0)])
  func matchesTheInterpreter(h: Int, wd: Int, pad: Int) throws {
    let (c, o) = (6, 5)
    var rng = SplitMix64(seed: UInt64(h * 100 + wd * 10 + pad))
    let x = rng.normals(c * h * wd).map { Float($0) }, w = rng.normals(o * c * 4).map { Float($0) }
    let y = try Self.winograd(.f3r2, x: x, w: w, c: c, o: o, h: h, wd: wd, pad: pad)
    let g = Graph()
    g.output("y", conv2d(g.input("x", [1, c, h, wd]), g.input("w", [o, c, 2, 2]), padding: pad))
    let ref = try Interpreter.run(g, inputs: ["x": HostTensor<Double>(shape: [1, c, h, wd], values: x.map(Double.init)),
                                              "w": HostTensor(shape: [o, c, 2, 2], values: w.map(Double.init))])["y"]!
    #expect(y.count == ref.values.count && !y.contains { $0.isNaN })  // every output written
    #expect(HostTensor<Double>(shape: ref.shape, values: y.map(Double.init)).maxRelativeDifference(to: ref) < 1e-5)
  }

  /// A stride-2 transposed 3x3 convolution (StyleGAN2's upsampling) and its gradient: its 2x2
  /// phase runs by F(3x3, 2x2) on a 17x17 output (36 tiles, the last row and column of tiles two
  /// outputs wide), and the phases are interleaved into the 33x33 output row by row (rows
  /// narrower than 64 would otherwise be flattened); against the same program by im2col (itself
  /// tested against the interpreter). With 16 channels the phase is too little work for Winograd.
  @Test func upsamplingPhaseRunsByWinograd() throws {
    let g = Graph("up")
    let x = g.input("x", [1, 176, 16, 16]), w = g.input("w", [176, 176, 3, 3])
    let y = convTranspose2d(x, w, stride: 2)
    g.output("y", y)
    let gg = try gradients(of: sum(y * y), wrt: [x])
    let p = try Program(gg)
    let steps = p.steps.compactMap { $0 as? WinogradStep }
    #expect(steps.count == 1 && steps[0].transform.r == 2 && steps[0].tileRows == 6 && !steps[0].fused)
    let interleave = p.steps.compactMap { $0 as? KernelStep }.filter { $0.kernel.parallel.extent == 176 * 33 }
    #expect(interleave.count == 1)  // 176 channels x 33 rows
    var im2col = ProgramOptions()
    im2col.winograd = false
    let feed = ProgramTests.feed(gg, seed: 9)
    let (got, want) = (try p.run(inputs: feed), try Program(gg, options: im2col).run(inputs: feed))
    for (k, v) in want {
      let a = HostTensor<Double>(shape: v.shape, values: v.values.map(Double.init))
      let b = HostTensor<Double>(shape: v.shape, values: got[k]!.values.map(Double.init))
      #expect(b.maxRelativeDifference(to: a) < 1e-4, "\(k)")
    }
    #expect(WinogradStep.eligible(.conv2d(ConvAttrs(padding: [1, 1, 1, 1])), [[1, 176, 16, 16], [176, 176, 2, 2]],
                                  output: [1, 176, 17, 17]))
    #expect(!WinogradStep.eligible(.conv2d(ConvAttrs(padding: [1, 1, 1, 1])), [[1, 128, 16, 16], [64, 128, 2, 2]],
                                   output: [1, 64, 17, 17]))  // the DCGAN's phases
  }
}

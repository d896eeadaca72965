import Testing
@testable import GraphIR

/// One finite-difference gradient check per op (Double, relative error < 1e-6).
@Suite struct OpGradientTests {
  typealias GC = GradientCheck

  @Test(arguments: [UnaryOp.neg, .exp, .tanh, .sigmoid, .square, .sin, .cos])
  func smoothUnary(_ op: UnaryOp) throws {
    try GC.check(op.rawValue, [("x", [3, 4])]) { unary(op, $0[0]) }
  }

  @Test(arguments: [UnaryOp.sqrt, .rsqrt, .log, .reciprocal])
  func positiveDomainUnary(_ op: UnaryOp) throws {
    try GC.check(op.rawValue, [("x", [3, 4])], samplers: [GC.positive]) { unary(op, $0[0]) }
  }

  @Test(arguments: [UnaryOp.abs, .relu])
  func kinkedUnary(_ op: UnaryOp) throws {
    try GC.check(op.rawValue, [("x", [3, 4])], samplers: [GC.awayFromZero]) { unary(op, $0[0]) }
  }

  @Test func piecewiseConstantUnaryHasZeroGradient() throws {
    for op in [UnaryOp.sign, .floor] {
      let g = Graph()
      let x = g.input("x", [5])
      let gg = try gradients(of: sum(unary(op, x) * 3), wrt: [x])
      let out = try Interpreter.run(gg, inputs: ["x": HostTensor<Double>(shape: [5], values: [-2, -0.5, 0.3, 1.7, 4])])
      #expect(out["grad:x"]!.values == [0, 0, 0, 0, 0])
    }
  }

  @Test func leakyRelu() throws {
    try GC.check("leaky_relu", [("x", [4, 5])], samplers: [GC.awayFromZero]) { GraphIR.leakyRelu($0[0], slope: 0.2) }
  }

  @Test(arguments: [BinaryOp.add, .sub, .mul])
  func smoothBinary(_ op: BinaryOp) throws {
    try GC.check(op.rawValue, [("a", [2, 3]), ("b", [2, 3])]) { binary(op, $0[0], $0[1]) }
  }

  @Test func divide() throws {
    try GC.check("div", [("a", [2, 3]), ("b", [2, 3])], samplers: [GC.normal, GC.positive]) { $0[0] / $0[1] }
  }

  @Test func power() throws {
    try GC.check("pow", [("a", [2, 3]), ("b", [2, 3])], samplers: [GC.positive, GC.normal]) { pow($0[0], $0[1]) }
  }

  @Test(arguments: [BinaryOp.max, .min])
  func maxMin(_ op: BinaryOp) throws {
    // distinct values, interleaved so that each side wins somewhere
    try GC.check(op.rawValue, [("a", [12]), ("b", [12])], samplers: [GC.distinct, { rng, n in
      (0..<n).map { _ in rng.uniform() * 4 - 2 + 0.05 } }]) { binary(op, $0[0], $0[1]) }
  }

  @Test func atan2AllQuadrants() throws {
    let quadrants: GC.Sampler = { rng, n in (0..<n).map { i in Double([1, -1][i % 2]) * (0.3 + rng.uniform()) } }
    let quadrantsX: GC.Sampler = { rng, n in (0..<n).map { i in Double([1, 1, -1, -1][i % 4]) * (0.3 + rng.uniform()) } }
    try GC.check("atan2", [("y", [8]), ("x", [8])], samplers: [quadrants, quadrantsX]) { atan2($0[0], $0[1]) }
  }

  @Test func broadcastingBinary() throws {
    try GC.check("broadcast-add", [("a", [3, 1]), ("b", [4])]) { $0[0] + $0[1] }
    try GC.check("broadcast-mul-scalar", [("a", [2, 3, 4]), ("s", [])]) { $0[0] * $0[1] * 1.5 }
  }

  @Test func selectOp() throws {
    try GC.check("select", [("c", [6]), ("a", [6]), ("b", [6])], samplers: [GC.awayFromZero, GC.normal, GC.normal]) {
      select($0[0] > 0, $0[1], $0[2])
    }
  }

  @Test func reductions() throws {
    try GC.check("sum", [("x", [2, 3, 4])]) { sum($0[0], axes: [0, 2]) }
    try GC.check("mean", [("x", [2, 3, 4])]) { mean($0[0], axes: [1], keepDims: true) }
    try GC.check("max", [("x", [2, 3, 4])], samplers: [GC.distinct]) { max($0[0], axes: [2]) }
    try GC.check("max-all", [("x", [2, 3, 4])], samplers: [GC.distinct]) { max($0[0], axes: [0, 1, 2]) }
  }

  @Test func movement() throws {
    try GC.check("reshape", [("x", [2, 6])]) { reshape($0[0], [3, 4]) * reshape($0[0], [3, 4]) }
    try GC.check("transpose", [("x", [2, 3, 4])]) { transpose($0[0], [2, 0, 1]) }
    try GC.check("broadcast", [("x", [3, 1])]) { broadcast($0[0], to: [2, 3, 5]) }
    try GC.check("slice", [("x", [5, 7])]) { slice($0[0], start: [1, 0], end: [5, 7], step: [2, 3]) }
    try GC.check("pad", [("x", [3, 4])]) { pad($0[0], lo: [1, 0], hi: [2, 3], interior: [1, 2]) }
    try GC.check("pad-reflect", [("x", [1, 2, 4, 5])]) { pad2d($0[0], [2, 1, 3, 4], mode: .reflect) }
    try GC.check("reverse", [("x", [3, 4])]) { reverse($0[0], axes: [1]) }
    try GC.check("concat", [("a", [2, 3]), ("b", [2, 2])]) { concat([$0[0], $0[1], $0[0]], axis: 1) }
    try GC.check("gather", [("x", [4, 3])]) { gather($0[0], axis: 0, indices: [3, 0, 0, 2]) }
    try GC.check("scatter-add", [("x", [4, 3])]) { scatterAdd($0[0], axis: 0, indices: [3, 0, 0, 2], size: 5) }
    try GC.check("upsample-zeros", [("x", [1, 2, 3, 3])]) { upsampleZeros($0[0], factor: 2) }
  }

  @Test func matrixProducts() throws {
    try GC.check("matmul", [("a", [3, 4]), ("b", [4, 2])]) { matmul($0[0], $0[1]) }
    try GC.check("batched-matmul", [("a", [2, 3, 4]), ("b", [2, 4, 5])]) { matmul($0[0], $0[1]) }
    try GC.check("broadcast-batch-matmul", [("a", [2, 3, 4]), ("b", [4, 5])]) { matmul($0[0], $0[1]) }
  }

  @Test func convolutions() throws {
    try GC.check("conv2d", [("x", [2, 3, 6, 5]), ("w", [4, 3, 3, 3])]) { conv2d($0[0], $0[1], padding: 1) }
    try GC.check("conv2d-stride2-asym", [("x", [1, 2, 7, 6]), ("w", [3, 2, 3, 2])]) {
      conv2d($0[0], $0[1], stride: [2, 2], padding: [1, 0, 2, 1])
    }
    try GC.check("conv2d-groups", [("x", [1, 4, 5, 5]), ("w", [6, 2, 3, 3])]) { conv2d($0[0], $0[1], padding: 1, groups: 2) }
    try GC.check("conv2d-depthwise", [("x", [1, 3, 5, 5]), ("w", [3, 1, 4, 4])]) { conv2d($0[0], $0[1], padding: 2, groups: 3) }
  }

  @Test func transposedConvolutions() throws {
    try GC.check("conv_transpose2d", [("x", [1, 3, 4, 4]), ("w", [3, 2, 3, 3])]) { convTranspose2d($0[0], $0[1], stride: 2) }
    try GC.check("conv_transpose2d-pad-outpad-groups", [("x", [2, 4, 3, 3]), ("w", [4, 3, 4, 4])]) {
      convTranspose2d($0[0], $0[1], stride: 2, padding: 1, outputPadding: 1, groups: 2)
    }
  }

  @Test func convWeightGradIsDifferentiable() throws {
    let a = ConvAttrs(stride: [2, 2], padding: [1, 1, 0, 1], groups: 2)
    try GC.check("conv2d_weight_grad", [("x", [1, 4, 6, 5]), ("gy", [1, 2, 3, 2])]) {
      $0[0].graph.add(.conv2dWeightGrad(a, weightShape: [2, 2, 3, 3]), [$0[0], $0[1]])
    }
  }

  @Test func pooling() throws {
    try GC.check("max_pool2d", [("x", [1, 2, 6, 6])], samplers: [GC.distinct]) { maxPool2d($0[0], kernel: 2) }
    try GC.check("max_pool2d-overlap-pad", [("x", [1, 1, 5, 5])], samplers: [GC.distinct]) {
      maxPool2d($0[0], kernel: 3, stride: 2, padding: 1)
    }
    try GC.check("avg_pool2d", [("x", [1, 2, 6, 6])]) { avgPool2d($0[0], kernel: 2) }
  }

  @Test func fourierTransforms() throws {
    try GC.check("fft", [("x", [2, 6, 2])]) { fft($0[0]) }
    try GC.check("ifft", [("x", [5, 2])]) { ifft($0[0]) }
  }
}

import Testing
@testable import GraphIR

/// Finite-difference checks of whole layers and losses built from many ops.
@Suite struct CompositeGradientTests {
  /// One StyleGAN2 synthesis layer: modulation (equalized linear, bias around 1), modulated
  /// conv with demodulation, noise injection, fused leaky ReLU.
  static func styledConv(_ x: [Tensor], form: ModulationForm) -> Tensor {
    let (feat, w, modW, modB, weight, noise, strength, bias) = (x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7])
    let style = equalLinear(w, weight: modW, bias: modB + 1, scale: 1 / Float(w.shape[1]).squareRoot())
    let y = modulatedConv2d(feat, weight: weight, style: style, demodulate: true, form: form)
    return fusedLeakyRelu(injectNoise(y, noise: noise, strength: strength), bias: bias)
  }

  static let layerInputs: [(String, Shape)] = [
    ("x", [2, 3, 5, 5]), ("w", [2, 4]), ("mod_w", [3, 4]), ("mod_b", [3]),
    ("weight", [2, 3, 3, 3]), ("noise", [2, 1, 5, 5]), ("noise_strength", [1]), ("bias", [2]),
  ]

  @Test(arguments: [ModulationForm.groupedWeights, .inputScaling])
  func styleGAN2ModulatedConvLayer(_ form: ModulationForm) throws {
    try GradientCheck.check("styled-conv", Self.layerInputs, seed: 3, maxProbes: 40) { Self.styledConv($0, form: form) }
  }

  @Test func modulationFormsAgree() throws {
    let g = Graph()
    let xs = Self.layerInputs.map { g.input($0.0, $0.1) }
    g.output("a", Self.styledConv(xs, form: .groupedWeights))
    g.output("b", Self.styledConv(xs, form: .inputScaling))
    var rng = SplitMix64(seed: 9)
    let feed = Dictionary(uniqueKeysWithValues: Self.layerInputs.map {
      ($0.0, HostTensor<Double>(shape: $0.1, values: rng.normals($0.1.elementCount)))
    })
    let out = try Interpreter.run(g, inputs: feed)
    #expect(out["a"]!.maxRelativeDifference(to: out["b"]!) < 1e-12)
  }

  @Test func geoCrossLoss() throws {
    try GradientCheck.check("geocross", [("z", [2, 4, 6])], seed: 5) { geoCross($0[0]) }
  }

  @Test func geoCrossClosedForm() throws {
    // Two orthogonal unit rows: each off-diagonal geodesic distance is 2*atan2(sqrt2, sqrt2) = pi/2,
    // the diagonal is ~0; mean over 4 pairs of D*d^2/8 with D=2: (2 * (pi/2)^2 * 2 / 4) / 8.
    let g = Graph()
    let z = g.input("z", [1, 2, 2])
    g.output("l", geoCross(z))
    let v = try Interpreter.run(g, inputs: ["z": HostTensor<Double>(shape: [1, 2, 2], values: [1, 0, 0, 1])])["l"]!.values[0]
    let expected = 2 * (Double.pi / 2) * (Double.pi / 2) * 2 / 4 / 8
    #expect(Swift.abs(v - expected) < 1e-4)  // the 1e-9 epsilon on the diagonal adds ~1e-5
  }

  @Test func deadZoneAndMSE() throws {
    try GradientCheck.check("mse", [("a", [3, 4]), ("b", [3, 4])]) { mseLoss($0[0], $0[1]) }
    try GradientCheck.check("dead-zone", [("a", [12]), ("b", [12])], samplers: [GradientCheck.distinct, { _, n in
      [Double](repeating: 0.013, count: n) }]) { deadZoneL1($0[0], $0[1], alpha: 0.1) }
  }
}

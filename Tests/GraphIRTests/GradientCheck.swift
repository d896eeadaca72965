import Testing
@testable import GraphIR

/// Central finite-difference gradient checking in Double: the independent truth for every
/// VJP rule. The checked function is `loss = sum(f(inputs) * R)` with a random R, so every
/// output element's gradient path is exercised with a different weight.
struct GradientCheck {
  typealias Sampler = (inout SplitMix64, Int) -> [Double]
  static let normal: Sampler = { rng, n in rng.normals(n) }
  static let positive: Sampler = { rng, n in (0..<n).map { _ in 0.5 + 1.5 * rng.uniform() } }
  /// Values with |x| in [0.2, 1.2]: away from the kink of abs/relu/leaky relu.
  static let awayFromZero: Sampler = { rng, n in
    (0..<n).map { _ in (rng.uniform() < 0.5 ? -1 : 1) * (0.2 + rng.uniform()) }
  }
  /// A random permutation of well separated values: no ties for max/min/pooling.
  static let distinct: Sampler = { rng, n in
    var v = (0..<n).map { Double($0) * 0.37 - Double(n) * 0.18 }
    v.shuffle(using: &rng)
    return v
  }

  /// Returns the max relative error between the graph gradient and finite differences.
  @discardableResult
  static func check(
    _ name: String, _ inputs: [(String, Shape)], samplers: [Sampler]? = nil, seed: UInt64 = 1,
    maxProbes: Int = 60, eps: Double = 1e-5, tolerance: Double = 1e-6,
    sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor
  ) throws -> Double {
    let g = Graph(name)
    let xs = inputs.map { g.input($0.0, $0.1) }
    let y = f(xs)
    let r = g.input("R", y.shape)
    let loss = sum(y * r)
    g.output("loss", loss)
    try g.check()
    let gg = try gradients(of: loss, wrt: xs)
    try Verifier.verify(gg)

    var rng = SplitMix64(seed: seed)
    var values: [String: HostTensor<Double>] = [:]
    for (k, (n, s)) in inputs.enumerated() {
      values[n] = HostTensor(shape: s, values: (samplers?[k] ?? normal)(&rng, s.elementCount))
    }
    values["R"] = HostTensor(shape: y.shape, values: rng.normals(y.shape.elementCount))
    let analytic = try Interpreter.run(gg, inputs: values)

    var worst = 0.0
    for (n, s) in inputs {
      let grad = analytic["grad:" + n]!
      #expect(grad.shape == s, "gradient of \(n) has shape \(grad.shape)", sourceLocation: sourceLocation)
      let count = s.elementCount
      let probes = count <= maxProbes ? Array(0..<count) : (0..<maxProbes).map { _ in Int(rng.next() % UInt64(count)) }
      var fd = [Double](), an = [Double]()
      for i in probes {
        var plus = values, minus = values
        plus[n]!.values[i] += eps
        minus[n]!.values[i] -= eps
        let fp = try Interpreter.run(g, inputs: plus)["loss"]!.values[0]
        let fm = try Interpreter.run(g, inputs: minus)["loss"]!.values[0]
        fd.append((fp - fm) / (2 * eps))
        an.append(grad.values[i])
      }
      let scale = Swift.max(fd.map { Swift.abs($0) }.max() ?? 0, 1e-8)
      let err = zip(an, fd).map { Swift.abs($0 - $1) }.max()! / scale
      #expect(err < tolerance, "\(name): d/d\(n) relative error \(err)", sourceLocation: sourceLocation)
      worst = Swift.max(worst, err)
    }
    return worst
  }
}

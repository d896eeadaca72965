import GraphIR
import Inversion
import Testing

/// Runs operators through the reference interpreter (Double) and checks their gradients by
/// central finite differences: loss = Σ A(x) ⊙ R with a random R, so every output element's
/// gradient path is weighted differently.
enum GraphHarness {
  /// A(x) for x `[B, 3, S, S]`, with extra named inputs fed as given.
  static func apply(_ op: any ForwardOperator, _ x: HostTensor<Double>, extra: [String: HostTensor<Double>] = [:]) throws -> HostTensor<Double> {
    let g = Graph("apply")
    let t = g.input("x", x.shape)
    g.output("y", op.apply(t))
    try g.check()
    var feed = extra
    feed["x"] = x
    return try Interpreter.run(g, inputs: feed)["y"]!
  }

  static func random(_ shape: Shape, seed: UInt64) -> HostTensor<Double> {
    var rng = SplitMix64(seed: seed)
    return HostTensor(shape: shape, values: (0..<shape.elementCount).map { _ in 2 * rng.uniform() - 1 })
  }

  /// Max relative error of d(Σ f(x)⊙R)/dx against finite differences at up to `probes` entries.
  static func gradientError(
    _ inputShape: Shape, seed: UInt64 = 1, probes: Int = 40, eps: Double = 1e-5,
    extra: [String: HostTensor<Double>] = [:], _ f: (Tensor) -> Tensor
  ) throws -> Double {
    let g = Graph("fd")
    let x = g.input("x", inputShape)
    let y = f(x)
    let r = g.input("R", y.shape)
    let loss = sum(y * r)
    g.output("fd.loss", loss)  // f may register its own "loss" output
    try g.check()
    let gg = try gradients(of: loss, wrt: [x])
    var rng = SplitMix64(seed: seed)
    var feed = extra
    feed["x"] = random(inputShape, seed: seed &+ 100)
    feed["R"] = HostTensor(shape: y.shape, values: rng.normals(y.shape.elementCount))
    let analytic = try Interpreter.run(gg, inputs: feed)["grad:x"]!
    let n = inputShape.elementCount
    let idx = n <= probes ? Array(0..<n) : (0..<probes).map { _ in Int(rng.next() % UInt64(n)) }
    var fd: [Double] = [], an: [Double] = []
    for i in idx {
      var plus = feed, minus = feed
      plus["x"]!.values[i] += eps
      minus["x"]!.values[i] -= eps
      let lp = try Interpreter.run(g, inputs: plus)["fd.loss"]!.values[0]
      let lm = try Interpreter.run(g, inputs: minus)["fd.loss"]!.values[0]
      fd.append((lp - lm) / (2 * eps)); an.append(analytic.values[i])
    }
    let scale = Swift.max(fd.map { Swift.abs($0) }.max()!, 1e-8)
    return zip(an, fd).map { Swift.abs($0 - $1) }.max()! / scale
  }
}

/// max |a − b| / max(max |b|, tiny).
func relativeError<A: Collection, B: Collection>(_ a: A, _ b: B) -> Double where A.Element: BinaryFloatingPoint, B.Element: BinaryFloatingPoint {
  precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
  var diff = 0.0, scale = 0.0
  for (x, y) in zip(a, b) {
    diff = Swift.max(diff, Swift.abs(Double(x) - Double(y)))
    scale = Swift.max(scale, Swift.abs(Double(y)))
  }
  return diff / Swift.max(scale, 1e-300)
}

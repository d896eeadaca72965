import GraphIR
import Testing
@testable import Runtime

/// Property-based check: seeded random compositions of ops (elementwise, broadcasting,
/// reductions, movement, products, convolutions), differentiated, run by the compiled engine
/// and by the reference interpreter; outputs and gradients must agree within 1e-4.
@Suite struct RandomCompositionTests {
  /// Builds a random graph from `seed`: a pool of values grows by applying random ops whose
  /// shapes fit; the result combines the last values. All ops are kept in safe domains.
  static func randomGraph(_ seed: UInt64, steps: Int = 8) -> (inputs: [(String, Shape)], build: ([Tensor]) -> Tensor) {
    var rng = SplitMix64(seed: seed)
    func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    let c = 2 + pick(3), h = 3 + pick(4), w = 3 + pick(4)
    let inputs: [(String, Shape)] = [("a", [1, c, h, w]), ("b", [1, c, h, w]), ("v", [c])]
    let choices = (0..<8).map { _ in pick(14) }
    let extra = (0..<8).map { _ in pick(1000) }
    return (inputs, { x in
      var pool = [x[0], x[1]]
      let v = reshape(x[2], [1, c, 1, 1])
      for (k, choice) in choices.prefix(steps).enumerated() {
        let p = pool[pool.count - 1 - extra[k] % Swift.min(2, pool.count)]
        let q = pool[extra[k] % pool.count]
        let s = p.shape
        var y: Tensor
        switch choice {
        case 0: y = tanh(p) * q
        case 1: y = log(abs(p) + 1) - sigmoid(q)
        case 2: y = p / (abs(q) + 1) + v
        case 3: y = leakyRelu(p * v, slope: 0.2) * Float(2).squareRoot()
        case 4: y = maximum(p, q) + minimum(p, q * 0.5)
        case 5: y = p - mean(p, axes: [2, 3], keepDims: true)  // instance-norm style centering
        case 6: y = p * rsqrt(mean(square(p), axes: [1], keepDims: true) + 1e-8)  // pixel norm
        case 7: y = transpose(p, [0, 1, 3, 2]); y = transpose(y * y, [0, 1, 3, 2])
        case 8: y = pad2d(slice(p, start: [0, 0, 1, 0], end: s), [1, 0, 0, 0], mode: .reflect) + q
        case 9: y = reshape(reshape(p, [s[1], s[2] * s[3]]) * 2, s)
        case 10:
          let wt = p.graph.constant((0..<(c * c * 9)).map { Float(($0 * 37 % 11) - 5) / 20 }, [c, c, 3, 3])
          y = conv2d(p, wt, padding: 1)
        case 11:
          let k = p.graph.constant([Float](repeating: 1.0 / 9, count: c * 9), [c, 1, 3, 3])
          y = conv2d(p, k, padding: 1, groups: c)  // blur-like depthwise
        case 12: y = concat([slice(p, axis: 1, 0..<1), slice(q, axis: 1, 1..<c)], axis: 1)
        default:
          let m = reshape(p, [c, h * w])
          y = reshape(matmul(matmul(m, transpose(m, [1, 0])) * (1 / Float(h * w)), m), s)
        }
        pool.append(y)
      }
      return pool.last! + pool[Swift.max(0, pool.count - 2)] * 0.5
    })
  }

  @Test(arguments: 1...24)
  func compiledMatchesInterpreter(_ seed: Int) throws {
    let (inputs, build) = Self.randomGraph(UInt64(seed) &* 7919)
    try EngineCheck.check("random-\(seed)", inputs, seed: UInt64(seed), build)
  }
}

import Foundation
import Testing
@testable import Codegen

/// The emitted exp/log/tanh/sigmoid/atan2 against the C library evaluated in Double, over
/// dense sweeps, plus exact special values.
@Suite struct TranscendentalTests {
  /// Compiles `y[i] = op(x[i])` and runs it on `xs`.
  static func apply(_ op: FloatUnaryOp, _ xs: [Float]) throws -> [Float] {
    let n = xs.count
    let kernel = Kernel(
      name: "unary_\(op.rawValue)",
      buffers: [KernelBuffer("x", .input, count: n), KernelBuffer("y", .output, count: n)],
      parallel: Loop("i", n, [.store(buffer: 1, index: i, value: .unary(op, .load(buffer: 0, index: i)))]))
    var arrays = [xs, [Float](repeating: -7, count: n)]
    try makeCompiler().compile(kernel).run(&arrays)
    return arrays[1]
  }

  /// Largest relative error over results whose true value is a normal float; results in the
  /// subnormal range are held to an absolute error of one subnormal step.
  static func maxRelativeError(_ got: [Float], _ truth: [Double], _ inputs: [Float]) -> (Double, Float) {
    var worst = 0.0, at: Float = 0
    for (n, (g, t)) in zip(got, truth).enumerated() {
      let err: Double
      if abs(t) >= Double(Float.leastNormalMagnitude) {
        err = abs(Double(g) - t) / abs(t)
      } else {
        err = abs(Double(g) - t) <= Double(Float.leastNonzeroMagnitude) ? 0 : 1
      }
      if err > worst || err.isNaN { worst = err; at = inputs[n] }
    }
    return (worst, at)
  }

  static func sweep(_ lo: Float, _ hi: Float, _ n: Int) -> [Float] {
    (0..<n).map { lo + (hi - lo) * Float($0) / Float(n - 1) }
  }

  /// Every `stride`-th positive float bit pattern from `from` to `to` (both magnitudes).
  static func bitSweep(from: Float, to: Float, stride: UInt32) -> [Float] {
    Array(Swift.stride(from: from.bitPattern, to: to.bitPattern, by: Int(stride))).map { Float(bitPattern: $0) }
  }

  static let bound = 1e-6

  @Test func exp() throws {
    let xs = Self.sweep(-104, 89, 400_001) + Self.sweep(-1, 1, 20_001)
    let got = try Self.apply(.exp, xs)
    let truth = xs.map { Foundation.exp(Double($0)) }
    // Above ln(FLT_MAX) the float result must be inf; compare only where the truth fits.
    let finite = xs.indices.filter { truth[$0] <= Double(Float.greatestFiniteMagnitude) }
    let (err, at) = Self.maxRelativeError(finite.map { got[$0] }, finite.map { truth[$0] }, finite.map { xs[$0] })
    print("exp max relative error \(err) at \(at)")
    #expect(err <= Self.bound, "exp error \(err) at x=\(at)")
    for n in xs.indices where Float(truth[n]).isInfinite { #expect(got[n] == .infinity, "exp(\(xs[n]))") }

    let special = try Self.apply(.exp, [-.infinity, .infinity, .nan, 0, -0.0, 88.8, 200, -200, -103.9, 1])
    #expect(special[0] == 0)
    #expect(special[1] == .infinity)
    #expect(special[2].isNaN)
    #expect(special[3] == 1 && special[4] == 1)
    #expect(special[5] == .infinity && special[6] == .infinity)
    #expect(special[7] == 0)
    #expect(special[8] >= 0 && special[8] <= 2 * Float.leastNonzeroMagnitude)  // e^-103.9 ~ 1.0e-45
    #expect(abs(special[9] - Float(M_E)) <= Float(M_E).ulp)
  }

  @Test func log() throws {
    // All magnitudes, subnormals included, plus a dense sweep around 1 where log -> 0.
    let xs = Self.bitSweep(from: Float.leastNonzeroMagnitude, to: .greatestFiniteMagnitude, stride: 1201)
      + Self.sweep(0.5, 2, 100_001)
    let got = try Self.apply(.log, xs)
    let (err, at) = Self.maxRelativeError(got, xs.map { Foundation.log(Double($0)) }, xs)
    print("log max relative error \(err) at \(at)")
    #expect(err <= Self.bound, "log error \(err) at x=\(at)")

    let special = try Self.apply(.log, [0, -0.0, -1, -.infinity, .infinity, .nan, 1, Float.leastNonzeroMagnitude])
    #expect(special[0] == -.infinity && special[1] == -.infinity)
    #expect(special[2].isNaN && special[3].isNaN && special[5].isNaN)
    #expect(special[4] == .infinity)
    #expect(special[6] == 0)
    #expect(abs(Double(special[7]) - -103.27892990343184) < 1e-5)
  }

  @Test func tanh() throws {
    let tiny = Self.bitSweep(from: 1e-30, to: 1, stride: 997)
    let xs = Self.sweep(-20, 20, 200_001) + tiny + tiny.map { -$0 }
    let got = try Self.apply(.tanh, xs)
    let (err, at) = Self.maxRelativeError(got, xs.map { Foundation.tanh(Double($0)) }, xs)
    print("tanh max relative error \(err) at \(at)")
    #expect(err <= Self.bound, "tanh error \(err) at x=\(at)")

    let special = try Self.apply(.tanh, [.infinity, -.infinity, .nan, 0, -0.0, 100, -100])
    #expect(special[0] == 1 && special[1] == -1)
    #expect(special[2].isNaN)
    #expect(special[3] == 0 && special[3].sign == .plus)
    #expect(special[4] == 0 && special[4].sign == .minus)
    #expect(special[5] == 1 && special[6] == -1)
  }

  @Test func sigmoid() throws {
    let xs = Self.sweep(-103, 30, 200_001)
    let got = try Self.apply(.sigmoid, xs)
    let truth = xs.map { 1 / (1 + Foundation.exp(-Double($0))) }
    let (err, at) = Self.maxRelativeError(got, truth, xs)
    print("sigmoid max relative error \(err) at \(at)")
    #expect(err <= Self.bound, "sigmoid error \(err) at x=\(at)")

    let special = try Self.apply(.sigmoid, [-.infinity, .infinity, .nan, 0, 200, -200])
    #expect(special[0] == 0 && special[1] == 1 && special[2].isNaN)
    #expect(special[3] == 0.5 && special[4] == 1 && special[5] == 0)
  }

  @Test func atan2() throws {
    // A polar grid (all angles, magnitudes over many decades) and an axis-aligned grid.
    var ys: [Float] = [], xs: [Float] = []
    for a in 0..<3600 {
      let angle = -Double.pi + 2 * Double.pi * Double(a) / 3600
      for r in [1e-30, 1e-3, 0.7, 1, 13, 1e6, 1e30] {
        ys.append(Float(r * sin(angle)))
        xs.append(Float(r * cos(angle)))
      }
    }
    let grid: [Float] = [-1e30, -3, -1, -0.25, -1e-20, 1e-20, 0.25, 1, 3, 1e30]
    for y in grid { for x in grid { ys.append(y); xs.append(x) } }

    let specials: [(Float, Float)] = [
      (0, 0), (-0.0, 0), (0, -0.0), (-0.0, -0.0), (0, 1), (-0.0, 1), (0, -1), (-0.0, -1),
      (1, 0), (-1, 0), (1, -0.0), (-1, -0.0),
      (.infinity, .infinity), (-.infinity, .infinity), (.infinity, -.infinity), (-.infinity, -.infinity),
      (.infinity, 1), (-.infinity, -1), (1, .infinity), (-1, .infinity), (1, -.infinity), (-1, -.infinity),
      (.nan, 1), (1, .nan), (.nan, .nan),
    ]
    ys += specials.map(\.0)
    xs += specials.map(\.1)

    let n = ys.count
    let kernel = Kernel(
      name: "atan2",
      buffers: [KernelBuffer("y", .input, count: n), KernelBuffer("x", .input, count: n), KernelBuffer("out", .output, count: n)],
      parallel: Loop("i", n, [.store(buffer: 2, index: i, value: .atan2(.load(buffer: 0, index: i), .load(buffer: 1, index: i)))]))
    var arrays = [ys, xs, [Float](repeating: 0, count: n)]
    try makeCompiler().compile(kernel).run(&arrays)
    let got = arrays[2]

    let regular = n - specials.count
    let truth = (0..<regular).map { Foundation.atan2(Double(ys[$0]), Double(xs[$0])) }
    let (err, _) = Self.maxRelativeError(Array(got[..<regular]), truth, Array(ys[..<regular]))
    print("atan2 max relative error \(err)")
    #expect(err <= Self.bound)

    // Specials: exactly what C's atan2f returns (bitwise, so signed zeros count).
    for (m, (y, x)) in specials.enumerated() {
      let g = got[regular + m], want = Foundation.atan2(y, x)
      if want.isNaN {
        #expect(g.isNaN, "atan2(\(y), \(x))")
      } else {
        #expect(g.sign == want.sign && abs(g - want) <= want.ulp, "atan2(\(y), \(x)) = \(g), want \(want)")
      }
    }
  }
}

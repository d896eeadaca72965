import GraphIR
import Testing
@testable import Inversion

@Suite struct SuperresTests {
  /// Against PyTorch's F.pad(reflect) + depthwise F.conv2d implementation of reference-code §B.
  @Test(arguments: [2, 4, 8, 1])
  func matchesPyTorchGolden(_ f: Int) throws {
    let cases = Goldens.shared.bicubic
    let c = cases.first { $0.factor == f }!
    let x = (c.x ?? cases[0].x!).map { Double(Float($0)) }  // float32 values written with 9 digits
    let op = try BicubicDownsampler(factor: f, referenceFactorOne: f == 1)
    let y = try GraphHarness.apply(op, HostTensor(shape: c.shape, values: x))
    #expect(y.shape == c.yShape)
    #expect(relativeError(y.values, c.y) < 1e-7)  // the kernel constant is Float
    #expect(try op.outputShape(batch: c.shape[0], size: c.shape[2]) == c.yShape)
  }

  @Test func kernelClosedForms() throws {
    // f = 1 (reference): [−1, 9, 9, −1]/16; every kernel is symmetric and sums to 1.
    let k1 = BicubicDownsampler.kernel(factor: 1)
    #expect(relativeError(k1, [-1.0 / 16, 9.0 / 16, 9.0 / 16, -1.0 / 16]) < 1e-7)
    for f in [2, 3, 4, 8, 32] {
      let k = BicubicDownsampler.kernel(factor: f)
      #expect(k.count == 4 * f)
      #expect(Swift.abs(k.reduce(0, +) - 1) < 1e-6)
      #expect(relativeError(k, k.reversed()) < 1e-7)
    }
    #expect(BicubicDownsampler.cubic(0) == 1 && BicubicDownsampler.cubic(1) == 0 && BicubicDownsampler.cubic(2) == 0)
  }

  @Test func factorOneIsTheIdentity() throws {
    let op = try BicubicDownsampler(factor: 1)
    let g = Graph()
    let x = g.input("x", [1, 3, 4, 4])
    #expect(op.apply(x) == x)
    #expect(op.isIdentity && op.record.compat == nil)
  }

  @Test func constantImageStaysConstantAtFactor32() throws {
    // Reflect padding and a normalized kernel preserve constants; 64 -> 2 pixels.
    let op = try BicubicDownsampler(factor: 32)
    let y = try GraphHarness.apply(op, HostTensor(shape: [1, 3, 64, 64], values: [Double](repeating: 0.25, count: 3 * 64 * 64)))
    #expect(y.shape == [1, 3, 2, 2])
    #expect(y.values.allSatisfy { Swift.abs($0 - 0.25) < 1e-6 })
  }

  @Test func invalidFactorsAndSizes() throws {
    #expect(throws: InversionError.self) { try BicubicDownsampler(factor: 0) }
    #expect(throws: InversionError.self) { try BicubicDownsampler(factor: 33) }
    let op = try BicubicDownsampler(factor: 4)
    #expect(throws: InversionError.self) { try op.outputShape(batch: 1, size: 10) }  // not a multiple
    #expect(throws: InversionError.self) { try op.outputShape(batch: 1, size: 4) }  // padding 6 >= 4
    let g = Graph()
    _ = op.apply(g.input("x", [1, 3, 4, 4]))
    #expect(g.error != nil)
  }

  @Test func gradient() throws {
    let op = try BicubicDownsampler(factor: 2)
    #expect(try GraphHarness.gradientError([1, 3, 8, 8]) { op.apply($0) } < 1e-7)
  }
}

/// The naive super-resolution users compare against: bicubic upsampling with the operator's
/// Keys kernel (a = −0.5), block-centre aligned, reflect padding.
@Suite struct BicubicUpsamplingTests {
  @Test(arguments: [2, 4])
  func reproducesConstantsAndRampsAwayFromTheBorders(_ f: Int) throws {
    let op = try BicubicDownsampler(factor: f)
    let n = 8
    // ramp(y, x) = 0.1·y − 0.05·x on the low-resolution grid, two planes (the second constant)
    var y = [Float](repeating: 0.3, count: 2 * n * n)
    for r in 0..<n { for c in 0..<n { y[r * n + c] = 0.1 * Float(r) - 0.05 * Float(c) } }
    let up = op.upsample(y, shape: [1, 2, n, n])
    let big = n * f
    #expect(up.count == 2 * big * big)
    // the ramp continues linearly at the block centres: u = (i + 0.5)/f − 0.5
    for i in 2 * f..<big - 2 * f { for k in 2 * f..<big - 2 * f {
      let u = (Double(i) + 0.5) / Double(f) - 0.5, v = (Double(k) + 0.5) / Double(f) - 0.5
      #expect(Swift.abs(Double(up[i * big + k]) - (0.1 * u - 0.05 * v)) < 1e-5, "(\(i), \(k))")
    } }
    #expect(up[(big * big)...].allSatisfy { Swift.abs($0 - 0.3) < 1e-6 })
    // taps: four, summing to 1, all inside the grid at the borders
    for i in [0, 1, big - 1] {
      let t = BicubicDownsampler.upsamplingTaps(output: i, factor: f, size: n)
      #expect(t.count == 4 && Swift.abs(t.reduce(0) { $0 + $1.1 } - 1) < 1e-12)
      #expect(t.allSatisfy { (0..<n).contains($0.0) })
    }
  }
}

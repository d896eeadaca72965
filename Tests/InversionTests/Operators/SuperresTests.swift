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

import GraphIR
import Testing
@testable import Inversion

@Suite struct CirculantSensingTests {
  /// Against NumPy: Re(ifft(fft(s·v)·fft(f)))[Ω] / √m.
  @Test func matchesNumPyFFTGolden() throws {
    let c = Goldens.shared.circulant
    let op = try CirculantSensing(imageSize: c.imageSize, indices: c.indices, filter: c.filter.map { Float($0) }, signs: c.signs.map { Float($0) })
    let n = 3 * c.imageSize * c.imageSize, b = c.x.count / n
    let y = try GraphHarness.apply(op, HostTensor(shape: [b, 3, c.imageSize, c.imageSize], values: c.x.map { Double(Float($0)) }))
    #expect(y.shape == [b, c.indices.count])
    // The operator's spectrum constant is Float, so agreement is at float precision.
    #expect(relativeError(y.values, c.y) < 1e-5)
  }

  /// A seeded operator on an odd length (n = 27) against the circular convolution written as
  /// a plain Double sum: y_i = Σ_j f[(Ω_i − j) mod n]·s_j·v_j / √m.
  @Test func seededOperatorIsACircularConvolution() throws {
    let op = try CirculantSensing(imageSize: 3, measurements: 10, seed: 77)
    let n = 27
    #expect(op.indices.count == 10 && Set(op.indices).count == 10 && op.indices == op.indices.sorted())
    #expect(op.signs.allSatisfy { $0 == 1 || $0 == -1 })
    let x = GraphHarness.random([2, 3, 3, 3], seed: 3)
    let y = try GraphHarness.apply(op, x)
    for b in 0..<2 {
      for (k, i) in op.indices.enumerated() {
        var s = 0.0
        for j in 0..<n { s += Double(op.filter[((i - j) % n + n) % n]) * Double(op.signs[j]) * x.values[b * n + j] }
        #expect(Swift.abs(y.values[b * 10 + k] - s / 10.0.squareRoot()) < 1e-5)
      }
    }
  }

  @Test func seedDeterminesTheData() throws {
    let a = try CirculantSensing(imageSize: 4, measurements: 20, seed: 1)
    let b = try CirculantSensing(imageSize: 4, measurements: 20, seed: 1)
    let c = try CirculantSensing(imageSize: 4, measurements: 20, seed: 2)
    #expect(a == b && a.indices != c.indices && a.filter != c.filter)
    // Documented sub-streams: f is sub-stream 2's normals.
    var r2 = SeededStreams.generator(1, 2)
    #expect(a.filter == SeededStreams.normals(48, &r2))
    #expect(try CirculantSensing.measurementCount(percent: 50, imageSize: 4) == 24)
  }

  @Test func invalidParameters() throws {
    #expect(throws: InversionError.self) { try CirculantSensing(imageSize: 2, measurements: 13, seed: 0) }
    #expect(throws: InversionError.self) { try CirculantSensing(imageSize: 2, measurements: 0, seed: 0) }
    #expect(throws: InversionError.self) {
      try CirculantSensing(imageSize: 1, indices: [0, 0], filter: [1, 1, 1], signs: [1, 1, 1])
    }
    #expect(throws: InversionError.self) { try CirculantSensing.measurementCount(percent: 0, imageSize: 4) }
  }

  @Test func gradient() throws {
    let op = try CirculantSensing(imageSize: 2, measurements: 7, seed: 5)
    #expect(try GraphHarness.gradientError([2, 3, 2, 2]) { op.apply($0) } < 1e-6)
  }
}

@Suite struct GaussianSensingTests {
  @Test func matchesAPlainMatrixProduct() throws {
    let op = try GaussianSensing(imageSize: 2, measurements: 5, seed: 3)
    let x = GraphHarness.random([2, 3, 2, 2], seed: 6)
    let y = try GraphHarness.apply(op, x)
    #expect(y.shape == [2, 5])
    for b in 0..<2 {
      for i in 0..<5 {
        var s = 0.0
        for j in 0..<12 { s += Double(op.entry(i, j)) * x.values[b * 12 + j] }
        #expect(Swift.abs(y.values[b * 5 + i] - s) < 1e-12)
      }
    }
  }

  @Test func entriesAreSeededNormalsOverSqrtM() throws {
    let op = try GaussianSensing(imageSize: 8, measurements: 100, seed: 12)  // 100 x 192
    #expect(op == (try GaussianSensing(imageSize: 8, measurements: 100, seed: 12)))
    var rng = SeededStreams.generator(12, 1)
    let row0 = SeededStreams.normals(192, &rng)
    #expect((0..<192).allSatisfy { op.entry(0, $0) == row0[$0] * (1 / Float(100).squareRoot()) })
    let all = op.transposedMatrix.map { Double($0) }
    let variance = all.reduce(0) { $0 + $1 * $1 } / Double(all.count)
    #expect(Swift.abs(variance - 0.01) < 0.0006)  // 19200 draws: sd of the estimate 1e-4
  }

  @Test func gradient() throws {
    let op = try GaussianSensing(imageSize: 2, measurements: 4, seed: 8)
    #expect(try GraphHarness.gradientError([1, 3, 2, 2]) { op.apply($0) } < 1e-7)
  }
}

@Suite struct ColorizeTests {
  @Test func lumaOnAllChannels() throws {
    let x = GraphHarness.random([2, 3, 3, 3], seed: 2)
    let y = try GraphHarness.apply(Colorizer(), x)
    for b in 0..<2 {
      for p in 0..<9 {
        let base = b * 27 + p
        let gray = 0.2989 * x.values[base] + 0.5870 * x.values[base + 9] + 0.1140 * x.values[base + 18]
        for c in 0..<3 { #expect(Swift.abs(y.values[base + 9 * c] - gray) < 1e-7) }
      }
    }
  }

  @Test func gradient() throws {
    #expect(try GraphHarness.gradientError([1, 3, 2, 2]) { Colorizer().apply($0) } < 1e-7)
  }
}

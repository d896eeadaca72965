import Foundation
import Testing
@testable import Inversion

@Suite struct MetricsTests {
  /// Against scikit-image's structural_similarity (gaussian_weights, σ 1.5, population
  /// covariance, data_range 1, channel_axis 0) on 11×11, 24×20 and 16×18 RGB images.
  @Test func ssimMatchesScikitImage() throws {
    for c in Goldens.shared.ssim {
      // Inputs are float32 values written with 9 digits: round them back to float32 exactly.
      let (a, b) = (c.a.map { Double(Float($0)) }, c.b.map { Double(Float($0)) })
      let s = try SSIM.mean(a, b, channels: 3, height: c.height, width: c.width)
      #expect(Swift.abs(s - c.ssim) < 1e-12, "\(c.height)x\(c.width): \(s) vs \(c.ssim)")
    }
  }

  @Test func ssimClosedForms() throws {
    let a = (0..<3 * 12 * 12).map { Double($0 % 17) / 16 }
    #expect(Swift.abs(try SSIM.mean(a, a, channels: 3, height: 12, width: 12) - 1) < 1e-12)
    // Constant images μx, μy: the variances vanish, SSIM = (2μxμy + C1)/(μx² + μy² + C1).
    let x = [Double](repeating: 0.2, count: 11 * 11), y = [Double](repeating: 0.6, count: 11 * 11)
    let expected = (2 * 0.2 * 0.6 + 1e-4) / (0.04 + 0.36 + 1e-4)
    #expect(Swift.abs(try SSIM.mean(x, y, channels: 1, height: 11, width: 11) - expected) < 1e-12)
    #expect(Swift.abs(SSIM.window.reduce(0, +) - 1) < 1e-15 && SSIM.window.count == 11)
    #expect(throws: InversionError.self) { try SSIM.mean(x, y, channels: 1, height: 10, width: 12) }
    #expect(throws: InversionError.self) { try SSIM.mean([0.1], [0.1, 0.2], channels: 1, height: 1, width: 1) }
  }

  @Test func mseAndPSNRInUnitRange() throws {
    // [-1, 1] images: a = 0 everywhere (0.5 in [0, 1]); b = 0.2 (0.6) except one value of 3,
    // clamped to 1 in [0, 1]. Over 3·11·11 = 363 values: 362 errors of 0.1 and one of 0.5.
    let n = 3 * 11 * 11
    let a = [Float](repeating: 0, count: n)
    var b = [Float](repeating: 0.2, count: n)
    b[5] = 3
    let s = try ImageMetrics.compare(b, a, batch: 1, height: 11, width: 11)
    let mse = (362 * Double(Float(0.2) / 2) * Double(Float(0.2) / 2) + 0.25) / 363
    #expect(Swift.abs(s.mse - mse) < 1e-12)
    #expect(Swift.abs(s.psnr - 10 * log10(1 / mse)) < 1e-9)
    #expect(ImageMetrics.psnr(mse: 0) == .infinity && Swift.abs(ImageMetrics.psnr(mse: 0.01) - 20) < 1e-12)
    #expect(try ImageMetrics.meanSquaredError([1, 2, 3] as [Float], [1, 0, 3] as [Double]) == 4.0 / 3)
    #expect(throws: InversionError.self) { try ImageMetrics.meanSquaredError([1] as [Float], [1, 2] as [Float]) }
  }

  @Test func batchSSIMIsTheMeanOverImages() throws {
    let c = Goldens.shared.ssim[0]  // 11x11
    let toSigned: ([Double]) -> [Float] = { $0.map { Float($0 * 2 - 1) } }
    let image = toSigned(c.a) + toSigned(c.a), reference = toSigned(c.b) + toSigned(c.a)
    let s = try ImageMetrics.compare(image, reference, batch: 2, height: 11, width: 11)
    #expect(Swift.abs(s.ssim - (c.ssim + 1) / 2) < 1e-6)  // Float round trip of the inputs
    #expect(throws: InversionError.self) { try ImageMetrics.compare(image, reference, batch: 3, height: 11, width: 11) }
  }
}

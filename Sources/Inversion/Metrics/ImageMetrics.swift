import Foundation

/// Image-quality metrics with the conventions of spec §5, so numbers compare with other tools:
/// images are converted from [-1, 1] to [0, 1] by (x+1)/2 and clamped; PSNR uses data range 1
/// over all RGB values; SSIM is `SSIM.mean` (Wang et al. 2004, scikit-image's conventions).
public enum ImageMetrics {
  /// (x + 1)/2 clamped to [0, 1], in Double.
  public static func toUnitRange(_ x: [Float]) -> [Double] {
    x.map { Swift.min(1, Swift.max(0, (Double($0) + 1) / 2)) }
  }

  /// The mean of (a − b)² over all elements, in Double, on raw values (for A(result) against y).
  public static func meanSquaredError<A: Collection, B: Collection>(_ a: A, _ b: B) throws -> Double
  where A.Element: BinaryFloatingPoint, B.Element: BinaryFloatingPoint {
    guard a.count == b.count, !a.isEmpty else { throw InversionError("metrics: \(a.count) and \(b.count) values cannot be compared") }
    var s = 0.0
    for (x, y) in zip(a, b) { let d = Double(x) - Double(y); s += d * d }
    return s / Double(a.count)
  }

  /// PSNR in dB for data range 1: 10·log10(1/mse) (+∞ for identical images).
  public static func psnr(mse: Double) -> Double { mse == 0 ? .infinity : 10 * log10(1 / mse) }

  /// MSE, PSNR and SSIM of `image` against `reference`, both `[batch, 3, size, size]` in
  /// [-1, 1], after conversion to [0, 1]. MSE and PSNR pool all values of the batch; SSIM is
  /// the mean over images of each image's channel-averaged SSIM.
  public static func compare(_ image: [Float], _ reference: [Float], batch: Int, channels: Int = 3, height: Int, width: Int) throws -> Scores {
    let per = channels * height * width
    guard batch > 0, image.count == batch * per, reference.count == batch * per else {
      throw InversionError("metrics: images of \(image.count) and \(reference.count) values, expected \(batch)x\(channels)x\(height)x\(width)")
    }
    let a = toUnitRange(image), b = toUnitRange(reference)
    let mse = try meanSquaredError(a, b)
    var ssim = 0.0
    for k in 0..<batch {
      ssim += try SSIM.mean(Array(a[k * per..<(k + 1) * per]), Array(b[k * per..<(k + 1) * per]), channels: channels, height: height, width: width)
    }
    return Scores(mse: mse, psnr: psnr(mse: mse), ssim: ssim / Double(batch))
  }

  public struct Scores: Equatable, Sendable {
    public var mse: Double
    public var psnr: Double
    public var ssim: Double
  }
}

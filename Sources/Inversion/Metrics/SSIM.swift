import Foundation

/// SSIM (Wang, Bovik, Sheikh, Simoncelli 2004) with the conventions of scikit-image's
/// `structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
/// data_range=1, channel_axis=…)`, so values match it:
/// - local statistics with a separable Gaussian window, σ = 1.5, radius 5 (11 taps, truncate
///   3.5), weights exp(−x²/2σ²) normalized to sum 1;
/// - borders: the filter reads outside the image by half-sample symmetric reflection
///   (SciPy's 'reflect': … c b a | a b c … x y z | z y x …), then the SSIM map is cropped by
///   5 pixels on every side before averaging (so border pixels only feed their neighbours);
/// - population (not sample) variances, C1 = (0.01·L)², C2 = (0.03·L)², L = 1;
/// - computed per channel in Double; the result is the mean over channels.
/// Images must be at least 11×11 (scikit-image refuses smaller ones too).
public enum SSIM {
  public static let sigma = 1.5
  public static let radius = 5

  /// The 11-tap Gaussian window.
  public static let window: [Double] = {
    let w = (-radius...radius).map { Foundation.exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
    let s = w.reduce(0, +)
    return w.map { $0 / s }
  }()

  /// Mean SSIM of two CHW images with values in [0, 1] (data range 1).
  public static func mean(_ a: [Double], _ b: [Double], channels: Int, height: Int, width: Int) throws -> Double {
    guard channels > 0, a.count == channels * height * width, b.count == a.count else {
      throw InversionError("ssim: images of \(a.count) and \(b.count) values, expected \(channels)x\(height)x\(width)")
    }
    guard height > 2 * radius, width > 2 * radius else {
      throw InversionError("ssim: images must be at least \(2 * radius + 1)x\(2 * radius + 1), got \(height)x\(width)")
    }
    let plane = height * width
    var total = 0.0
    for c in 0..<channels {
      total += channelMean(Array(a[c * plane..<(c + 1) * plane]), Array(b[c * plane..<(c + 1) * plane]), height, width)
    }
    return total / Double(channels)
  }

  static func channelMean(_ x: [Double], _ y: [Double], _ h: Int, _ w: Int) -> Double {
    let (c1, c2) = (0.01 * 0.01, 0.03 * 0.03)
    let ux = filter(x, h, w), uy = filter(y, h, w)
    let uxx = filter(zip(x, x).map(*), h, w), uyy = filter(zip(y, y).map(*), h, w), uxy = filter(zip(x, y).map(*), h, w)
    var sum = 0.0
    for r in radius..<h - radius {
      for c in radius..<w - radius {
        let i = r * w + c
        let (mx, my) = (ux[i], uy[i])
        let vx = uxx[i] - mx * mx, vy = uyy[i] - my * my, vxy = uxy[i] - mx * my
        sum += (2 * mx * my + c1) * (2 * vxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
      }
    }
    return sum / Double((h - 2 * radius) * (w - 2 * radius))
  }

  /// Half-sample symmetric reflection of index i into 0..<n (one reflection suffices, n > radius).
  @inline(__always) static func reflect(_ i: Int, _ n: Int) -> Int { i < 0 ? -i - 1 : (i >= n ? 2 * n - i - 1 : i) }

  /// The separable Gaussian filter of an h×w plane (rows, then columns).
  static func filter(_ x: [Double], _ h: Int, _ w: Int) -> [Double] {
    var tmp = [Double](repeating: 0, count: x.count), out = tmp
    for r in 0..<h {
      for c in 0..<w {
        var s = 0.0
        for k in -radius...radius { s += window[k + radius] * x[r * w + reflect(c + k, w)] }
        tmp[r * w + c] = s
      }
    }
    for r in 0..<h {
      for c in 0..<w {
        var s = 0.0
        for k in -radius...radius { s += window[k + radius] * tmp[reflect(r + k, h) * w + c] }
        out[r * w + c] = s
      }
    }
    return out
  }
}

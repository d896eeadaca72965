import GraphIR

/// Bicubic downsampling by an integer factor f (reference-code §B, PULSE's `BicubicDownSample`):
/// a 1-D kernel of 4f taps `k[i] = cubic((i − 2f + 0.5) / f)` with a = −0.5, normalized to sum
/// 1, applied separably and depthwise: rows first (reflect padding ⌊3f/2⌋ on top and
/// 3f − ⌊3f/2⌋ at the bottom, stride f), then columns the same way. Output size S/f, aligned
/// to the centres of the f×f blocks.
///
/// f = 1 is the identity (a deliberate difference, spec §2); `referenceFactorOne` reproduces the
/// reference's 4-tap half-pixel-shifting filter [−1, 9, 9, −1]/16 with padding (1, 2).
public struct BicubicDownsampler: ForwardOperator, Equatable {
  public let factor: Int
  public let referenceFactorOne: Bool
  /// The normalized 1-D kernel (4f taps), or empty for the identity.
  public let kernel: [Float]
  public var task: Task { .superres }

  public static let maxFactor = 32

  public init(factor: Int, referenceFactorOne: Bool = false) throws {
    guard factor >= 1, factor <= Self.maxFactor else {
      throw InversionError("superres: factor must be in 1...\(Self.maxFactor), got \(factor)")
    }
    self.factor = factor
    self.referenceFactorOne = referenceFactorOne && factor == 1
    kernel = factor == 1 && !self.referenceFactorOne ? [] : Self.kernel(factor: factor)
  }

  /// The Keys cubic convolution kernel with a = −0.5.
  public static func cubic(_ x: Double, a: Double = -0.5) -> Double {
    let t = Swift.abs(x)
    if t <= 1 { return (a + 2) * t * t * t - (a + 3) * t * t + 1 }
    if t < 2 { return a * t * t * t - 5 * a * t * t + 8 * a * t - 4 * a }
    return 0
  }

  /// The 4f-tap kernel, computed in Double and normalized to sum 1.
  public static func kernel(factor f: Int) -> [Float] {
    let k = (0..<4 * f).map { cubic((Double($0 - 2 * f) + 0.5) / Double(f)) }
    let s = k.reduce(0, +)
    return k.map { Float($0 / s) }
  }

  /// Reflect padding (before, after) along each spatial axis.
  public var padding: (before: Int, after: Int) { (3 * factor / 2, 3 * factor - 3 * factor / 2) }

  public var isIdentity: Bool { kernel.isEmpty }

  public func outputShape(batch: Int, size: Int) throws -> Shape {
    if isIdentity { return [batch, 3, size, size] }
    guard size % factor == 0 else { throw InversionError("superres: image size \(size) is not a multiple of the factor \(factor)") }
    guard padding.after < size else {
      throw InversionError("superres: factor \(factor) needs images larger than \(padding.after) pixels (reflect padding), got \(size)")
    }
    return [batch, 3, size / factor, size / factor]
  }

  public func apply(_ x: Tensor) -> Tensor {
    guard let (b, s) = imageDims(x, "superres") else { return x.graph.fail(x.graph.error!) }
    if isIdentity { return x }
    do { _ = try outputShape(batch: b, size: s) } catch {
      // outputShape's messages already start with "superres: "; GraphError adds it again.
      let message = "\(error)"
      return x.graph.fail(GraphError(op: "superres", message: String(message.trimmingPrefix("superres: "))))
    }
    let g = x.graph, n = kernel.count, (lo, hi) = padding
    let column = g.constant(Array([[Float]](repeating: kernel, count: 3).joined()), [3, 1, n, 1])
    let row = g.constant(Array([[Float]](repeating: kernel, count: 3).joined()), [3, 1, 1, n])
    let rows = conv2d(pad2d(x, [lo, hi, 0, 0], mode: .reflect), column, stride: [factor, 1], padding: [0], groups: 3)
    return conv2d(pad2d(rows, [0, 0, lo, hi], mode: .reflect), row, stride: [1, factor], padding: [0], groups: 3)
  }

  /// Bicubic upsampling of `y` ([B, C, n, n] row-major) by the factor: the naive
  /// super-resolution users compare against. Output pixel i samples the low-resolution grid at
  /// u = (i + 0.5)/f − 0.5 (the centre of its f×f block, as this operator's output is aligned)
  /// with the same Keys cubic (a = −0.5), four taps per axis, separably, with reflect padding at
  /// the borders like `apply`. Linear ramps are reproduced exactly away from the borders.
  public func upsample(_ y: [Float], shape s: [Int]) -> [Float] {
    precondition(s.count == 4 && s[2] == s[3] && y.count == s.reduce(1, *), "upsample: expects [B, C, n, n]")
    let (planes, n, f) = (s[0] * s[1], s[2], factor)
    let big = n * f
    let taps = (0..<big).map { Self.upsamplingTaps(output: $0, factor: f, size: n) }
    var rows = [Float](repeating: 0, count: planes * big * n), out = [Float](repeating: 0, count: planes * big * big)
    for p in 0..<planes {
      for i in 0..<big { for x in 0..<n {  // along y
        var v = 0.0
        for (j, w) in taps[i] { v += w * Double(y[(p * n + j) * n + x]) }
        rows[(p * big + i) * n + x] = Float(v)
      } }
      for i in 0..<big { for k in 0..<big {  // along x
        var v = 0.0
        for (j, w) in taps[k] { v += w * Double(rows[(p * big + i) * n + j]) }
        out[(p * big + i) * big + k] = Float(v)
      } }
    }
    return out
  }

  /// The four (source index, weight) taps of output pixel `i`, reflected into 0..<size.
  static func upsamplingTaps(output i: Int, factor f: Int, size n: Int) -> [(Int, Double)] {
    let u = (Double(i) + 0.5) / Double(f) - 0.5
    let first = Int(u.rounded(.down)) - 1
    func reflect(_ j: Int) -> Int {
      var j = j
      while j < 0 || j >= n { j = j < 0 ? -j : 2 * (n - 1) - j; if n == 1 { return 0 } }
      return j
    }
    let raw = (first..<first + 4).map { (reflect($0), cubic(u - Double($0))) }
    let sum = raw.reduce(0) { $0 + $1.1 }
    return raw.map { ($0.0, $0.1 / sum) }
  }
}

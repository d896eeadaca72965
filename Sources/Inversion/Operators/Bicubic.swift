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
}

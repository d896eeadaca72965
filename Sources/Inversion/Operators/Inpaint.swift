import GraphIR

/// Inpainting, `A(x) = M ⊙ x` with a binary mask M (1 = known pixel, 0 = missing), shared by
/// the three color channels. The mask has `batch` planes: 1 (broadcast over the batch, for
/// generated and file masks) or B (one per image, for masks read off black pixels).
public struct InpaintMask: ForwardOperator, Equatable {
  /// Where the mask came from; generated masks are rebuilt from their parameters on load.
  public enum Origin: Equatable, Sendable {
    case explicit
    case random(keepProbability: Double, seed: UInt64)
    case box(top: Int, left: Int, height: Int, width: Int)
  }

  /// The largest mask side accepted (images of 16384x16384 are far beyond any generator).
  public static let maxSide = 16384
  /// The most mask planes accepted (one per image of a batch).
  public static let maxBatch = 4096

  public let batch: Int
  public let height: Int
  public let width: Int
  /// 0/1 values, `[batch, height, width]` row-major.
  public let values: [Float]
  public let origin: Origin
  public var task: Task { .inpaint }

  /// A mask from explicit 0/1 values `[batch, height, width]`.
  public init(values: [Float], batch: Int = 1, height: Int, width: Int) throws {
    try Self.checkDimensions(batch: batch, height: height, width: width)
    guard values.count == batch * height * width else {
      throw InversionError("mask: \(values.count) values for \(batch)x\(height)x\(width)")
    }
    guard values.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw InversionError("mask: values must be 0 or 1") }
    self.init(unchecked: values, batch: batch, height: height, width: width, origin: .explicit)
  }

  init(unchecked values: [Float], batch: Int, height: Int, width: Int, origin: Origin) {
    self.values = values; self.batch = batch; self.height = height; self.width = width; self.origin = origin
  }

  /// Throws unless every dimension is positive and within `maxSide` / `maxBatch`, so that
  /// `batch * height * width` cannot overflow and no absurd allocation is attempted.
  public static func checkDimensions(batch: Int = 1, height: Int, width: Int) throws {
    guard batch > 0, height > 0, width > 0, batch <= maxBatch, height <= maxSide, width <= maxSide else {
      throw InversionError(
        "mask: dimensions \(batch)x\(height)x\(width) out of range (sides 1...\(maxSide), planes 1...\(maxBatch))")
    }
  }

  /// A mask from a decoded mask image (8-bit, `channels` interleaved per pixel, row-major, as a
  /// PNG decoder returns it): white = known. A pixel is known when the mean of its color
  /// channels (alpha ignored) is at least 128.
  public init(maskImage pixels: [UInt8], height: Int, width: Int, channels: Int) throws {
    guard [1, 2, 3, 4].contains(channels) else { throw InversionError("mask image: unsupported channel count \(channels)") }
    try Self.checkDimensions(height: height, width: width)
    guard pixels.count == height * width * channels else {
      throw InversionError("mask image: \(pixels.count) bytes for \(height)x\(width)x\(channels)")
    }
    let color = channels >= 3 ? 3 : 1
    var v = [Float](repeating: 0, count: height * width)
    for p in 0..<height * width {
      var s = 0
      for c in 0..<color { s += Int(pixels[p * channels + c]) }
      v[p] = 2 * s >= 255 * color ? 1 : 0
    }
    self.init(unchecked: v, batch: 1, height: height, width: width, origin: .explicit)
  }

  /// The mask of an observation whose missing pixels are exactly black: a pixel is missing when
  /// all three channels equal -1 (RGB (0, 0, 0) mapped to [-1, 1]). `observation` is
  /// `[batch, 3, height, width]`.
  public init(blackPixelsOf observation: [Float], batch: Int, height: Int, width: Int) throws {
    try Self.checkDimensions(batch: batch, height: height, width: width)
    guard observation.count == batch * 3 * height * width else {
      throw InversionError("mask: observation has \(observation.count) values, expected \(batch)x3x\(height)x\(width)")
    }
    let plane = height * width
    var v = [Float](repeating: 1, count: batch * plane)
    for b in 0..<batch {
      for p in 0..<plane {
        let base = b * 3 * plane + p
        if observation[base] == -1 && observation[base + plane] == -1 && observation[base + 2 * plane] == -1 { v[b * plane + p] = 0 }
      }
    }
    self.init(unchecked: v, batch: batch, height: height, width: width, origin: .explicit)
  }

  /// A random mask: each pixel is kept independently with probability p (pixel k in row-major
  /// order is kept when the k-th `uniform()` of `SplitMix64(seed)` is below p).
  public init(keepProbability p: Double, seed: UInt64, height: Int, width: Int) throws {
    guard p.isFinite, p >= 0, p <= 1 else { throw InversionError("mask: keep probability must be in [0, 1], got \(p)") }
    try Self.checkDimensions(height: height, width: width)
    var rng = SplitMix64(seed: seed)
    let v = (0..<height * width).map { _ -> Float in rng.uniform() < p ? 1 : 0 }
    self.init(unchecked: v, batch: 1, height: height, width: width, origin: .random(keepProbability: p, seed: seed))
  }

  /// A box mask: the rectangle [top, top+boxHeight) × [left, left+boxWidth) is missing, the
  /// rest is known.
  public init(box top: Int, left: Int, boxHeight: Int, boxWidth: Int, height: Int, width: Int) throws {
    try Self.checkDimensions(height: height, width: width)
    // Compared by subtraction: `top + boxHeight` may overflow for values read from a flag.
    guard top >= 0, left >= 0, boxHeight > 0, boxWidth > 0, top < height, left < width,
      boxHeight <= height - top, boxWidth <= width - left
    else {
      throw InversionError("mask: box \(boxHeight)x\(boxWidth) at (\(top), \(left)) does not fit in \(height)x\(width)")
    }
    var v = [Float](repeating: 1, count: height * width)
    for r in top..<top + boxHeight { for c in left..<left + boxWidth { v[r * width + c] = 0 } }
    self.init(unchecked: v, batch: 1, height: height, width: width, origin: .box(top: top, left: left, height: boxHeight, width: boxWidth))
  }

  /// The fraction of known pixels.
  public var knownFraction: Double { Double(values.reduce(0, +)) / Double(values.count) }

  /// The mask as a graph constant `[batch, 1, height, width]` (broadcastable against x).
  public func constant(in graph: Graph) -> Tensor { graph.constant(values, [batch, 1, height, width]) }

  public func apply(_ x: Tensor) -> Tensor {
    guard let (b, s) = imageDims(x, "inpaint") else { return x.graph.fail(x.graph.error!) }
    guard s == height, s == width, batch == 1 || batch == b else {
      return x.graph.fail(GraphError(op: "inpaint", message: "mask \(batch)x\(height)x\(width) does not fit the image \(x.shape.shapeText)"))
    }
    return x * constant(in: x.graph)
  }

  public func outputShape(batch b: Int, size: Int) throws -> Shape {
    guard size == height, size == width, batch == 1 || batch == b else {
      throw InversionError("inpaint: mask \(batch)x\(height)x\(width) does not fit images of \(b)x3x\(size)x\(size)")
    }
    return [b, 3, size, size]
  }
}

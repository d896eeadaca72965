/// Conversions between generator tensors and 8-bit images, with the metric conventions of the
/// spec: values in [−1, 1] map to [0, 1] by (x+1)/2, clamped, then to 0...255 rounded.
extension RGBImage {
  /// An image from one CHW tensor (3 channels, values in [−1, 1]).
  public init(chw values: ArraySlice<Float>, height: Int, width: Int) {
    precondition(values.count == 3 * height * width)
    let base = values.startIndex
    var px = [UInt8](repeating: 0, count: 3 * height * width)
    for c in 0..<3 { for i in 0..<(height * width) {
      let v = (values[base + c * height * width + i] + 1) / 2
      px[i * 3 + c] = UInt8((Swift.min(Swift.max(v.isNaN ? 0 : v, 0), 1) * 255).rounded())
    } }
    self.init(width: width, height: height, pixels: px)
  }

  /// The image as CHW values in [−1, 1] (the inverse of `init(chw:)` up to rounding).
  public var chwValues: [Float] {
    var out = [Float](repeating: 0, count: pixels.count)
    let n = width * height
    for i in 0..<n { for c in 0..<3 { out[c * n + i] = Float(pixels[i * 3 + c]) / 255 * 2 - 1 } }
    return out
  }

  /// Tiles images of equal size into a grid with `columns` columns, `gap` pixels apart, on a
  /// background of `fill`.
  public static func grid(_ images: [RGBImage], columns: Int, gap: Int = 2, fill: UInt8 = 255) -> RGBImage {
    precondition(!images.isEmpty && columns > 0)
    let (w, h) = (images[0].width, images[0].height)
    let cols = Swift.min(columns, images.count), rows = (images.count + cols - 1) / cols
    let gw = cols * w + (cols + 1) * gap, gh = rows * h + (rows + 1) * gap
    var px = [UInt8](repeating: fill, count: gw * gh * 3)
    for (k, img) in images.enumerated() {
      precondition(img.width == w && img.height == h, "grid images must have equal sizes")
      let x0 = gap + (k % cols) * (w + gap), y0 = gap + (k / cols) * (h + gap)
      for y in 0..<h {
        let dst = ((y0 + y) * gw + x0) * 3
        px.replaceSubrange(dst..<(dst + w * 3), with: img.pixels[(y * w * 3)..<((y + 1) * w * 3)])
      }
    }
    return RGBImage(width: gw, height: gh, pixels: px)
  }
}

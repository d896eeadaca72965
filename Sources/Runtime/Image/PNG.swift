import CPNG
import Foundation

/// An 8-bit RGB image, pixels interleaved row by row (`(y·width + x)·3 + channel`).
public struct RGBImage: Equatable, Sendable {
  public var width: Int
  public var height: Int
  public var pixels: [UInt8]

  public init(width: Int, height: Int, pixels: [UInt8]) {
    precondition(pixels.count == width * height * 3, "\(pixels.count) bytes for a \(width)x\(height) RGB image")
    self.width = width; self.height = height; self.pixels = pixels
  }
}

/// An error reading or writing an image; `description` is one line naming the file.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ") }
  public var description: String { message }
}

/// PNG files through libpng's simplified API (`png_image_*`), always as 8-bit RGB: grayscale,
/// palette and 16-bit files are converted on read, alpha is composited onto black
/// (libpng's default for RGB output without a background).
public enum PNG {
  /// The default limit on width x height for decoding: 4096x4096 (48 MiB of RGB), well above
  /// any generator's output, so a small file that decodes to a huge image fails fast.
  public static let defaultMaxPixels = 1 << 24
  /// The most pixels a PNG may declare at all (what `--max-pixels` may raise the limit to).
  public static let maxPixelsCeiling = 1 << 30

  /// Decodes PNG bytes; `name` is used in error messages. Images over `maxPixels` pixels, or
  /// whose declared size the file's bytes cannot hold, are refused before any allocation.
  public static func decode(_ data: Data, name: String = "image", maxPixels: Int = defaultMaxPixels) throws
    -> RGBImage
  {
    // Both libpng calls run inside one closure: the reader keeps the memory pointer given to
    // begin_read, which is only valid there.
    try data.withUnsafeBytes { raw -> RGBImage in
      var image = png_image()
      image.version = UInt32(PNG_IMAGE_VERSION)
      guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
        throw ImageError("\(name): not a readable PNG (\(message(of: &image)))")
      }
      let (w, h) = (Int(image.width), Int(image.height))
      do { try checkDeclaredSize(width: w, height: h, fileBytes: data.count, maxPixels: maxPixels, name: name) } catch {
        png_image_free(&image)
        throw error
      }
      image.format = UInt32(PNG_FORMAT_RGB)
      var pixels = [UInt8](repeating: 0, count: w * h * 3)  // PNG_IMAGE_SIZE does not import
      let finished = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
      guard finished != 0 else {
        let why = message(of: &image)
        png_image_free(&image)
        throw ImageError("\(name): corrupt or truncated PNG (\(why))")
      }
      return RGBImage(width: w, height: h, pixels: pixels)
    }
  }

  /// Checks a declared size before decoding: within `maxPixels`, and holdable by the file.
  /// Deflate expands at most 1032:1, and the rows hold at least one filter byte per row and one
  /// bit per pixel: a file of n bytes cannot hold more than about 1032·n bytes of rows.
  static func checkDeclaredSize(width w: Int, height h: Int, fileBytes: Int, maxPixels: Int, name: String) throws {
    guard w > 0, h > 0 else { throw ImageError("\(name): unsupported PNG size \(w)x\(h)") }
    let (pixels, overflow) = w.multipliedReportingOverflow(by: h)
    guard !overflow, pixels <= maxPixels else {
      throw ImageError("\(name): \(w)x\(h) is over the limit of \(maxPixels) pixels (--max-pixels raises it)")
    }
    let minimumRowBytes = h + (pixels + 7) / 8
    guard minimumRowBytes <= 1032 * fileBytes + 1024 else {
      throw ImageError(
        "\(name): claims \(w)x\(h) pixels, more than its \(fileBytes) bytes can hold (damaged or crafted file)")
    }
  }

  /// Reads a PNG file (see `decode` for `maxPixels`).
  public static func read(_ url: URL, maxPixels: Int = defaultMaxPixels) throws -> RGBImage {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw ImageError("\(url.lastPathComponent): cannot read (\(url.path))")
    }
    return try decode(data, name: url.lastPathComponent, maxPixels: maxPixels)
  }

  /// Encodes an image as PNG bytes.
  public static func encode(_ img: RGBImage) throws -> Data {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    image.width = UInt32(img.width); image.height = UInt32(img.height)
    image.format = UInt32(PNG_FORMAT_RGB)
    var size = 0
    let ok1 = img.pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
    guard ok1 != 0, size > 0 else { throw ImageError("PNG encoding failed (\(message(of: &image)))") }
    var out = Data(count: size)
    let ok2 = out.withUnsafeMutableBytes { dst in
      img.pixels.withUnsafeBytes { png_image_write_to_memory(&image, dst.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
    }
    guard ok2 != 0 else { throw ImageError("PNG encoding failed (\(message(of: &image)))") }
    return out.prefix(size)
  }

  /// Writes an image as a PNG file.
  public static func write(_ img: RGBImage, to url: URL) throws {
    let data = try encode(img)
    do { try data.write(to: url, options: .atomic) } catch {
      throw ImageError("\(url.lastPathComponent): cannot write (\(url.path))")
    }
  }

  /// libpng's error text (a fixed 64-byte C string inside the control struct).
  private static func message(of image: inout png_image) -> String {
    withUnsafeBytes(of: &image.message) { raw in
      let bytes = raw.prefix { $0 != 0 }
      return bytes.isEmpty ? "unknown libpng error" : String(decoding: bytes, as: UTF8.self)
    }
  }
}

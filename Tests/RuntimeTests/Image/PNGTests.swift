import Foundation
import Testing

@testable import Runtime

/// PNG read/write through libpng: exact round trips, format conversions checked against
/// hand-built files, one-line errors for bad files.
@Suite struct PNGTests {
  static func pattern(_ w: Int, _ h: Int) -> RGBImage {
    RGBImage(width: w, height: h, pixels: (0..<(w * h * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / 7) })
  }

  @Test func roundTripIsExact() throws {
    for (w, h) in [(1, 1), (64, 48), (13, 7)] {
      let img = Self.pattern(w, h)
      let data = try PNG.encode(img)
      #expect(data.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
      #expect(try PNG.decode(data) == img)
    }
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-png-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("a.png")
    try PNG.write(Self.pattern(5, 3), to: url)
    #expect(try PNG.read(url) == Self.pattern(5, 3))
  }

  /// A hand-assembled 2x1 8-bit grayscale PNG (stored zlib block, CRCs computed here) decodes
  /// to gray RGB pixels: an independent check of the reader.
  @Test func grayscaleFileBecomesRGB() throws {
    func crc32(_ bytes: [UInt8]) -> UInt32 {
      var c: UInt32 = 0xFFFF_FFFF
      for b in bytes { c ^= UInt32(b); for _ in 0..<8 { c = (c >> 1) ^ (c & 1 == 1 ? 0xEDB8_8320 : 0) } }
      return ~c
    }
    func be(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
    func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
      let t = Array(type.utf8)
      return be(UInt32(body.count)) + t + body + be(crc32(t + body))
    }
    let raw: [UInt8] = [0, 10, 200]  // filter byte 0, two gray pixels
    var a: UInt32 = 1, b: UInt32 = 0
    for x in raw { a = (a + UInt32(x)) % 65521; b = (b + a) % 65521 }
    let zlib: [UInt8] = [0x78, 0x01, 0x01, 3, 0, 0xFC, 0xFF] + raw + be(b << 16 | a)
    let ihdr = be(2) + be(1) + [8, 0, 0, 0, 0]
    let file = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", ihdr) + chunk("IDAT", zlib) + chunk("IEND", [])
    #expect(try PNG.decode(Data(file)) == RGBImage(width: 2, height: 1, pixels: [10, 10, 10, 200, 200, 200]))
  }

  @Test func badFilesGiveOneLine() throws {
    let good = try PNG.encode(Self.pattern(16, 16))
    for (name, data) in [("empty.png", Data()), ("text.png", Data("hello, not a png".utf8)),
                         ("truncated.png", good.prefix(good.count / 2)),
                         ("corrupt.png", Data(good.prefix(40)) + Data(repeating: 0x5A, count: good.count - 40))] {
      do {
        _ = try PNG.decode(data, name: name)
        Issue.record("\(name): decoded without error")
      } catch let e as ImageError {
        #expect(e.description.hasPrefix(name + ": ") && !e.description.contains("\n"), "\(e)")
      }
    }
    #expect(throws: ImageError.self) { try PNG.read(URL(fileURLWithPath: "/nonexistent/x.png")) }
  }

  @Test func tensorConversionAndGrid() {
    let img = RGBImage(chw: [-1, 1, 0, 0.5, 2, -3][...], height: 1, width: 2)
    // channel-major input: R = [-1, 1], G = [0, 0.5], B = [2, -3]
    #expect(img.pixels == [0, 128, 255, 255, 191, 0])
    #expect(RGBImage(chw: img.chwValues[...], height: 1, width: 2) == img)
    let g = RGBImage.grid([img, img, img], columns: 2, gap: 1, fill: 7)
    #expect(g.width == 2 * 2 + 3 && g.height == 2 * 1 + 3)
    #expect(Array(g.pixels[((1 * g.width) + 1) * 3..<((1 * g.width) + 3) * 3]) == img.pixels)
    #expect(Array(g.pixels[0..<3]) == [7, 7, 7])
  }
}

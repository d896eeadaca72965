import Foundation
import Testing
import ZIPFoundation

@testable import Runtime

/// Images that are (or claim to be) far larger than their files: refused in one line before
/// any pixel buffer is allocated or any row decoded.
@Suite struct PNGLimitTests {
  func message(_ body: () throws -> Void) -> String {
    do {
      try body()
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  /// `png` with its IHDR width and height replaced (and the IHDR CRC recomputed, so libpng
  /// would accept the header).
  func claiming(_ png: Data, width: UInt32, height: UInt32) -> Data {
    var bytes = [UInt8](png)
    for (offset, value) in [(16, width), (20, height)] {
      for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * UInt32(i))) }
    }
    let crc = Data(bytes[12..<29]).crc32(checksum: 0)  // "IHDR" and its 13 data bytes
    for i in 0..<4 { bytes[29 + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * UInt32(i))) }
    return Data(bytes)
  }

  @Test func pixelLimitIsEnforcedAndCanBeRaised() throws {
    let data = try PNG.encode(PNGTests.pattern(64, 64))
    let m = message { _ = try PNG.decode(data, name: "a.png", maxPixels: 4095) }
    #expect(m == "a.png: 64x64 is over the limit of 4095 pixels (--max-pixels raises it)")
    #expect(try PNG.decode(data, maxPixels: 4096) == PNGTests.pattern(64, 64))
  }

  @Test func smallFileThatDecodesHugeIsRefusedByDefault() throws {
    // 4097x4096 black pixels deflate to about 50 KB: one pixel over the default limit.
    let black = RGBImage(width: 4097, height: 4096, pixels: [UInt8](repeating: 0, count: 4097 * 4096 * 3))
    let data = try PNG.encode(black)
    #expect(data.count < 200_000)
    let m = message { _ = try PNG.decode(data, name: "bomb.png") }
    #expect(m == "bomb.png: 4097x4096 is over the limit of \(PNG.defaultMaxPixels) pixels (--max-pixels raises it)")
  }

  @Test func declaredSizeTheFileCannotHoldIsRefused() throws {
    let small = try PNG.encode(PNGTests.pattern(8, 8))
    let huge = claiming(small, width: 16384, height: 16384)
    let m = message { _ = try PNG.decode(huge, name: "claim.png", maxPixels: PNG.maxPixelsCeiling) }
    #expect(m.hasPrefix("claim.png: claims 16384x16384 pixels, more than its \(huge.count) bytes can hold"), "\(m)")
    // The same header on a file that could hold it passes this check and fails in libpng.
    let wide = claiming(small, width: 64, height: 8)
    let w = message { _ = try PNG.decode(wide, name: "wide.png") }
    #expect(w.hasPrefix("wide.png: corrupt or truncated PNG"), "\(w)")
  }
}

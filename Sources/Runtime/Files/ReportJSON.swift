import Foundation

/// JSON for reports that scripts read: pretty-printed, sorted keys, and every non-finite
/// number written as `null` (an infinite PSNR when a result equals its reference exactly, a
/// NaN metric). `null` is what every JSON reader accepts; JSONEncoder alone can only fail on
/// such a value or write it as a string, which breaks readers expecting a number.
public enum ReportJSON {
  public static func encode<T: Encodable>(_ value: T) throws -> Data {
    // Non-finite values become a marker string that no real value can equal, then `null`.
    let marker = "iloc-non-finite-\(UUID().uuidString)"
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy =
      .convertToString(positiveInfinity: marker, negativeInfinity: marker, nan: marker)
    let text = String(decoding: try encoder.encode(value), as: UTF8.self)
    return Data(text.replacingOccurrences(of: "\"\(marker)\"", with: "null").utf8)
  }
}

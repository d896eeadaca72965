import Foundation

/// Checks a zip file's directory records before ZIPFoundation reads them: ZIPFoundation seeks to
/// the offsets they declare with a conversion that traps past `Int64.max` (found by fuzzing), so
/// every offset and size must first be seen to lie inside the file. Reads only the end-of-central-
/// directory records and the central directory itself.
enum ZipDirectory {
  static let eocdSignature: UInt32 = 0x0605_4B50, zip64LocatorSignature: UInt32 = 0x0706_4B50
  static let zip64EOCDSignature: UInt32 = 0x0606_4B50, centralSignature: UInt32 = 0x0201_4B50

  /// Throws one `WeightError` line when a directory record points outside the file or is cut short.
  static func check(_ url: URL) throws {
    let handle = try FileHandle(forReadingFrom: url)
    defer { try? handle.close() }
    let size = try handle.seekToEnd()
    let tailStart = size > 65_557 + 76 ? size - 65_557 - 76 : 0
    try handle.seek(toOffset: tailStart)
    let tail = [UInt8](try handle.readToEnd() ?? Data())
    guard let e = lastIndex(of: eocdSignature, in: tail, from: 22) else { return }  // ZIPFoundation refuses it
    var count = UInt64(le(tail, e + 10, 2)), cdSize = UInt64(le(tail, e + 12, 4)), cdOffset = UInt64(le(tail, e + 16, 4))
    if e >= 20, le(tail, e - 20, 4) == UInt64(zip64LocatorSignature) {
      let at = le(tail, e - 20 + 8, 8)
      guard at <= size &- 56, at < size else { throw bad("its zip64 directory record lies outside the file") }
      try handle.seek(toOffset: at)
      let rec = [UInt8](try handle.read(upToCount: 56) ?? Data())
      guard rec.count == 56, le(rec, 0, 4) == UInt64(zip64EOCDSignature) else { throw bad("its zip64 directory record is damaged") }
      count = le(rec, 32, 8); cdSize = le(rec, 40, 8); cdOffset = le(rec, 48, 8)
    }
    guard cdOffset <= size, cdSize <= size - cdOffset else {
      throw bad("its central directory (offset \(cdOffset), \(cdSize) bytes) lies outside the file (\(size) bytes)")
    }
    try handle.seek(toOffset: cdOffset)
    let cd = [UInt8](try handle.read(upToCount: Int(cdSize)) ?? Data())
    try checkEntries(cd, count: count, fileSize: size)
  }

  /// Walks the central directory: `count` records, each inside `cd`, each local header inside the file.
  static func checkEntries(_ cd: [UInt8], count: UInt64, fileSize: UInt64) throws {
    guard count <= UInt64(cd.count / 46) else { throw bad("it declares \(count) entries, more than its directory holds") }
    var p = 0
    for i in 0..<Int(count) {
      guard p + 46 <= cd.count, le(cd, p, 4) == UInt64(centralSignature) else { throw bad("directory record \(i) is damaged") }
      let nameLength = Int(le(cd, p + 28, 2)), extraLength = Int(le(cd, p + 30, 2)), commentLength = Int(le(cd, p + 32, 2))
      let end = p + 46 + nameLength + extraLength + commentLength
      guard end <= cd.count else { throw bad("directory record \(i) runs past the directory") }
      var sizes = [le(cd, p + 24, 4), le(cd, p + 20, 4), le(cd, p + 42, 4)]   // uncompressed, compressed, offset
      try applyZip64(Array(cd[p + 46 + nameLength..<p + 46 + nameLength + extraLength]), to: &sizes, record: i)
      // sizes are checked against the file by ZipEntryReader, with a clearer message; here only
      // what ZIPFoundation converts to signed integers before that
      guard sizes[0] <= UInt64(Int64.max), sizes[1] <= UInt64(Int64.max) else {
        throw bad("directory record \(i) declares a size over 2^63")
      }
      guard sizes[2] <= fileSize &- 30, sizes[2] < fileSize else { throw bad("directory record \(i) points outside the file") }
      p = end
    }
  }

  /// Replaces the 0xFFFFFFFF fields by the zip64 extra field's 8-byte values, in the order the
  /// format gives (uncompressed size, compressed size, local header offset).
  static func applyZip64(_ extra: [UInt8], to fields: inout [UInt64], record: Int) throws {
    var q = 0
    while q + 4 <= extra.count {
      let id = le(extra, q, 2), length = Int(le(extra, q + 2, 2))
      guard q + 4 + length <= extra.count else { throw bad("directory record \(record) has a damaged extra field") }
      if id == 1 {
        var r = q + 4
        for k in 0..<3 where fields[k] == 0xFFFF_FFFF {
          guard r + 8 <= q + 4 + length else { throw bad("directory record \(record) has a short zip64 field") }
          fields[k] = le(extra, r, 8)
          r += 8
        }
      }
      q += 4 + length
    }
  }

  static func lastIndex(of signature: UInt32, in bytes: [UInt8], from minimumLength: Int) -> Int? {
    guard bytes.count >= minimumLength else { return nil }
    return stride(from: bytes.count - minimumLength, through: 0, by: -1).first { le(bytes, $0, 4) == UInt64(signature) }
  }

  static func le(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
    (0..<n).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * UInt64($1)) }
  }

  static func bad(_ what: String) -> WeightError { WeightError("damaged zip archive: \(what)") }
}

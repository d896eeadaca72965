import Foundation

/// 128-bit FNV-1a over bytes: the object cache key (no crypto dependency needed; this only
/// has to separate distinct kernels, not resist an adversary).
struct FNV1a128: Sendable {
  private(set) var high: UInt64 = 0x6c62_272e_07bb_0142
  private(set) var low: UInt64 = 0x62b8_2175_6295_c58d

  mutating func combine(_ bytes: some Sequence<UInt8>) {
    // prime = 2^88 + 0x13b: high word 1 << 24, low word 0x13b.
    let primeLow: UInt64 = 0x13b
    let primeHighShift: UInt64 = 24
    for byte in bytes {
      low ^= UInt64(byte)
      let (carry, newLow) = low.multipliedFullWidth(by: primeLow)
      let newHigh = high &* primeLow &+ (low << primeHighShift) &+ carry
      low = newLow
      high = newHigh
    }
  }

  mutating func combine(_ text: String) {
    combine(text.utf8)
    combine([0])  // separator, so ("ab","c") and ("a","bc") differ
  }

  var hex: String {
    let h = String(high, radix: 16), l = String(low, radix: 16)
    return String(repeating: "0", count: 16 - h.count) + h + String(repeating: "0", count: 16 - l.count) + l
  }
}

/// Object files on disk, one per key: `<dir>/<32 hex>.o`. Writes are atomic (temp file +
/// rename), so concurrent processes and tests can share a directory.
struct ObjectCache: Sendable {
  let directory: URL

  func url(for key: String) -> URL { directory.appendingPathComponent(key + ".o") }

  func load(_ key: String) -> Data? {
    try? Data(contentsOf: url(for: key))
  }

  func store(_ key: String, _ data: Data) throws {
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      try data.write(to: url(for: key), options: .atomic)
    } catch {
      throw CodegenError.io("cannot write kernel cache file \(url(for: key).path): \(error.localizedDescription)")
    }
  }
}

import Foundation
import ReaderFuzz
import Testing
import ZIPFoundation

@testable import Runtime

/// Hand-made pickles and torch zip checkpoints, for tests that need a file torch would never
/// write: deep nesting, corrupted or lying zip entries, deflate bombs.
enum HandMadeCheckpoint {
  /// 30,000 lists, each appended into the one before (built bottom-up on the stack).
  static let deepLists: [UInt8] =
    [0x80, 2] + Array(repeating: 0x5D, count: 30_000) + Array(repeating: 0x61, count: 29_999) + [0x2E]
  /// 50,000 tuples, each wrapping the one before.
  static let deepTuples: [UInt8] = [0x80, 2, 0x29] + Array(repeating: 0x85, count: 50_000) + [0x2E]
  /// 30,000 lists nested top-down: each new list is appended into the previous one, which is
  /// fetched back from the memo, so no list looks deep when it is built.
  static let deepMemoChain: [UInt8] = {
    var p: [UInt8] = [0x80, 2, 0x5D, 0x71, 1]  // L0, memo[1] = L0
    for _ in 0..<30_000 { p += [0x68, 1, 0x5D, 0x71, 1, 0x61, 0x30] }  // get, new, put, append, pop
    return p + [0x2E]
  }()

  /// Writes a torch-style zip (`archive/data.pkl`, `archive/data/<key>`) with ZIPFoundation;
  /// `padding` adds an unused entry, always stored (uncompressed).
  static func writeZip(
    _ url: URL, pickle: [UInt8], storages: [String: Data], compression: CompressionMethod = .none,
    padding: Data? = nil
  ) throws {
    try? FileManager.default.removeItem(at: url)
    let archive = try Archive(url: url, accessMode: .create)
    var files = [("archive/data.pkl", Data(pickle))]
    files += storages.sorted { $0.key < $1.key }.map { ("archive/data/\($0.key)", $0.value) }
    if let padding { files.append(("archive/padding", padding)) }
    for (path, data) in files {
      try archive.addEntry(
        with: path, type: .file, uncompressedSize: Int64(data.count),
        compressionMethod: path == "archive/padding" ? .none : compression
      ) { position, size in data.subdata(in: Int(position)..<Int(position) + size) }
    }
  }

  /// A legacy (pre-1.6) torch file whose main object is the pickle `object`: magic number,
  /// protocol 1001, an empty sys_info dict, the object, an empty storage key list.
  static func legacy(object: [UInt8]) -> [UInt8] {
    let magic: [UInt8] = [0x80, 2, 0x8A, 10, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
    return magic + [0x80, 2, 0x4D, 0xE9, 0x03, 0x2E] + [0x80, 2, 0x7D, 0x2E] + object + [0x80, 2, 0x5D, 0x2E]
  }

  /// Overwrites the little-endian UInt32 at `offset`.
  static func patch(_ bytes: inout [UInt8], at offset: Int, _ value: UInt32) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(i))) }
  }

  /// Offsets of the local and central headers of the zip entry `name`.
  static func headers(of name: String, in bytes: [UInt8]) -> (local: Int, central: Int)? {
    let target = Array(name.utf8)
    var local: Int?, central: Int?
    for i in 0..<(bytes.count - 46) where bytes[i] == 0x50 && bytes[i + 1] == 0x4B {
      if bytes[i + 2] == 3, bytes[i + 3] == 4, Array(bytes[(i + 30)..<(i + 30 + target.count)]) == target { local = i }
      if bytes[i + 2] == 1, bytes[i + 3] == 2, Array(bytes[(i + 46)..<min(bytes.count, i + 46 + target.count)]) == target {
        central = i
      }
    }
    guard let local, let central else { return nil }
    return (local, central)
  }
}

/// Files made to hurt the weight readers: each must fail in one line naming the problem, never
/// crash, never load different numbers.
@Suite struct HostileWeightFileTests {
  func load(_ url: URL) throws -> StateDict { try loadStateDict(url) }

  func message(_ body: () throws -> Void) -> String {
    do {
      try body()
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  func unpickle(_ bytes: [UInt8]) throws -> PickleValue {
    try bytes.withUnsafeBytes { raw in
      var unpickler = Unpickler(raw)
      return try unpickler.load()
    }
  }

  @Test(arguments: ["lists", "tuples", "memo chain"])
  func deepNestingIsRefusedWithoutCrashing(name: String) throws {
    let pickles = [
      "lists": HandMadeCheckpoint.deepLists, "tuples": HandMadeCheckpoint.deepTuples,
      "memo chain": HandMadeCheckpoint.deepMemoChain,
    ]
    let pickle = try #require(pickles[name])
    let m = message { _ = try unpickle(pickle) }
    #expect(m.contains("nesting too deep"), "\(name): \(m)")
    let dir = try WeightFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let zip = dir.appendingPathComponent("deep.pt"), legacy = dir.appendingPathComponent("deep_legacy.pt")
    try HandMadeCheckpoint.writeZip(zip, pickle: pickle, storages: [:])
    try Data(HandMadeCheckpoint.legacy(object: pickle)).write(to: legacy)
    for url in [zip, legacy] {
      let m = message { _ = try load(url) }
      #expect(m.hasPrefix(url.lastPathComponent + ": ") && m.contains("nesting too deep"), "\(name): \(m)")
    }
  }

  @Test func nestingUpToTheLimitLoads() throws {
    let depth = Unpickler.maxDepth
    let lists: [UInt8] = [0x80, 2] + Array(repeating: 0x5D, count: depth + 1) + Array(repeating: 0x61, count: depth) + [0x2E]
    var value = try unpickle(lists)
    var levels = 0
    while let inner = value.elements?.first { value = inner; levels += 1 }
    #expect(levels == depth)
    let tooDeep: [UInt8] = [0x80, 2] + Array(repeating: 0x5D, count: depth + 2) + Array(repeating: 0x61, count: depth + 1) + [0x2E]
    #expect(message { _ = try unpickle(tooDeep) }.contains("nesting too deep"))
  }

  func floats(_ values: [Float]) -> Data { values.withUnsafeBytes { Data($0) } }

  @Test func corruptedZipEntryFailsItsCRC() throws {
    let dir = try WeightFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("crc.pt")
    let values: [Float] = [1, 2, 3, 4]
    try HandMadeCheckpoint.writeZip(url, pickle: TorchPickle.oneTensor(count: 4), storages: ["0": floats(values)])
    #expect(try load(url)["w"]?.values == values)
    var bytes = [UInt8](try Data(contentsOf: url))
    let data = [UInt8](floats(values))
    let at = try #require((0...(bytes.count - data.count)).first { Array(bytes[$0..<$0 + data.count]) == data })
    bytes[at + 5] ^= 0x01  // 2.0 becomes 2.0000002: a silently different weight without the check
    try Data(bytes).write(to: url)
    let m = message { _ = try load(url) }
    #expect(m.hasPrefix("crc.pt: zip entry 'archive/data/0' is corrupt: CRC-32"), "\(m)")
    #expect(!m.contains("\n"))
  }

  /// Directory records that point past `Int64.max` or outside the file (found by fuzzing: a zip64
  /// directory offset of 2^63 + 1208 made ZIPFoundation trap while seeking) fail in one line.
  @Test func directoryOffsetsOutsideTheFileAreRefused() throws {
    let dir = try WeightFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("dir.pt")
    let good = [UInt8](try Data(contentsOf: WeightFixtures.url("proto4_zip.pt")))
    func signature(_ s: UInt32) -> Int? {
      let sig = withUnsafeBytes(of: s.littleEndian, Array.init)
      return (0...(good.count - 4)).last { Array(good[$0..<$0 + 4]) == sig }
    }
    let zip64 = try #require(signature(0x0606_4B50)), eocd = try #require(signature(0x0605_4B50))
    let central = try #require(signature(0x0201_4B50))
    var cases: [(String, [UInt8])] = []
    var b = good
    for i in 0..<8 { b[zip64 + 48 + i] = i == 7 ? 0x80 : good[zip64 + 48 + i] }   // + 2^63
    cases.append(("central directory", b))
    b = good; HandMadeCheckpoint.patch(&b, at: eocd + 12, 0x7FFF_FFF0)                  // its size
    for i in 0..<8 { b[zip64 + 40 + i] = [0xF0, 0xFF, 0xFF, 0x7F, 0, 0, 0, 0][i] }
    cases.append(("central directory", b))
    b = good; HandMadeCheckpoint.patch(&b, at: central + 42, 0x00FF_FFFF)               // a local header
    cases.append(("points outside the file", b))
    for (what, bytes) in cases {
      try Data(bytes).write(to: url)
      let m = message { _ = try load(url) }
      #expect(m.contains("damaged zip archive") && m.contains(what) && !m.contains("\n"), "\(m)")
    }
    try Data(good).write(to: url)
    #expect(!(try load(url).tensors.isEmpty))
  }

  @Test func deflateBombIsRefusedBeforeInflating() throws {
    let dir = try WeightFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("bomb.pt")
    let count = 2 << 20  // 8 MiB of zeros deflate about 1000:1
    try HandMadeCheckpoint.writeZip(
      url, pickle: TorchPickle.oneTensor(count: count), storages: ["0": Data(count: 4 * count)],
      compression: .deflate)
    let fileSize = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? UInt64 ?? 0
    #expect(fileSize < 100_000)
    let m = message { _ = try load(url) }
    #expect(m.hasPrefix("bomb.pt: the zip entries declare") && m.contains("zip bomb"), "\(m)")
    // Padded so the archive as a whole could hold it, the one entry's ratio still gives it away.
    let noise = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
    try HandMadeCheckpoint.writeZip(
      url, pickle: TorchPickle.oneTensor(count: count), storages: ["0": Data(count: 4 * count)],
      compression: .deflate, padding: noise)
    let single = message { _ = try load(url) }
    #expect(single.hasPrefix("bomb.pt: zip entry 'archive/data/0' would inflate"), "\(single)")
    #expect(single.contains("over the 32:1 compression limit"), "\(single)")
  }

  @Test func entryInflatingPastItsDeclaredSizeIsRefused() throws {
    let dir = try WeightFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("liar.pt")
    // 64 KiB of zeros that claim to be the 4 KiB the tensor needs.
    try HandMadeCheckpoint.writeZip(
      url, pickle: TorchPickle.oneTensor(count: 1024), storages: ["0": Data(count: 1 << 16)],
      compression: .deflate)
    var bytes = [UInt8](try Data(contentsOf: url))
    let h = try #require(HandMadeCheckpoint.headers(of: "archive/data/0", in: bytes))
    HandMadeCheckpoint.patch(&bytes, at: h.local + 22, 4096)
    HandMadeCheckpoint.patch(&bytes, at: h.central + 24, 4096)
    try Data(bytes).write(to: url)
    let m = message { _ = try load(url) }
    #expect(m == "liar.pt: zip entry 'archive/data/0' inflates to more than the 4096 bytes it declares", "\(m)")
  }

  @Test func entriesDeclaringMoreThanTheFileCanHoldAreRefused() throws {
    let dir = try WeightFixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let url = dir.appendingPathComponent("overlap.pt")
    try HandMadeCheckpoint.writeZip(
      url, pickle: TorchPickle.oneTensor(count: 1024), storages: ["0": floats(Array(repeating: 1, count: 1024))])
    var bytes = [UInt8](try Data(contentsOf: url))
    let h = try #require(HandMadeCheckpoint.headers(of: "archive/data/0", in: bytes))
    // A stored entry claiming 3 GB: the central directory says so, the file has a few KB.
    HandMadeCheckpoint.patch(&bytes, at: h.central + 20, 3_000_000_000)
    HandMadeCheckpoint.patch(&bytes, at: h.central + 24, 3_000_000_000)
    try Data(bytes).write(to: url)
    let m = message { _ = try load(url) }
    #expect(m.hasPrefix("overlap.pt: the zip entries declare 3000000101 bytes in all") && m.contains("zip bomb"), "\(m)")
  }
}

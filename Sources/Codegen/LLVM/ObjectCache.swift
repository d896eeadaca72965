import Crypto
import Foundation

/// 128-bit FNV-1a over bytes: the hash in kernel symbol names (it only has to separate
/// distinct kernels; the object cache uses SHA-256).
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

/// The identity of a cached object: SHA-256 over everything that decides its bytes (kernel
/// text, LLVM IR, CPU, features, LLVM and iloc versions, entry format). It names the entry
/// file and is stored inside it, so an entry copied or renamed onto another key is caught.
struct ObjectCacheKey: Sendable, Equatable {
  let digest: [UInt8]

  /// The key of `parts` and then, if given, of the raw `bytes` (a module's bitcode).
  init(_ parts: [String], bytes: UnsafeRawBufferPointer? = nil) {
    var h = SHA256()
    for p in parts {
      h.update(data: Data(p.utf8))
      h.update(data: [0])  // separator, so ("ab","c") and ("a","bc") differ
    }
    if let bytes { h.update(bufferPointer: bytes) }
    digest = Array(h.finalize())
  }

  /// A key read back from an index entry.
  init(digest: [UInt8]) { self.digest = digest }

  var hex: String {
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
  }
}

/// Kernel objects on disk, one verified entry per key: `<dir>/<64 hex of the key>.kobj`.
///
/// An entry is `magic | key digest | object length | checksum | object`, where the checksum
/// is SHA-256 over the key digest, the length and the object bytes. It is verified before the
/// object is used (a flipped byte, a truncated file or another key's entry is never loaded);
/// the caller deletes and rebuilds a damaged one. Writes go to a unique temporary file in the
/// same directory and are renamed into place, so a reader, in this process or another, sees no
/// entry or a whole one, never half of one.
struct ObjectCache: Sendable {
  /// A look-up's outcome; `damaged` says what was wrong, in a few words.
  enum Lookup: Equatable {
    case hit(Data)
    case miss
    case damaged(String)
  }

  static let magic = Array("ILOCKOB1".utf8)
  static let headerSize = 8 + 32 + 8 + 32
  static let fileExtension = "kobj"

  let directory: URL

  /// A cache in `directory`, created if needed. Throws a one-line reason when the directory
  /// cannot be created or written (a file in the way, a read-only file system, permissions).
  init(opening directory: URL) throws {
    self.directory = directory
    try Self.makeDirectory(directory)
    let probe = directory.appendingPathComponent(".write-probe-\(getpid())-\(UUID().uuidString)")
    let fd = open(probe.path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
    guard fd >= 0 else { throw CodegenError.io("cannot write in it (\(String(cString: strerror(errno))))") }
    close(fd)
    unlink(probe.path)
  }

  /// `mkdir -p`, failing with the first problem in words (the POSIX reason, or which path
  /// is a file where a directory should be).
  private static func makeDirectory(_ url: URL) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
      if isDirectory.boolValue { return }
      throw CodegenError.io("cannot create it (\(url.path) is a file, not a directory)")
    }
    let parent = url.deletingLastPathComponent()
    if parent.path != url.path { try makeDirectory(parent) }
    if mkdir(url.path, 0o755) != 0 && errno != EEXIST {
      throw CodegenError.io("cannot create it (\(String(cString: strerror(errno))))")
    }
  }

  func url(for key: ObjectCacheKey) -> URL {
    directory.appendingPathComponent(key.hex + "." + Self.fileExtension)
  }

  /// Reads and verifies the entry of `key`.
  func load(_ key: ObjectCacheKey) -> Lookup {
    let url = url(for: key)
    guard FileManager.default.fileExists(atPath: url.path) else { return .miss }
    guard let data = try? Data(contentsOf: url) else { return .damaged("cannot be read") }
    return Self.verify(data, key: key)
  }

  /// The object inside an entry's bytes, or what is wrong with them.
  static func verify(_ entry: Data, key: ObjectCacheKey) -> Lookup {
    let bytes = [UInt8](entry)
    guard bytes.count >= headerSize, Array(bytes[0..<8]) == magic else {
      return .damaged("is not a kernel cache entry")
    }
    guard Array(bytes[8..<40]) == key.digest else { return .damaged("belongs to another kernel") }
    let length = bytes[40..<48].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    guard length == UInt64(bytes.count - headerSize), length > 0 else { return .damaged("is truncated") }
    let object = Data(bytes[headerSize...])
    guard Array(bytes[48..<80]) == checksum(key: key, object: object) else { return .damaged("fails its checksum") }
    return .hit(object)
  }

  /// The whole entry for `object` under `key`.
  static func entry(for object: Data, key: ObjectCacheKey) -> Data {
    var out = Data(magic)
    out.append(contentsOf: key.digest)
    out.append(contentsOf: lengthBytes(object.count))
    out.append(contentsOf: checksum(key: key, object: object))
    out.append(object)
    return out
  }

  /// Writes the entry of `key` atomically (unique temporary file, then rename).
  func store(_ key: ObjectCacheKey, _ object: Data) throws {
    let target = url(for: key)
    do {
      try replace(target, with: Self.entry(for: object, key: key), tag: key.hex)
    } catch {
      throw CodegenError.io("cannot write \(target.lastPathComponent) (\(Self.reason(error)))")
    }
  }

  /// Writes `bytes` to a unique temporary file in the directory and renames it onto
  /// `target`. No fsync: after a crash an entry may be cut short or empty, which its
  /// verification catches (it is then deleted and rebuilt), and syncing cost more than the
  /// rest of storing a kernel (about 10 ms per file here).
  private func replace(_ target: URL, with bytes: Data, tag: String) throws {
    let temp = directory.appendingPathComponent(".\(tag).\(getpid()).\(UUID().uuidString).tmp").path
    let fd = open(temp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw CodegenError.io(String(cString: strerror(errno))) }
    var failure: Int32 = 0
    bytes.withUnsafeBytes { raw in
      var done = 0
      while done < raw.count {
        let n = write(fd, raw.baseAddress! + done, raw.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { failure = n < 0 ? errno : EIO; return }
        done += n
      }
    }
    if close(fd) != 0 && failure == 0 { failure = errno }
    if failure == 0 && rename(temp, target.path) != 0 { failure = errno }
    if failure != 0 {
      unlink(temp)
      throw CodegenError.io(String(cString: strerror(failure)))
    }
  }

  // MARK: index entries

  /// Index entries map a cheap key (a kernel's text and the running executable, see
  /// `KernelCompiler`) to the object key, whose computation needs the kernel's LLVM IR:
  /// `<dir>/<64 hex of the index key>.kidx` = `magic | index digest | object key digest |
  /// SHA-256 of the preceding 72 bytes`. The object entry it names is verified as always.
  static let indexMagic = Array("ILOCKIX1".utf8)
  static let indexExtension = "kidx"

  func indexURL(for key: ObjectCacheKey) -> URL {
    directory.appendingPathComponent(key.hex + "." + Self.indexExtension)
  }

  /// The object key recorded under `key`; nil when there is none. A damaged index entry is
  /// deleted and nil returned: the caller takes the full path, which writes a new one.
  func loadIndex(_ key: ObjectCacheKey) -> ObjectCacheKey? {
    let url = indexURL(for: key)
    guard let data = try? Data(contentsOf: url) else { return nil }
    let b = [UInt8](data)
    guard b.count == 104, Array(b[0..<8]) == Self.indexMagic, Array(b[8..<40]) == key.digest,
          Array(b[72..<104]) == Array(SHA256.hash(data: b[0..<72]))
    else {
      try? FileManager.default.removeItem(at: url)
      return nil
    }
    return ObjectCacheKey(digest: Array(b[40..<72]))
  }

  /// Records `target` under index key `key` (atomically, like objects).
  func storeIndex(_ key: ObjectCacheKey, _ target: ObjectCacheKey) throws {
    var entry = Self.indexMagic + key.digest + target.digest
    entry += Array(SHA256.hash(data: entry))
    try replace(indexURL(for: key), with: Data(entry), tag: key.hex)
  }

  /// Deletes the entry of `key` (a damaged one); a missing file is fine.
  func remove(_ key: ObjectCacheKey) {
    try? FileManager.default.removeItem(at: url(for: key))
  }

  private static func checksum(key: ObjectCacheKey, object: Data) -> [UInt8] {
    var h = SHA256()
    h.update(data: key.digest)
    h.update(data: lengthBytes(object.count))
    h.update(data: object)
    return Array(h.finalize())
  }

  private static func lengthBytes(_ n: Int) -> [UInt8] {
    (0..<8).map { UInt8(truncatingIfNeeded: UInt64(n) >> (8 * $0)) }
  }

  /// A short reason from a Foundation or POSIX error.
  private static func reason(_ error: Error) -> String {
    if let e = error as? CodegenError { return e.description }
    let ns = error as NSError
    if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
      return String(cString: strerror(Int32(posix.code)))
    }
    return ns.localizedDescription
  }
}

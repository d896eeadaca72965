import Dispatch
import Foundation
import Testing
@testable import Codegen

/// Warning lines a compiler reported, collected from any thread.
final class WarningLog: @unchecked Sendable {
  private let lock = NSLock()
  private var stored: [String] = []
  var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
  func append(_ line: String) { lock.lock(); stored.append(line); lock.unlock() }
}

/// The kernel object cache never loads a damaged entry: a flipped byte, a truncated file or
/// another kernel's entry is deleted, rebuilt and reported in one warning line naming the
/// cache; an unusable directory means no cache and one warning; concurrent writers are safe.
@Suite struct CacheIntegrityTests {
  static func compiler(_ dir: URL, _ log: WarningLog) throws -> KernelCompiler {
    try KernelCompiler(options: CompilerOptions(cacheDirectory: dir, warn: { log.append($0) }))
  }

  static func entries(_ dir: URL) throws -> [URL] {
    try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
      .filter { $0.pathExtension == ObjectCache.fileExtension }.sorted { $0.path < $1.path }
  }

  /// The byte range of the first non-empty `.text*` section of an ELF64 object.
  static func textSection(_ object: [UInt8]) -> Range<Int>? {
    func u(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(object[at + $1]) << (8 * $1) } }
    let (shoff, shentsize, shnum, shstrndx) = (u(0x28, 8), u(0x3a, 2), u(0x3c, 2), u(0x3e, 2))
    let names = u(shoff + shstrndx * shentsize + 24, 8)
    for s in 0..<shnum {
      let h = shoff + s * shentsize
      let name = String(decoding: object[(names + u(h, 4))...].prefix { $0 != 0 }, as: UTF8.self)
      let (offset, size) = (u(h + 24, 8), u(h + 32, 8))
      if name.hasPrefix(".text"), size > 0 { return offset..<offset + size }
    }
    return nil
  }

  /// Compiles `kernel` into a fresh cache, lets `damage` change the entry file, then compiles
  /// it again with a new compiler: it must rebuild, match the clean result bit for bit, warn
  /// once (naming the cache and the problem) and leave a good entry behind.
  func expectRebuilt(_ problem: String, damage: (URL) throws -> Void) throws {
    let dir = freshDirectory("integrity")
    defer { try? FileManager.default.removeItem(at: dir) }
    let n = 777, log = WarningLog()
    let kernel = CacheAndObjectTests.expKernel(n)
    let xs = randomFloats(n, seed: 5, in: -8, 8)
    var clean = [xs, [Float](repeating: 0, count: n)]
    try Self.compiler(dir, log).compile(kernel).run(&clean)
    let entry = try #require(try Self.entries(dir).first)
    try damage(entry)

    let again = try Self.compiler(dir, log).compile(kernel)
    #expect(!again.report.cacheHit)
    var out = [xs, [Float](repeating: 0, count: n)]
    try again.run(&out)
    #expect(out[1].map(\.bitPattern) == clean[1].map(\.bitPattern))
    #expect(log.lines.count == 1, "\(log.lines)")
    #expect(log.lines.first?.contains("kernel cache \(dir.path)") == true, "\(log.lines)")
    #expect(log.lines.first?.contains(problem) == true, "\(log.lines)")
    // rebuilt and stored again: the next compiler loads it without a word
    #expect(try Self.compiler(dir, log).compile(kernel).report.cacheHit)
    #expect(log.lines.count == 1)
  }

  @Test func aFlippedByteInTheCodeIsRebuiltWithOneWarning() throws {
    try expectRebuilt("fails its checksum") { url in
      var bytes = [UInt8](try Data(contentsOf: url))
      let text = try #require(Self.textSection(Array(bytes[ObjectCache.headerSize...])))
      bytes[ObjectCache.headerSize + text.lowerBound + text.count / 2] ^= 0x40
      try Data(bytes).write(to: url)
    }
  }

  @Test func aTruncatedEntryIsRebuiltWithOneWarning() throws {
    try expectRebuilt("truncated") { url in
      let bytes = try Data(contentsOf: url)
      try bytes.prefix(bytes.count / 2).write(to: url)
    }
  }

  @Test func aForeignFileIsRebuiltWithOneWarning() throws {
    try expectRebuilt("not a kernel cache entry") { url in try Data("not an object".utf8).write(to: url) }
  }

  /// A valid entry of kernel A copied under kernel B's name is never linked (it used to fail
  /// every later run with "Duplicate definition of symbol").
  @Test func anEntryRenamedOntoAnotherKeyIsRebuiltWithOneWarning() throws {
    let dir = freshDirectory("renamed")
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = WarningLog()
    let (a, b) = (CacheAndObjectTests.expKernel(300, name: "ka"), CacheAndObjectTests.expKernel(301, name: "kb"))
    let first = try Self.compiler(dir, log)
    _ = try first.compile(a)
    let entryA = try #require(try Self.entries(dir).first)
    _ = try first.compile(b)
    let entryB = try #require(try Self.entries(dir).first { $0 != entryA })
    try FileManager.default.removeItem(at: entryB)
    try FileManager.default.copyItem(at: entryA, to: entryB)

    let second = try Self.compiler(dir, log)
    for (kernel, n) in [(b, 301), (a, 300)] {
      let xs = randomFloats(n, seed: UInt64(n), in: -3, 3)
      var arrays = [xs, [Float](repeating: 0, count: n)]
      try second.compile(kernel).run(&arrays)
      #expect(close(arrays[1], CacheAndObjectTests.truth(xs), tol: 1e-6))
    }
    #expect(log.lines.count == 1, "\(log.lines)")
    #expect(log.lines.first?.contains("belongs to another kernel") == true, "\(log.lines)")
    #expect(log.lines.first?.contains(entryB.lastPathComponent) == true, "\(log.lines)")
  }

  /// A cache path that cannot be a directory: compiles work, without a cache, after exactly
  /// one warning that names the path.
  @Test func anUnusableDirectoryMeansNoCacheAndOneWarning() throws {
    let dir = freshDirectory("unusable")
    defer { try? FileManager.default.removeItem(at: dir) }
    let file = dir.appendingPathComponent("a-file")
    try Data("x".utf8).write(to: file)
    for path in [file, file.appendingPathComponent("kernels")] {
      let log = WarningLog()
      let compiler = try Self.compiler(path, log)
      #expect(compiler.cacheDirectory == nil)
      for n in [40, 41] {
        let xs = randomFloats(n, seed: 1, in: -2, 2)
        var arrays = [xs, [Float](repeating: 0, count: n)]
        try compiler.compile(CacheAndObjectTests.expKernel(n)).run(&arrays)
        #expect(close(arrays[1], CacheAndObjectTests.truth(xs), tol: 1e-6))
      }
      #expect(log.lines.count == 1, "\(log.lines)")
      #expect(log.lines.first?.contains("kernel cache \(path.path)") == true, "\(log.lines)")
      #expect(log.lines.first?.contains("without a cache") == true, "\(log.lines)")
    }
  }

  /// Four compilers (four JITs, as in four processes) fill one cache at once with the same
  /// kernels: every result is right, nobody reads a partial entry (that would warn), every
  /// entry verifies afterwards and no temporary file is left.
  @Test func concurrentCompilersShareOneCache() throws {
    let dir = freshDirectory("concurrent")
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = WarningLog()
    let sizes = [50, 60, 70, 80, 90, 100]
    let ok = UnsafeMutableBufferPointer<Bool>.allocate(capacity: 4)
    defer { ok.deallocate() }
    ok.initialize(repeating: false)
    DispatchQueue.concurrentPerform(iterations: 4) { t in
      do {
        let compiler = try Self.compiler(dir, log)
        ok[t] = try (sizes.shuffled() + sizes.shuffled()).allSatisfy { n in
          var arrays = [randomFloats(n, seed: UInt64(n), in: -3, 3), [Float](repeating: 0, count: n)]
          try compiler.compile(CacheAndObjectTests.expKernel(n)).run(&arrays)
          return close(arrays[1], CacheAndObjectTests.truth(arrays[0]), tol: 1e-6)
        }
      } catch {
        ok[t] = false
      }
    }
    #expect(Array(ok) == [true, true, true, true])
    #expect(log.lines.isEmpty, "\(log.lines)")
    let all = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    #expect(all.filter { $0.hasSuffix(".tmp") || $0.hasPrefix(".write-probe") }.isEmpty, "\(all)")
    #expect(try Self.entries(dir).count == sizes.count)
    for n in sizes { #expect(try Self.compiler(dir, log).compile(CacheAndObjectTests.expKernel(n)).report.cacheHit) }
    #expect(log.lines.isEmpty, "\(log.lines)")
   }
}

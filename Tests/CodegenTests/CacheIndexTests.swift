import Foundation
import Testing
@testable import Codegen

/// The cache index: a hit found through it builds no LLVM IR; a damaged index entry is
/// dropped and rebuilt through the full key without a warning; an index entry never makes a
/// damaged object usable. Truth: the closed form of the exp kernel.
@Suite struct CacheIndexTests {
  static func indexEntries(_ dir: URL) throws -> [URL] {
    try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
      .filter { $0.pathExtension == ObjectCache.indexExtension }
  }

  static func check(_ c: CompiledKernel, n: Int) throws {
    let xs = randomFloats(n, seed: UInt64(n), in: -3, 3)
    var arrays = [xs, [Float](repeating: 0, count: n)]
    try c.run(&arrays)
    #expect(close(arrays[1], CacheAndObjectTests.truth(xs), tol: 1e-6))
  }

  @Test func aHitThroughTheIndexBuildsNoIR() throws {
    let dir = freshDirectory("index-hit")
    defer { try? FileManager.default.removeItem(at: dir) }
    let kernel = CacheAndObjectTests.expKernel(333)
    let first = try makeCompiler(cache: dir).compile(kernel)
    #expect(!first.report.cacheHit && first.report.irBuildMilliseconds > 0)
    #expect(try Self.indexEntries(dir).count == 1)
    let second = try makeCompiler(cache: dir).compile(kernel)
    #expect(second.report.cacheHit && second.report.irBuildMilliseconds == 0)
    #expect(second.report.vectorWidth == first.report.vectorWidth)
    try Self.check(second, n: 333)
  }

  @Test func aDamagedIndexEntryIsRebuiltSilently() throws {
    let dir = freshDirectory("index-damaged")
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = WarningLog()
    let kernel = CacheAndObjectTests.expKernel(334)
    _ = try CacheIntegrityTests.compiler(dir, log).compile(kernel)
    let index = try #require(try Self.indexEntries(dir).first)
    var bytes = [UInt8](try Data(contentsOf: index))
    bytes[50] ^= 0x01  // inside the object key it names
    try Data(bytes).write(to: index)
    let again = try CacheIntegrityTests.compiler(dir, log).compile(kernel)
    #expect(again.report.cacheHit && again.report.irBuildMilliseconds > 0)  // found by the full key
    #expect(log.lines.isEmpty, "\(log.lines)")
    #expect(try Data(contentsOf: index) != Data(bytes))  // rewritten
    try Self.check(again, n: 334)
    #expect(try CacheIntegrityTests.compiler(dir, log).compile(kernel).report.irBuildMilliseconds == 0)
  }

  @Test func anIndexEntryNeverMakesADamagedObjectUsable() throws {
    let dir = freshDirectory("index-object")
    defer { try? FileManager.default.removeItem(at: dir) }
    let log = WarningLog()
    let kernel = CacheAndObjectTests.expKernel(335)
    _ = try CacheIntegrityTests.compiler(dir, log).compile(kernel)
    let object = try #require(try CacheIntegrityTests.entries(dir).first)
    var bytes = [UInt8](try Data(contentsOf: object))
    bytes[bytes.count - 9] ^= 0x40
    try Data(bytes).write(to: object)
    let again = try CacheIntegrityTests.compiler(dir, log).compile(kernel)
    #expect(!again.report.cacheHit)
    #expect(log.lines.count == 1 && log.lines.first?.contains("fails its checksum") == true, "\(log.lines)")
    try Self.check(again, n: 335)
  }
}

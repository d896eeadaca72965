import Foundation
import Testing
@testable import Runtime

/// Output directories (lock, one-unit commit, clean failure), confined manifest paths,
/// Ed25519 key files and signatures, null for non-finite report numbers.
@Suite struct FilesTests {
  static func tempDir() throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-files-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
  }

  static func names(_ d: URL) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: d.path).sorted() }

  /// A second holder of the same directory is refused while the first lives, accepted after.
  @Test func theOutputDirectoryIsLockedWhileHeld() throws {
    let d = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let out = d.appendingPathComponent("a/b")
    var first: OutputDirectory? = try OutputDirectory(out)
    #expect(throws: FileError.self) { _ = try OutputDirectory(out) }
    do { _ = try OutputDirectory(out) } catch let e as FileError { #expect(e.message.contains("in use by another iloc run")) }
    try first!.commit(last: "r.json") { try Data("1".utf8).write(to: $0.appendingPathComponent("r.json")) }
    first = nil
    _ = try OutputDirectory(out)
  }

  /// A commit replaces the old set; the old report is gone before the new files arrive, the
  /// staging folder and a dead run's staging folder are removed.
  @Test func aCommitReplacesTheSetAndLeavesNoStaging() throws {
    let d = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    try FileManager.default.createDirectory(at: d.appendingPathComponent(".iloc-partial-999999"), withIntermediateDirectories: true)
    try Data("old".utf8).write(to: d.appendingPathComponent("report.json"))
    try Data("old".utf8).write(to: d.appendingPathComponent("result.png"))
    let out = try OutputDirectory(d)
    #expect(try Self.names(d) == ["report.json", "result.png"])
    try out.commit(last: "report.json") { dir in
      for n in ["result.png", "report.json"] { try Data("new".utf8).write(to: dir.appendingPathComponent(n)) }
    }
    #expect(try Self.names(d) == ["report.json", "result.png"])
    #expect(try String(contentsOf: d.appendingPathComponent("result.png"), encoding: .utf8) == "new")
    // a failed write leaves the committed set and no staging folder
    #expect(throws: FileError.self) { try out.commit(last: "report.json") { _ in throw FileError("disk full") } }
    #expect(try Self.names(d) == ["report.json", "result.png"])
  }

  /// Directories created for a run that failed before committing are removed again.
  @Test func anUncommittedRunLeavesNoDirectory() throws {
    let d = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    var out: OutputDirectory? = try OutputDirectory(d.appendingPathComponent("x/y"))
    #expect(FileManager.default.fileExists(atPath: d.appendingPathComponent("x/y").path))
    out = nil
    _ = out
    #expect(try Self.names(d) == [])
  }

  @Test func manifestNamesStayInsideTheirFolder() throws {
    let d = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    try Data("abc".utf8).write(to: d.appendingPathComponent("f"))
    try FileManager.default.createSymbolicLink(atPath: d.appendingPathComponent("link").path, withDestinationPath: "/dev/zero")
    #expect(try ConfinedFile.check("f", in: d).bytes == 3)
    for bad in ["", ".", "..", "../f", "/dev/zero", "a/b", "link", "missing"] {
      #expect(throws: FileError.self, "\(bad)") { _ = try ConfinedFile.check(bad, in: d) }
    }
    #expect(throws: FileError.self) { _ = try ConfinedFile.read("f", in: d, limit: 2) }
    #expect(try ConfinedFile.read("f", in: d, limit: 3) == Data("abc".utf8))
  }

  /// Signatures verify with the matching public key only, and only for the signed bytes;
  /// key files round-trip and are never overwritten.
  @Test func ed25519KeysAndSignatures() throws {
    let d = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let keyURL = d.appendingPathComponent("k")
    let key = Signing.SigningKey()
    try key.write(to: keyURL)
    #expect(throws: FileError.self) { try Signing.SigningKey().write(to: keyURL) }
    let reread = try Signing.SigningKey(contentsOf: keyURL)
    let pub = try Signing.TrustedKey(contentsOf: URL(fileURLWithPath: keyURL.path + ".pub"))
    let message = Data("manifest bytes".utf8)
    let sig = Data(try reread.signature(for: message).utf8)
    #expect(pub.accepts(sig, for: message))
    #expect(!pub.accepts(sig, for: Data("manifest bytez".utf8)))
    #expect(!Signing.SigningKey().publicKey.accepts(sig, for: message))
    #expect(!pub.accepts(Data("garbage".utf8), for: message))
    try Data("c2hvcnQ=\n".utf8).write(to: d.appendingPathComponent("short.pub"))
    #expect(throws: FileError.self) { _ = try Signing.TrustedKey(contentsOf: d.appendingPathComponent("short.pub")) }
  }

  @Test func nonFiniteReportNumbersAreNull() throws {
    struct R: Encodable { var a = Double.infinity, b = -Double.infinity, c = Double.nan, d = 1.5, e = "inf" }
    let json = try JSONSerialization.jsonObject(with: ReportJSON.encode(R())) as! [String: Any]
    #expect(json["a"] is NSNull && json["b"] is NSNull && json["c"] is NSNull)
    #expect((json["d"] as? NSNumber)?.doubleValue == 1.5 && json["e"] as? String == "inf")
  }
}

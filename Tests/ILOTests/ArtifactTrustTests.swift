import Foundation
import Testing

/// Artifacts as untrusted input (issue 10, item 7): a manifest cannot make `iloc run` read
/// outside the artifact directory or hash a device forever, and with `--trusted-key` an
/// artifact is accepted only with a valid Ed25519 signature over its manifest, checked before
/// any other file is read.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path), "skipped: the iloc executable is not built"))
struct ArtifactTrustTests {
  static let task = ["--task", "inpaint", "--mask", "random:0.5"]

  /// `iloc run` on a copy of `artifact` changed by `alter`: within 60 s, exit 1 and one
  /// stderr line containing `phrase`, nothing written.
  func expectRefused(_ artifact: URL, _ extra: [String], contains phrase: String, alter: (URL) throws -> Void,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
    let copy = artifact.deletingLastPathComponent().appendingPathComponent("altered-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: artifact, to: copy)
    defer { try? FileManager.default.removeItem(at: copy) }
    try alter(copy)
    let img = artifact.deletingLastPathComponent().appendingPathComponent("x.png")
    let out = copy.appendingPathComponent("out")
    let r = try runILOC(["run", copy.path] + Self.task + ["--observed", img.path, "-o", out.path] + extra, within: 60)
    let lines = r.stderr.split(separator: "\n")
    #expect(r.status == 1 && lines.count == 1 && lines[0].contains(phrase),
            "status \(String(describing: r.status)), stderr: \(r.stderr)", sourceLocation: sourceLocation)
    #expect(!FileManager.default.fileExists(atPath: out.path), sourceLocation: sourceLocation)
  }

  /// Adds a file record to the manifest (as a hostile manifest would).
  static func addFile(_ dir: URL, _ name: String) throws {
    try AOTTests.editManifest(dir) { m in
      var files = m["files"] as! [String: Any]
      files[name] = ["bytes": 0, "sha256": String(repeating: "0", count: 64)]
      m["files"] = files
    }
  }

  @Test func signedArtifactsAndConfinedPaths() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let img = d.appendingPathComponent("x.png"), art = d.appendingPathComponent("art")
    try CLITests.png(32, at: img)
    let key = d.appendingPathComponent("key"), other = d.appendingPathComponent("other")
    for k in [key, other] {
      let g = try runILOC(["keygen", "-o", k.path])
      #expect(g.status == 0, "stderr: \(g.stderr)")
    }
    let perms = try FileManager.default.attributesOfItem(atPath: key.path)[.posixPermissions] as? Int
    #expect(perms == 0o600)
    let again = try runILOC(["keygen", "-o", key.path])  // never replaces a key
    #expect(again.status == 1 && again.stderr.contains("exists"), "stderr: \(again.stderr)")

    let c = try runILOC(["compile", "--model", CLITests.s32, "--fit-samples", "200", "--steps", "1", "--sign-key", key.path,
                         "-o", art.path] + Self.task)
    #expect(c.status == 0, "stderr: \(c.stderr)")
    #expect(FileManager.default.fileExists(atPath: art.appendingPathComponent("manifest.sig").path))
    let trusted = ["--trusted-key", key.path + ".pub"]
    let ok = try runILOC(["run", art.path] + Self.task + ["--observed", img.path, "-o", d.appendingPathComponent("out").path] + trusted)
    #expect(ok.status == 0, "stderr: \(ok.stderr)")

    // Signatures: another signer, none, a manifest changed after signing, a file that is no key.
    try expectRefused(art, ["--trusted-key", other.path + ".pub"], contains: "does not match the trusted key") { _ in }
    try expectRefused(art, trusted, contains: "is not signed") { dir in
      try FileManager.default.removeItem(at: dir.appendingPathComponent("manifest.sig"))
    }
    try expectRefused(art, trusted, contains: "does not match the trusted key") { dir in
      try AOTTests.editManifest(dir) { $0["imageSize"] = 33 }
    }
    // checked before any listed file is read: a device in the manifest is never opened
    try expectRefused(art, trusted, contains: "does not match the trusted key") { dir in try Self.addFile(dir, "../../../../dev/zero") }
    try expectRefused(art, ["--trusted-key", d.path], contains: "is not a regular file") { _ in }
    let text = d.appendingPathComponent("text.pub")
    try Data("not a key\n".utf8).write(to: text)
    try expectRefused(art, ["--trusted-key", text.path], contains: "not an Ed25519 public key") { _ in }

    // Confinement (unsigned runs too): paths that leave the directory, devices, links.
    try expectRefused(art, [], contains: "not a plain file name") { dir in try Self.addFile(dir, "../../../../dev/zero") }
    try expectRefused(art, [], contains: "not a plain file name") { dir in try Self.addFile(dir, "/etc/passwd") }
    try expectRefused(art, [], contains: "zero is not a regular file") { dir in
      try Self.addFile(dir, "zero")
      try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("zero").path, withDestinationPath: "/dev/zero")
    }
    try expectRefused(art, [], contains: "manifest.json is not a regular file") { dir in
      let m = dir.appendingPathComponent("manifest.json")
      try FileManager.default.removeItem(at: m)
      try FileManager.default.createSymbolicLink(atPath: m.path, withDestinationPath: "/dev/zero")
    }
  }
}

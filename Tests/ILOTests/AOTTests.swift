import Artifact
import Foundation
import Runtime
import Testing

/// The iloc built next to this test binary (any scratch path), else the default build.
enum ILOCBinary {
  static let url: URL? = {
    let here = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    return [here.appendingPathComponent("iloc"), here.deletingLastPathComponent().appendingPathComponent("iloc"), TestModels.iloc]
      .first { FileManager.default.isExecutableFile(atPath: $0.path) }
  }()
}

/// `iloc compile` + `iloc run`: the artifact reproduces `iloc invert` byte for byte without
/// LLVM, and refuses corrupted files, another format version and a CPU that lacks a feature.
@Suite(.enabled(if: ILOCBinary.url != nil, "skipped: the iloc executable is not built"), .serialized)
struct AOTTests {
  static var iloc: URL? { ILOCBinary.url }
  static let s32 = CLITests.s32

  static func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) { try runProcess(iloc!, args) }

  /// A failing `iloc run` on a copy of `artifact` altered by `alter`: non-zero exit, one
  /// stderr line containing `phrase`, no result written.
  func expectRefused(_ artifact: URL, _ runArgs: [String], contains phrase: String, alter: (URL) throws -> Void,
                     sourceLocation: SourceLocation = #_sourceLocation) throws {
    let copy = artifact.deletingLastPathComponent().appendingPathComponent("altered-\(UUID().uuidString)")
    try FileManager.default.copyItem(at: artifact, to: copy)
    defer { try? FileManager.default.removeItem(at: copy) }
    try alter(copy)
    let out = copy.appendingPathComponent("out")
    let r = try Self.run(["run", copy.path] + runArgs + ["-o", out.path])
    #expect(r.status != 0, sourceLocation: sourceLocation)
    let lines = r.stderr.split(separator: "\n")
    #expect(lines.count == 1 && lines[0].contains(phrase), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
    #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("result.png").path), sourceLocation: sourceLocation)
  }

  /// An artifact runs with the last round's ball its manifest records, and a manifest written
  /// before the ball existed (no `lastRoundRadius`) runs without one, as it was compiled; one
  /// written before the mean's first round was a setting averages rounds 2 and later.
  static func manifestsRunAsCompiled(_ art: URL) throws {
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: art.appendingPathComponent("manifest.json")))
    let settings = (json as! [String: Any])["settings"] as! [String: Any]
    func decoded(_ key: String, _ value: Any?) throws -> ArtifactManifest {
      var m = json as! [String: Any], s = settings
      s[key] = value
      m["settings"] = s
      return try ArtifactManifest.decode(JSONSerialization.data(withJSONObject: m), dir: art)
    }
    #expect(settings["lastRoundRadius"] as? Double == 0)
    #expect(try decoded("lastRoundRadius", 0.0015).runSettings.lastRoundRadius == 0.0015)
    #expect(try decoded("lastRoundRadius", nil).settings.lastRoundRadius == nil)
    #expect(try decoded("lastRoundRadius", nil).runSettings.lastRoundRadius == 0)
    // compiled before the mean's first round was a setting: rounds 2 and later, as then
    #expect(settings["meanFirstRound"] as? Int == 1)
    #expect(try decoded("meanFirstRound", nil).runSettings.meanFirstRound == 2)
  }

  static func editManifest(_ dir: URL, _ edit: (inout [String: Any]) -> Void) throws {
    let url = dir.appendingPathComponent("manifest.json")
    var m = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    edit(&m)
    try JSONSerialization.data(withJSONObject: m).write(to: url)
  }

  @Test func anArtifactReproducesInvertWithoutLLVMAndRefusesBadFiles() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let img = d.appendingPathComponent("x.png"), art = d.appendingPathComponent("art")
    try CLITests.png(32, at: img)
    let setup = ["--fit-samples", "200", "--steps", "3,2", "--seed", "7"]
    let task = ["--task", "inpaint", "--mask", "random:0.5"]
    let c = try Self.run(["compile", "--model", Self.s32, "--size", "32", "-o", art.path] + task + setup)
    #expect(c.status == 0, "stderr: \(c.stderr)")
    for f in ["kernels.so", "weights.safetensors", "manifest.json"] {
      #expect(FileManager.default.fileExists(atPath: art.appendingPathComponent(f).path), "\(f) missing")
    }

    // Bit-identical to `iloc invert` with the same flags and seed, with no LLVM at run time.
    let runArgs = task + ["--observed", img.path]
    let r = try Self.run(["run", art.path, "-o", d.appendingPathComponent("aot").path] + runArgs)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.contains("LLVM initialized: no"), "stdout: \(r.stdout)")
    let i = try Self.run(["invert", "--model", Self.s32, "-o", d.appendingPathComponent("jit").path] + runArgs + setup)
    #expect(i.status == 0, "stderr: \(i.stderr)")
    let a = try Data(contentsOf: d.appendingPathComponent("aot/result.png")), b = try Data(contentsOf: d.appendingPathComponent("jit/result.png"))
    #expect(a == b, "result.png differs between iloc run and iloc invert")
    // A different seed changes the result (the comparison above can fail).
    let other = try Self.run(["run", art.path, "--seed", "8", "-o", d.appendingPathComponent("seed8").path] + runArgs)
    #expect(other.status == 0)
    #expect(try Data(contentsOf: d.appendingPathComponent("seed8/result.png")) != a)
    try Self.manifestsRunAsCompiled(art)

    // Refusals, one line each.
    try expectRefused(art, runArgs, contains: "kernels.so is corrupted") { dir in
      let u = dir.appendingPathComponent("kernels.so")
      var bytes = try Data(contentsOf: u)
      bytes[bytes.count / 2] ^= 0x40
      try bytes.write(to: u)
    }
    try expectRefused(art, runArgs, contains: "weights.safetensors is truncated") { dir in
      let u = dir.appendingPathComponent("weights.safetensors")
      let bytes = try Data(contentsOf: u)
      try bytes.prefix(bytes.count - 100).write(to: u)
    }
    try expectRefused(art, runArgs, contains: "format version 2") { dir in
      try Self.editManifest(dir) { $0["formatVersion"] = 2 }
    }
    // A feature this CPU lacks (chosen from features x86 CPUs may or may not have).
    let flags = Set((try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)).split(separator: "\n")
      .first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
    let absent = [("xop", "xop"), ("fma4", "fma4"), ("amx-int8", "amx_int8"), ("avx512fp16", "avx512_fp16")].first { !flags.contains($0.1) }
    if let (feature, _) = absent {
      try expectRefused(art, runArgs, contains: "lacks \(feature)") { dir in
        try Self.editManifest(dir) { m in
          var t = m["target"] as! [String: Any]
          t["requiredFeatures"] = (t["requiredFeatures"] as! [String]) + [feature]
          m["target"] = t
        }
      }
    }
  }

  /// `--target-cpu x86-64-v3`: built for the psABI level, the manifest requires its features
  /// (AVX2, FMA, no AVX-512), and it runs here.
  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/cpuinfo")))
  func aNamedTargetCPURecordsItsFeatures() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let img = d.appendingPathComponent("x.png"), art = d.appendingPathComponent("art")
    try CLITests.png(32, at: img)
    let task = ["--task", "inpaint", "--mask", "box:8,8,12,12"]
    let c = try Self.run(["compile", "--model", Self.s32, "--fit-samples", "200", "--steps", "2", "--target-cpu", "x86-64-v3", "-o", art.path] + task)
    #expect(c.status == 0, "stderr: \(c.stderr)")
    let m = try JSONSerialization.jsonObject(with: Data(contentsOf: art.appendingPathComponent("manifest.json"))) as! [String: Any]
    let t = m["target"] as! [String: Any]
    #expect(t["cpu"] as? String == "x86-64-v3")
    let req = t["requiredFeatures"] as! [String]
    #expect(req.contains("avx2") && req.contains("fma") && !req.contains("avx512f"), "\(req)")
    let flags = (try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))
    if flags.contains(" avx2 ") && flags.contains(" fma ") {
      let r = try Self.run(["run", art.path, "--observed", img.path, "-o", d.appendingPathComponent("out").path] + task)
      #expect(r.status == 0 && r.stdout.contains("LLVM initialized: no"), "stderr: \(r.stderr)")
    }
  }
}

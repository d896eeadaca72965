import Foundation
import Runtime
import Testing

/// `iloc invert` as a user runs it: bad input gives one error line, a non-zero exit, and no
/// result files; a good run writes the four outputs and `render` reproduces the image.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path), "skipped: the iloc executable is not built"))
struct CLITests {
  static let s32 = TestModels.root.appendingPathComponent("Tests/ModelsTests/Fixtures/stylegan2/stylegan2_s32.pt").path

  static func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) { try runProcess(TestModels.iloc, args) }

  static func tempDir() throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
  }

  static func png(_ size: Int, at url: URL) throws {
    let pixels = (0..<(size * size * 3)).map { UInt8(($0 * 37) % 256) }
    try PNG.write(RGBImage(width: size, height: size, pixels: pixels), to: url)
  }

  /// Runs a failing command and checks the one-line error and that nothing was written.
  func expectFailure(_ args: [String], contains phrase: String, out: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try Self.run(args)
    #expect(r.status != 0, "exit status 0 for \(args)", sourceLocation: sourceLocation)
    let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty }
    #expect(lines.count >= 1 && lines[0].contains(phrase), "stderr: \(r.stderr)", sourceLocation: sourceLocation)
    // ArgumentParser adds a usage hint only for flag errors; our own errors are one line
    if !r.stderr.contains("Usage:") { #expect(lines.count == 1, "stderr: \(r.stderr)", sourceLocation: sourceLocation) }
    let left = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
    #expect(!left.contains("result.png") && !left.contains("report.json"), "left behind: \(left)", sourceLocation: sourceLocation)
  }

  @Test func badInputsFailInOneLineAndWriteNothing() throws {
    let d = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let out = d.appendingPathComponent("out")
    let good = d.appendingPathComponent("good.png"), small = d.appendingPathComponent("small.png")
    try Self.png(32, at: good)
    try Self.png(16, at: small)
    let text = d.appendingPathComponent("notapng.png")
    try "hello".write(to: text, atomically: true, encoding: .utf8)
    let base = ["invert", "--model", Self.s32, "--fit-samples", "200", "-o", out.path, "--steps", "2"]
    try expectFailure(base + ["--task", "inpaint", "--observed", d.appendingPathComponent("missing.png").path], contains: "missing.png", out: out)
    try expectFailure(base + ["--task", "inpaint", "--observed", text.path], contains: "notapng.png", out: out)
    try expectFailure(base + ["--task", "inpaint", "--mask", "random:0.5", "--observed", small.path], contains: "expects 32x32", out: out)
    try expectFailure(base + ["--task", "inpaint", "--mask", small.path, "--observed", good.path], contains: "16x16", out: out)
    try expectFailure(["invert", "--model", Self.s32, "--fit-samples", "200", "-o", out.path, "--task", "inpaint", "--mask", "random:0.5",
                       "--observed", good.path, "--steps", "2,2,2", "--radius-state", "1,2"], contains: "3 rounds", out: out)
    try expectFailure(base + ["--task", "superres", "--observed", good.path], contains: "--factor", out: out)
    try expectFailure(base + ["--task", "inpaint", "--observed", good.path, "--engine", "gpu"], contains: "gpu", out: out)
  }

  @Test func aRunWritesItsOutputsAndRenderReproducesTheImage() throws {
    let d = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let out = d.appendingPathComponent("out"), img = d.appendingPathComponent("x.png")
    try Self.png(32, at: img)
    let r = try Self.run(["invert", "--model", Self.s32, "--fit-samples", "200", "--task", "inpaint", "--mask", "random:0.5",
                          "--observed", img.path, "--ground-truth", img.path, "--steps", "3,3", "--ensemble", "1",
                          "--consistency", "off", "-o", out.path])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    for f in ["result.png", "strip.png", "report.json", "state.safetensors"] {
      #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), "\(f) missing")
    }
    let again = d.appendingPathComponent("again.png")
    // a different --fit-samples would change a fitted proxy; the state carries the one used
    let rr = try Self.run(["render", out.appendingPathComponent("state.safetensors").path, "--fit-samples", "300", "-o", again.path])
    #expect(rr.status == 0, "stderr: \(rr.stderr)")
    #expect(try Data(contentsOf: again) == Data(contentsOf: out.appendingPathComponent("result.png")))
    // seeded and deterministic: the same inputs and seed give the same bytes
    let out2 = d.appendingPathComponent("out2")
    let r2 = try Self.run(["invert", "--model", Self.s32, "--fit-samples", "200", "--task", "inpaint", "--mask", "random:0.5",
                           "--observed", img.path, "--ground-truth", img.path, "--steps", "3,3", "--ensemble", "1",
                           "--consistency", "off", "-o", out2.path])
    #expect(r2.status == 0)
    for f in ["result.png", "state.safetensors"] {
      #expect(try Data(contentsOf: out2.appendingPathComponent(f)) == Data(contentsOf: out.appendingPathComponent(f)), "\(f) differs between runs")
    }
  }
}

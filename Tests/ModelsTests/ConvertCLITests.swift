import Foundation
import Models
import Runtime
import Testing

/// `iloc convert` and `iloc sample --engine` as a user runs them: the built `iloc` binary next
/// to the test bundle (skipped when it was not built).
@Suite(.enabled(if: CLI.binary != nil, "skipped: the iloc executable is not built next to the tests"))
struct ConvertCLITests {
  static let s32 = Fixtures.url("stylegan2/stylegan2_s32.pt")

  @Test func convertMatchesTheLibraryAndFailsInOneLine() throws {
    let dir = try Fixtures.temporaryDirectory(), lib = try Fixtures.temporaryDirectory()
    defer { for d in [dir, lib] { try? FileManager.default.removeItem(at: d) } }
    let out = dir.appendingPathComponent("m.safetensors")
    let r = try timed("iloc convert s32 --validate") {
      try CLI.run(["convert", Self.s32.path, "-o", out.path, "--fit-samples", "500", "--seed", "7", "--batch", "200", "--validate"])
    }
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.contains("validate: largest relative difference") && r.stdout.contains("w_lrelu5"))
    #expect(r.stdout.contains("latent proxy: 500 samples, seed 7"))
    var o = ModelConverter.Options()
    o.fitSamples = 500; o.seed = 7; o.batch = 200
    try ModelConverter.convert(Self.s32, to: lib.appendingPathComponent("m.safetensors"), options: o)
    for name in ["m.safetensors", "m.json"] {
      #expect(try Data(contentsOf: dir.appendingPathComponent(name)) == Data(contentsOf: lib.appendingPathComponent(name)), "\(name)")
    }

    let garbage = dir.appendingPathComponent("garbage.pt")
    try Data(repeating: 0x37, count: 1000).write(to: garbage)
    let bad = try CLI.run(["convert", garbage.path, "-o", dir.appendingPathComponent("g.safetensors").path])
    let lines = bad.stderr.split(separator: "\n")
    #expect(bad.status != 0 && lines.count == 1 && lines.first?.contains("garbage.pt") == true, "stderr: \(bad.stderr)")
  }

  @Test func sampleOnBothEnginesFromAConvertedModel() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = dir.appendingPathComponent("s32.safetensors")
    var o = ModelConverter.Options()
    o.fitSamples = 100
    try ModelConverter.convert(Self.s32, to: model, options: o)
    func sample(_ model: String, _ engine: String, _ png: String) throws -> RGBImage {
      let out = dir.appendingPathComponent(png)
      let r = try CLI.run(["sample", "--model", model, "--seed", "2", "--count", "2", "--engine", engine, "-o", out.path])
      #expect(r.status == 0, "stderr: \(r.stderr)")
      return try PNG.read(out)
    }
    let original = try timed("iloc sample s32 (jit)") { try sample(Self.s32.path, "jit", "a.png") }
    let converted = try sample(dir.appendingPathComponent("s32.json").path, "jit", "b.png")
    let interp = try timed("iloc sample s32 (interp)") { try sample(model.path, "interp", "c.png") }
    #expect(converted.pixels == original.pixels)
    #expect(interp.width == original.width && interp.height == original.height)
    let worst = zip(interp.pixels, original.pixels).map { Swift.abs(Int($0) - Int($1)) }.max() ?? 255
    #expect(worst <= 1, "interp vs jit: largest pixel difference \(worst)")
    #expect(try CLI.run(["sample", "--engine", "gpu", "-o", dir.appendingPathComponent("x.png").path]).status != 0)
  }
}

/// Locating and running the `iloc` executable built beside the test bundle.
enum CLI {
  static let binary: URL? = {
    var dir = Fixtures.directory
    for _ in 0..<3 {
      dir = dir.deletingLastPathComponent()
      let u = dir.appendingPathComponent("iloc")
      if FileManager.default.isExecutableFile(atPath: u.path) { return u }
    }
    return nil
  }()

  static func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = binary!
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
  }
}

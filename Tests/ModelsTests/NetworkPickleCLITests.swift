import Foundation
import Models
import Runtime
import Testing

/// NVIDIA pickles through the `iloc` binary as a user runs it: `convert` reports the format and
/// mapping (and keeps them in the JSON), `sample` and `invert --model FILE.pkl` give what the
/// equivalent reference-layout `.pt` gives.
@Suite(.enabled(if: CLI.binary != nil, "skipped: the iloc executable is not built next to the tests"))
struct NetworkPickleCLITests {
  static func pair(_ family: String) -> (pkl: String, pt: String) {
    (Fixtures.url("nvidia/\(family)_s32.pkl").path, Fixtures.url("nvidia/\(family)_s32.pt").path)
  }

  @Test(arguments: NetworkPickleTests.families)
  func convertReportsFormatAndMapping(_ family: String) throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("m.safetensors")
    let r = try CLI.run(["convert", Self.pair(family).pkl, "-o", out.path, "--fit-samples", "200", "--batch", "100"])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let title = family == "ada" ? "stylegan2-ada-pytorch network pickle, network G_ema" : "TensorFlow StyleGAN2 network pickle, network Gs"
    #expect(r.stdout.contains("read \(title)") && r.stdout.contains("resolution 32"), "stdout: \(r.stdout)")
    #expect(r.stdout.contains("-> latent_avg"), "stdout: \(r.stdout)")
    let manifest = try ModelManifest(contentsOf: dir.appendingPathComponent("m.json"))
    #expect(manifest.networkPickle?.format == (family == "ada" ? .adaPytorch : .tensorflow))
    #expect(manifest.latentAvg == "checkpoint" && manifest.size == 32 && manifest.nMlp == 2)
    // the converted model holds the generator of the .pt
    let converted = try StyleGAN2Checkpoint(contentsOf: out), pt = try StyleGAN2Checkpoint(contentsOf: URL(fileURLWithPath: Self.pair(family).pt))
    for key in pt.config.weightShapes.keys {
      #expect(converted.stateDict[key]?.values == pt.stateDict[key]?.values, "\(family) \(key)")
    }
  }

  @Test(arguments: NetworkPickleTests.families)
  func sampleAndInvertMatchTheReferenceCheckpoint(_ family: String) throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let (pkl, pt) = Self.pair(family)
    func sample(_ model: String, _ name: String) throws -> Data {
      let png = dir.appendingPathComponent(name)
      let r = try CLI.run(["sample", "--model", model, "--seed", "3", "--count", "2", "--truncation", "0.7", "-o", png.path])
      #expect(r.status == 0, "stderr: \(r.stderr)")
      return try Data(contentsOf: png)
    }
    #expect(try sample(pkl, "a.png") == sample(pt, "b.png"), "\(family): sample differs between .pkl and .pt")

    let observed = dir.appendingPathComponent("x.png")
    try PNG.write(RGBImage(width: 32, height: 32, pixels: (0..<(32 * 32 * 3)).map { UInt8(($0 * 37) % 256) }), to: observed)
    func invert(_ model: String, _ name: String) throws -> (Data, [String: TensorData]) {
      let out = dir.appendingPathComponent(name)
      let r = try CLI.run(["invert", "--model", model, "--fit-samples", "200", "--task", "inpaint", "--mask", "random:0.5",
                           "--observed", observed.path, "--steps", "1,1", "-o", out.path])
      #expect(r.status == 0, "stderr: \(r.stderr)")
      // the saved state's metadata names the model file; its tensors must agree
      return (try Data(contentsOf: out.appendingPathComponent("result.png")),
              try SafeTensorsFile(contentsOf: out.appendingPathComponent("state.safetensors")).tensors)
    }
    let a = try timed("iloc invert \(family) .pkl") { try invert(pkl, "inv_pkl") }
    let b = try invert(pt, "inv_pt")
    #expect(a.0 == b.0 && a.1 == b.1, "\(family): invert differs between .pkl and .pt")
  }
}

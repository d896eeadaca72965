import Foundation
import GraphIR
import ILO
import Inversion
import Runtime
import Testing

/// `iloc render` on a state file whose metadata or tensors were altered (issue 10, item 5):
/// every field is checked against the model and the tensors, so each bad file is one error
/// line and a non-zero exit, never a trap, a huge allocation or a silently wrong image.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path), "skipped: the iloc executable is not built"))
struct StateFileTests {
  @Test func renderRefusesAlteredStatesInOneLine() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let img = d.appendingPathComponent("x.png"), out = d.appendingPathComponent("out")
    try CLITests.png(32, at: img)
    let r = try runILOC(["invert", "--model", CLITests.s32, "--fit-samples", "200", "--task", "inpaint", "--mask", "random:0.5",
                         "--observed", img.path, "--steps", "1,1", "-o", out.path])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let good = try SavedState.read(out.appendingPathComponent("state.safetensors"))
    #expect(good.metadata.round == 1 && good.values["h"] != nil)

    typealias Edit = (inout SavedState) -> Void
    let cases: [(String, String, Edit)] = [
      ("round 99", "round 99 does not exist", { $0.metadata.round = 99 }),
      ("round -1", "round -1 does not exist", { $0.metadata.round = -1 }),
      ("round past the settings", "round 1 does not exist", { $0.metadata.settings.rounds = [.fixed(1)] }),
      ("negative observation", "observationShape", { $0.metadata.observationShape = [-1, 3] }),
      ("480 GB observation", "observationShape", { $0.metadata.observationShape = [1, 3, 200_000, 200_000] }),
      ("overflowing observation", "observationShape", { $0.metadata.observationShape = [Int.max, 2] }),
      ("no loss weights", "loss weights has 0 values", { $0.metadata.settings.lossWeights = [] }),
      ("no rounds", "at least one round", { $0.metadata.settings.rounds = [] }),
      ("negative loss weight", "--mse must be finite and non-negative", { $0.metadata.settings.lossWeights[0].mse = -1 }),
      ("mask height 2^62", "the mask is 1x4611686018427387904x32", { $0.metadata.operatorRecord.mask?.height = 1 << 62 }),
      ("another model", "it was made with DCGAN 64x64", { $0.metadata.modelDescription = "DCGAN 64x64" }),
      ("unknown LPIPS net", "unknown lpipsNet", { $0.metadata.lpipsNet = "resnet" }),
      ("missing state tensor", "tensor 'h' of round 1 is missing", { $0.values["h"] = nil }),
      ("wrong tensor shape", "tensor 'z' has shape", { s in s.values["z"] = HostTensor(shape: [1, 2], values: [0, 0]) }),
      ("short latent proxy", "latent proxy has 3", { s in s.values["latent_proxy.mean"] = HostTensor(shape: [3], values: [0, 0, 0]) }),
    ]
    for (what, phrase, edit) in cases {
      var bad = good
      edit(&bad)
      let file = d.appendingPathComponent("bad.safetensors"), png = d.appendingPathComponent("bad.png")
      try bad.write(to: file)
      let rr = try runILOC(["render", file.path, "-o", png.path])
      let lines = rr.stderr.split(separator: "\n")
      #expect(rr.status == 1 && lines.count == 1 && lines[0].contains(phrase), "\(what): status \(String(describing: rr.status)), stderr: \(rr.stderr)")
      #expect(!FileManager.default.fileExists(atPath: png.path), "\(what): an image was written")
    }
  }
}

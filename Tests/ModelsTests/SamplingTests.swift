import Foundation
import GraphIR
import Models
import Runtime
import Testing

/// Architecture detection and the sampling job behind `iloc sample`.
@Suite struct SamplingTests {
  static let s32 = Fixtures.url("stylegan2/stylegan2_s32.pt")

  @Test func detectsArchitecture() throws {
    guard case .styleGAN2(let c) = try GeneratorCheckpoint.load(Self.s32) else {
      Issue.record("s32 not detected as StyleGAN2"); return
    }
    #expect(c.config.size == 32)
    do {
      _ = try GeneratorCheckpoint.load(Fixtures.url("lpips/lpips_golden.safetensors"))
      Issue.record("an LPIPS golden file loaded as a generator")
    } catch let e as ModelError {
      #expect(e.description.hasPrefix("lpips_golden.safetensors: not a generator iloc knows"))
    }
    #expect(throws: ModelError.self) { try GeneratorCheckpoint.resolve("no-such-model.pt", searchRoots: []) }
  }

  /// A seed fixes z (the SplitMix64 normal stream) and the noise maps; the job runs to a finite
  /// image of the right shape (the graph itself is checked in `StyleGAN2Tests.samplingGraphComposes`).
  @Test func samplingIsSeededAndConsistent() throws {
    let ckpt = try GeneratorCheckpoint.load(Self.s32)
    let a = try ckpt.samplingJob(seed: 5, count: 2, truncation: 0.7)
    let b = try ckpt.samplingJob(seed: 5, count: 2, truncation: 0.7)
    let c = try ckpt.samplingJob(seed: 6, count: 2, truncation: 0.7)
    #expect(a.inputs["z"] == b.inputs["z"] && a.inputs["noise.6"] == b.inputs["noise.6"])
    #expect(a.inputs["z"] != c.inputs["z"])
    var rng = SplitMix64(seed: 5)
    #expect(a.inputs["z"]!.values == rng.normals(64).map { Float($0) })
    let img = try Interpreter.run(a.graph, inputs: a.inputs)["image"]!
    #expect(img.shape == [2, 3, 32, 32])
    #expect(img.values.allSatisfy { $0.isFinite })
    #expect(throws: ModelError.self) { try ckpt.samplingJob(seed: 0, count: 0) }
  }
}

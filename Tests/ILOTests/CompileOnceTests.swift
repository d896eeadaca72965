import Artifact
import Foundation
import ILO
import Inversion
import Models
import Runtime
import Testing

/// Compile once, run many: inversions of one setup share compiled stage programs (only the
/// observation is rebound) and give the same bits as inversions that compile their own; an
/// artifact is built, verified and loaded by the library alone, without the command line.
@Suite(.enabled(if: TestModels.dcganURL != nil, "skipped: DCGAN weights not fetched (bash models/fetch.sh)"))
struct CompileOnceTests {
  static func settings(seed: UInt64) -> InversionSettings {
    var s = InversionSettings()
    s.rounds = [.fixed(3), .fixed(2)]
    s.seed = seed
    s.ensemble = 1
    return s
  }

  static func problem(_ g: DCGANGenerator, observationSeed: UInt64, box: Int = 20) throws -> InversionProblem {
    let op = try InpaintMask(box: box, left: 16, boxHeight: 20, boxWidth: 24, height: 64, width: 64)
    let y = try TestModels.sample(g, seed: observationSeed)
    return InversionProblem(generator: g, forward: op, observation: y, mask: op)
  }

  @Test func sharedProgramsGiveTheSameBitsAndCompileOnce() throws {
    let g = try TestModels.dcgan()
    let first = try Self.problem(g, observationSeed: 1), second = try Self.problem(g, observationSeed: 2)
    let alone = try Inverter(problem: second, settings: Self.settings(seed: 9)).run()

    let cache = StageProgramCache()
    for (p, seed) in [(first, UInt64(5)), (second, 9)] {
      let inv = try Inverter(problem: p, settings: Self.settings(seed: seed))
      inv.programs = cache
      let r = try inv.run()
      // the second inversion compiled nothing, and its report says so
      #expect(r.rounds.allSatisfy { ($0.compileMilliseconds == 0) == (seed == 9) })
      if seed == 9 {
        #expect(r.image.values == alone.image.values, "a reused program must give the bits of a fresh one")
        #expect(r.state.values.keys.sorted() == alone.state.values.keys.sorted())
      }
    }
    #expect(cache.builds == 2 && cache.reuses == 2, "builds \(cache.builds), reuses \(cache.reuses)")

    // another mask is another setup: its programs are built, not reused
    let inv = try Inverter(problem: try Self.problem(g, observationSeed: 3, box: 8), settings: Self.settings(seed: 1))
    inv.programs = cache
    _ = try inv.run()
    #expect(cache.builds == 4 && cache.reuses == 2)
  }

  @Test func anArtifactIsBuiltVerifiedAndLoadedByTheLibrary() throws {
    let g = try TestModels.dcgan()
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-artifact-lib-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: dir) }
    let settings = Self.settings(seed: 3)
    let key = Signing.SigningKey()
    let builder = ArtifactBuilder(model: "dcgan", generator: g, task: .inpaint, settings: settings, lossTerms: ["mse"],
                                  flags: ["test"], ilocVersion: "test", targetCPU: nil, targetFeatures: nil)
    let built = try builder.build(into: dir, signingKey: key) { try Self.problem(g, observationSeed: 1) }
    #expect(built.stages.count == 2 && !built.kernels.isEmpty && built.architecture == "dcgan")

    let loaded = try Artifact.load(dir, trustedKey: key.publicKey, installKernels: false)
    #expect(loaded.manifest.task == "inpaint" && loaded.manifest.settings.seed == 3)
    #expect(loaded.generator.imageSize == 64 && loaded.generator.description == g.description)
    #expect(loaded.manifest.operatorRecord == (try Self.problem(g, observationSeed: 1)).forward.record)

    // another signer, then an altered weights file of the same size: refused with one line
    let other = Signing.SigningKey().publicKey
    let e1 = #expect(throws: ArtifactError.self) { try ArtifactManifest.verify(dir, trustedKey: other) }
    #expect(e1?.message.contains("the signature does not match the trusted key") == true)
    let weights = dir.appendingPathComponent(ArtifactManifest.weightsFile)
    var bytes = try Data(contentsOf: weights)
    bytes[bytes.count - 1] ^= 0x40
    try bytes.write(to: weights)
    let e2 = #expect(throws: ArtifactError.self) { try Artifact.load(dir, installKernels: false) }
    #expect(e2?.message == "artifact \(dir.lastPathComponent): weights.safetensors is corrupted "
            + "(SHA-256 differs from the manifest)")
  }
}

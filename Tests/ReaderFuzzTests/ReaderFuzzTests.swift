import Foundation
import Testing

@testable import ReaderFuzz

/// The short fuzz budget that runs with every test: seeded mutations of small valid files for
/// every reader a user's file reaches, in process. Any input may be refused with an error;
/// none may crash the process (which would fail the whole run). The long budget is
/// `scripts/fuzz.sh` (see the README).
@Suite struct ReaderFuzzTests {
  /// Inputs per reader: about a minute for all readers together in a debug build.
  static let budget: [FuzzReader: Int] = [
    .png: 12000, .safetensors: 12000, .state: 6000, .torchZip: 6000, .legacyPickle: 12000, .modelJSON: 12000,
    .operatorFile: 12000, .artifactManifest: 3000,
  ]

  /// Real torch output from the checkpoint fixtures joins the hand-made seeds.
  static func extraSeeds(_ reader: FuzzReader) -> [Data] {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("RuntimeTests/Fixtures/checkpoints")
    let names = ["torch-zip": ["nested_zip.pt", "proto4_zip.pt"], "legacy-pickle": ["legacy.pt"]][reader.rawValue] ?? []
    return names.compactMap { try? Data(contentsOf: fixtures.appendingPathComponent($0)) }
  }

  static func scratch() throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-fuzz-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
  }

  @Test(arguments: FuzzReader.allCases) func seedsAreRead(reader: FuzzReader) throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    for (i, seed) in (try FuzzSeeds.make(reader) + Self.extraSeeds(reader)).enumerated() {
      #expect(throws: Never.self, "\(reader.rawValue) seed \(i)") { try reader.read(seed, scratch: dir.appendingPathComponent("s")) }
    }
  }

  @Test(arguments: FuzzReader.allCases) func mutatedInputsNeverCrash(reader: FuzzReader) throws {
    let dir = try Self.scratch()
    defer { try? FileManager.default.removeItem(at: dir) }
    let n = Self.budget[reader] ?? 500
    let report = try FuzzDriver.run(reader, inputs: n, seed: 20_261_127, extraSeeds: Self.extraSeeds(reader), scratch: dir)
    print(report.summary)
    #expect(report.inputs == n)
    // The mutations must reach both outcomes, or they test nothing.
    #expect(report.refused > 0 && report.accepted > 0, "\(report.summary)")
    for message in report.sampleErrors { #expect(!message.contains("\n"), "not one line: \(message)") }
  }

  @Test func mutationIsDeterministic() {
    var a = Mutator(seed: 5), b = Mutator(seed: 5)
    let seed = Data("{\"a\": [1, 2, {\"b\": \"c\"}]}".utf8)
    for _ in 0..<50 {
      #expect(a.mutate(seed, structure: .json, corpus: [seed]) == b.mutate(seed, structure: .json, corpus: [seed]))
    }
  }
}

import Foundation
import Testing

@testable import Runtime

/// Broken inputs must throw one clear `WeightError` line naming the file, never crash.
@Suite struct CorruptWeightFileTests {
  /// Loads `url` expecting a `WeightError`; returns its message (empty if none was thrown).
  func failure(_ url: URL, prefix: String? = nil) -> String {
    do {
      let state = try loadStateDict(url, prefix: prefix)
      Issue.record("\(url.lastPathComponent) loaded \(state.tensors.count) tensors; expected an error")
      return ""
    } catch let error as WeightError {
      #expect(!error.description.contains("\n"))
      return error.description
    } catch {
      Issue.record("not a WeightError: \(error)")
      return ""
    }
  }

  /// Deterministic pseudo-random bytes (64-bit LCG).
  func noise(_ count: Int, seed: UInt64) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
      state = state &* 6364136223846793005 &+ 1442695040888963407
      return UInt8(truncatingIfNeeded: state >> 33)
    }
  }

  @Test func randomBytes() throws {
    let dir = try WeightFixtures.temporaryDirectory()
    for (i, first) in [UInt8(0x00), 0x80, 0x50].enumerated() {
      let url = dir.appendingPathComponent("random\(i).pt")
      try Data([first] + noise(4000, seed: UInt64(i))).write(to: url)
      let message = failure(url)
      #expect(message.hasPrefix("random\(i).pt: "), "\(message)")
      #expect(message.contains("not a PyTorch checkpoint"), "\(message)")
    }
    let empty = dir.appendingPathComponent("empty.pt")
    try Data().write(to: empty)
    #expect(failure(empty).contains("empty.pt: not a PyTorch checkpoint"))
    let missing = dir.appendingPathComponent("missing.pt")
    #expect(failure(missing).hasPrefix("missing.pt: no such file"))
    #expect(failure(dir).contains("not a readable file"))
  }

  @Test func truncatedZip() throws {
    let dir = try WeightFixtures.temporaryDirectory()
    let bytes = try Data(contentsOf: WeightFixtures.url("nested_zip.pt"))
    for length in [4, 30, 100, bytes.count / 2, bytes.count - 30, bytes.count - 1] {
      let url = dir.appendingPathComponent("cut\(length).pt")
      try bytes.prefix(length).write(to: url)
      let message = failure(url)
      #expect(message.hasPrefix("cut\(length).pt: "), "\(message)")
      #expect(message.contains("truncated or corrupt") || message.contains("not a PyTorch checkpoint"))
    }
  }

  @Test func zipWithoutDataPkl() {
    let message = failure(WeightFixtures.url("no_datapkl.zip"))
    #expect(message == "no_datapkl.zip: not a PyTorch checkpoint (no data.pkl in zip)")
  }

  @Test func truncatedStorage() {
    let facts = WeightFixtures.facts
    let path = facts["truncated_storage"] as! String
    let size = (facts["truncated_storage_bytes"] as! NSNumber).intValue
    let message = failure(WeightFixtures.url("truncated_storage.pt"))
    #expect(
      message.contains("truncated_storage.pt: ")
        && message.contains("truncated storage '\(path)' (expected \(size) bytes, found 100)"),
      "\(message)")
    // Tensors that do not use the damaged storage still load.
    #expect(throws: Never.self) {
      try TorchCheckpoint(contentsOf: WeightFixtures.url("truncated_storage.pt")).tensor("latent_avg")
    }
  }

  @Test func unsupportedOpcode() {
    let message = failure(WeightFixtures.url("bad_opcode.pt"))
    #expect(message.contains("bad_opcode.pt"), "\(message)")
    #expect(message.contains("unsupported pickle opcode 0x70 at byte 2"), "\(message)")
  }

  @Test func truncatedLegacy() throws {
    let dir = try WeightFixtures.temporaryDirectory()
    let bytes = try Data(contentsOf: WeightFixtures.url("legacy.pt"))
    // Cuts inside every part: the header pickles, the main pickle, the key list, the storages.
    for length in Swift.stride(from: 1, to: bytes.count, by: 37) {
      let url = dir.appendingPathComponent("legacy_cut.pt")
      try bytes.prefix(length).write(to: url)
      let message = failure(url)
      #expect(message.hasPrefix("legacy_cut.pt: "), "cut at \(length): \(message)")
    }
    // The last storage one byte short.
    let url = dir.appendingPathComponent("legacy_short.pt")
    try bytes.prefix(bytes.count - 1).write(to: url)
    #expect(failure(url).contains("truncated storage"))
  }

  @Test func flippedBytesNeverCrash() throws {
    let dir = try WeightFixtures.temporaryDirectory()
    let original = [UInt8](try Data(contentsOf: WeightFixtures.url("legacy.pt")))
    let positions = noise(300, seed: 7).enumerated().map { i, r in (i * 131 + Int(r)) % original.count }
    let replacements = noise(300, seed: 8)
    let url = dir.appendingPathComponent("flipped.pt")
    var errors = 0
    for (position, replacement) in zip(positions, replacements) {
      var bytes = original
      bytes[position] = replacement
      try Data(bytes).write(to: url)
      do {
        _ = try loadStateDict(url)
      } catch let error as WeightError {
        errors += 1
        #expect(error.description.hasPrefix("flipped.pt: ") && !error.description.contains("\n"))
      }
    }
    #expect(errors > 0)
  }

  @Test func safetensorsHeaderProblems() throws {
    let dir = try WeightFixtures.temporaryDirectory()
    func write(_ name: String, _ bytes: [UInt8]) throws -> URL {
      let url = dir.appendingPathComponent(name)
      try Data(bytes).write(to: url)
      return url
    }
    func header(_ json: String, data: [UInt8] = []) -> [UInt8] {
      let text = Array(json.utf8)
      return withUnsafeBytes(of: UInt64(text.count).littleEndian, Array.init) + text + data
    }
    func message(_ url: URL) -> String {
      do {
        _ = try SafeTensorsFile(contentsOf: url)
        return ""
      } catch {
        return "\(error)"
      }
    }

    let huge = try write("huge.safetensors", withUnsafeBytes(of: UInt64(1) << 60, Array.init) + Array("{}".utf8))
    #expect(message(huge).contains("huge.safetensors: bad safetensors header length 1152921504606846976"))
    let short = try write("short.safetensors", [1, 2, 3])
    #expect(message(short).contains("short.safetensors: not a safetensors file"))
    let notJSON = try write("text.safetensors", header("{not json"))
    #expect(message(notJSON).contains("text.safetensors: safetensors header is not a JSON object"))
    let outside = try write(
      "outside.safetensors",
      header(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]))
    #expect(message(outside).contains("outside.safetensors: tensor 'w': data_offsets [0, 8] outside"))
    let mismatch = try write(
      "mismatch.safetensors",
      header(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: Array(repeating: 0, count: 8)))
    #expect(message(mismatch).contains("mismatch.safetensors: tensor 'w': 8 bytes for shape [3] of F32"))
    let dtype = try write(
      "dtype.safetensors",
      header(#"{"w":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}"#, data: [0]))
    #expect(message(dtype).contains("dtype.safetensors: tensor 'w': unsupported dtype F8_E4M3"))
    let negative = try write(
      "negative.safetensors",
      header(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
    #expect(message(negative).contains("invalid shape [-1]"))
  }
}

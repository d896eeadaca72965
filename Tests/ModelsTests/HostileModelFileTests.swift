import Foundation
import GraphIR
import Models
import Runtime
import Testing

/// Model files made to hurt: a deeply nested pickle (which overflowed the stack while being
/// freed) through every loader a user's file reaches, and converted-model descriptions whose
/// fields disagree with the weights or cannot be read.
@Suite struct HostileModelFileTests {
  /// A legacy torch file (magic, protocol 1001, sys_info {}) whose main object is `object`.
  static func legacy(object: [UInt8]) -> Data {
    let magic: [UInt8] = [0x80, 2, 0x8A, 10, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
    return Data(magic + [0x80, 2, 0x4D, 0xE9, 0x03, 0x2E] + [0x80, 2, 0x7D, 0x2E] + object + [0x80, 2, 0x5D, 0x2E])
  }

  @Test func deepPicklesFailInEveryLoader() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let lists: [UInt8] = [0x80, 2] + Array(repeating: 0x5D, count: 30_000) + Array(repeating: 0x61, count: 29_999) + [0x2E]
    let tuples: [UInt8] = [0x80, 2, 0x29] + Array(repeating: 0x85, count: 50_000) + [0x2E]
    for (name, pickle) in [("lists.pt", lists), ("tuples.pt", tuples)] {
      let url = dir.appendingPathComponent(name)
      try Self.legacy(object: pickle).write(to: url)
      let fragments = [name + ": ", "nesting too deep"]
      expectError(fragments) { _ = try GeneratorCheckpoint.load(url) }  // --model
      expectError(fragments) { _ = try LPIPS(net: .vgg).loadWeights(backbone: url, heads: url) }  // --lpips-backbone
      expectError(fragments) {  // iloc convert
        _ = try ModelConverter.convert(url, to: dir.appendingPathComponent("out.safetensors"))
      }
    }
  }

  /// A converted tiny DCGAN and its description, with `edit` applied to the JSON.
  func editedManifest(in dir: URL, _ edit: (inout [String: Any]) -> Void) throws -> URL {
    let m = try DCGAN(latentDim: 4, channels: [8, 4, 4, 2, 3])
    var t: [String: TensorData] = [:]
    for (k, s) in m.weightShapes { t[k] = TensorData(shape: s, values: [Float](repeating: 0.5, count: s.elementCount)) }
    let source = dir.appendingPathComponent("tiny.safetensors")
    try SafeTensorsFile(tensors: t).write(to: source)
    let out = dir.appendingPathComponent("conv.safetensors")
    let report = try ModelConverter.convert(source, to: out)
    var json = try JSONSerialization.jsonObject(with: Data(contentsOf: report.manifestURL)) as! [String: Any]
    edit(&json)
    let edited = dir.appendingPathComponent("edited.json")
    try JSONSerialization.data(withJSONObject: json).write(to: edited)
    return edited
  }

  @Test func dcganDescriptionsAreChecked() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    #expect(throws: Never.self) { _ = try GeneratorCheckpoint.load(try editedManifest(in: dir) { _ in }) }
    let size = try editedManifest(in: dir) { $0["size"] = 128 }
    expectError(["edited.json declares size 128 but conv.safetensors holds 64"]) { _ = try GeneratorCheckpoint.load(size) }
    let count = try editedManifest(in: dir) { $0["tensor_count"] = 3 }
    expectError(["edited.json declares tensor_count 3 but conv.safetensors holds 21"]) { _ = try GeneratorCheckpoint.load(count) }
  }

  @Test func descriptionsWithBadFieldsGiveOneLine() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let key = try editedManifest(in: dir) { json in
      var channels = json["channels"] as! [String: Any]
      channels["abc"] = 5
      json["channels"] = channels
    }
    expectError(["edited.json: bad 'channels' key 'abc'"]) { _ = try GeneratorCheckpoint.load(key) }
    let noArchitecture = try editedManifest(in: dir) { $0["architecture"] = nil }
    expectError(["edited.json: missing field 'architecture'"]) { _ = try GeneratorCheckpoint.load(noArchitecture) }
  }
}

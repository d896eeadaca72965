import Foundation
import Testing

@testable import Runtime

@Suite struct SafeTensorsTests {
  @Test func readsAHandWrittenFile() throws {
    let url = WeightFixtures.url("hand.safetensors")
    let file = try SafeTensorsFile(contentsOf: url)
    WeightFixtures.check(file.tensors, against: WeightFixtures.expected("hand.safetensors"))
    #expect(file.metadata == ["format": "pt", "note": "hand-made"])
    // loadStateDict recognises the format by content.
    let state = try loadStateDict(url)
    #expect(state.tensors == file.tensors)
    #expect(try loadStateDict(url, prefix: "a")["weight"]?.shape == [2, 3])
  }

  @Test func writerRoundTrips() throws {
    let tensors: [String: TensorData] = [
      "conv.weight": TensorData(shape: [2, 1, 3], values: [1, -2, 3.5, .pi, -0.0, 1e-30]),
      "scalar": TensorData(shape: [], values: [42]),
      "empty": TensorData(shape: [0, 4], values: []),
      "quote\"d\\key": TensorData(shape: [1], values: [.greatestFiniteMagnitude]),
    ]
    let metadata = ["format": "pt", "line\nbreak": "tab\there \u{1}"]
    let original = SafeTensorsFile(tensors: tensors, metadata: metadata)
    let url = try WeightFixtures.temporaryDirectory().appendingPathComponent("out.safetensors")
    try original.write(to: url)

    let bytes = try Data(contentsOf: url)
    let headerLength = bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
    #expect(headerLength % 8 == 0)
    #expect(bytes.count == 8 + headerLength + 4 * 8)

    let back = try SafeTensorsFile(contentsOf: url)
    #expect(back.metadata == metadata)
    #expect(back.tensors == tensors)
    #expect(back.tensors["conv.weight"]?.values[4].sign == .minus)
  }

  @Test func writerRejectsAMismatchedShape() throws {
    let file = SafeTensorsFile(tensors: ["w": TensorData(shape: [2, 2], values: [1, 2, 3])])
    let error = #expect(throws: WeightError.self) { try file.encoded() }
    #expect(error?.description == "cannot write tensor 'w': shape [2, 2] does not match 3 values")
  }
}

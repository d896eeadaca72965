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

  /// Tensors read as F16 / BF16 are written back in that width (same bytes); one whose values no
  /// longer fit the width exactly is written as F32, so nothing is rounded silently.
  @Test func halfWidthTensorsKeepTheirWidth() throws {
    let half: [Float] = [1, -2, 0.5, 65504, 6.1035156e-05, -0.0]   // all exact in float16
    let f16 = TensorData(shape: [2, 3], values: half, dtype: .float16, integerValues: nil)
    let bf16 = TensorData(shape: [2], values: [1.5, -0x1p100], dtype: .bfloat16, integerValues: nil)
    var drifted = f16
    drifted.values[0] = 1.0001
    let url = try WeightFixtures.temporaryDirectory().appendingPathComponent("half.safetensors")
    try SafeTensorsFile(tensors: ["a": f16, "b": bf16, "c": drifted]).write(to: url)
    let bytes = try Data(contentsOf: url)
    let headerLength = bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
    let header = String(decoding: bytes[8..<8 + headerLength], as: UTF8.self)
    #expect(header.contains(#""a":{"dtype":"F16""#) && header.contains(#""b":{"dtype":"BF16""#))
    #expect(header.contains(#""c":{"dtype":"F32""#))
    #expect(bytes.count == 8 + headerLength + 6 * 2 + 2 * 2 + 6 * 4)
    // float16 1.0 is 0x3C00, bfloat16 1.5 is 0x3FC0 (little-endian)
    #expect(Array(bytes[8 + headerLength..<8 + headerLength + 2]) == [0x00, 0x3C])
    #expect(Array(bytes[8 + headerLength + 12..<8 + headerLength + 14]) == [0xC0, 0x3F])
    let back = try SafeTensorsFile(contentsOf: url)
    #expect(back.tensors["a"] == f16 && back.tensors["b"] == bf16)
    #expect(back.tensors["c"]?.dtype == .float32 && back.tensors["c"]?.values == drifted.values)
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

import Foundation
import GraphIR
import Models
import Runtime
import Testing

/// Bad model files give one clear error line: another architecture, a truncated or corrupt
/// file, a missing or mis-shaped tensor. The files are small and made up here.
@Suite struct CheckpointErrorTests {

  static let s32 = Fixtures.url("stylegan2/stylegan2_s32.pt")

  /// A made-up DCGAN-layout file (tiny channels).
  func fakeDCGAN(in dir: URL) throws -> URL {
    let m = try DCGAN(latentDim: 4, channels: [8, 4, 4, 2, 3])
    var t: [String: TensorData] = [:]
    for (k, s) in m.weightShapes { t[k] = TensorData(shape: s, values: [Float](repeating: 0.5, count: s.elementCount)) }
    let url = dir.appendingPathComponent("fake_dcgan.safetensors")
    try SafeTensorsFile(tensors: t).write(to: url)
    return url
  }

  /// The s32 generator tensors with `edit` applied, written as safetensors.
  func editedStyleGAN2(in dir: URL, _ edit: (inout [String: TensorData]) -> Void) throws -> URL {
    var t = try StyleGAN2Checkpoint(contentsOf: Self.s32).stateDict.tensors
    edit(&t)
    let url = dir.appendingPathComponent("edited.safetensors")
    try SafeTensorsFile(tensors: t).write(to: url)
    return url
  }

  @Test func wrongArchitecture() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let dcgan = try fakeDCGAN(in: dir)
    #expect(try DCGANCheckpoint(contentsOf: dcgan).model.channels == [8, 4, 4, 2, 3])
    expectError(["fake_dcgan.safetensors: not a StyleGAN2 generator: missing key 'style.1.weight'"]) {
      _ = try StyleGAN2Checkpoint(contentsOf: dcgan)
    }
    expectError(["stylegan2_s32.pt: not a DCGAN generator: missing key 'main.0.weight'"]) {
      _ = try DCGANCheckpoint(contentsOf: Self.s32)
    }
    expectError(["stylegan2_s32.pt: not a head file of LPIPS-vgg: missing key 'lin0.model.1.weight'"]) {
      _ = try LPIPS(net: .vgg).loadHeads(Self.s32)
    }
    expectError(["not a VGG16 backbone: missing key 'features.0.weight'"]) {
      _ = try LPIPS(net: .vgg).loadWeights(backbone: dcgan, heads: dcgan)
    }
  }

  @Test func truncatedAndCorruptFiles() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let data = try Data(contentsOf: Self.s32)
    let truncated = dir.appendingPathComponent("truncated.pt")
    try data.prefix(data.count / 2).write(to: truncated)
    expectError(["truncated.pt"]) { _ = try StyleGAN2Checkpoint(contentsOf: truncated) }
    let garbage = dir.appendingPathComponent("garbage.pt")
    try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }).write(to: garbage)
    expectError(["garbage.pt"]) { _ = try StyleGAN2Checkpoint(contentsOf: garbage) }
    expectError(["missing.pt", "no such file"]) { _ = try DCGANCheckpoint(contentsOf: dir.appendingPathComponent("missing.pt")) }
  }

  @Test func missingAndMisshapedTensors() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let missing = try editedStyleGAN2(in: dir) { $0["convs.3.conv.modulation.bias"] = nil }
    expectError(["edited.safetensors", "convs.3.conv.modulation.bias", "missing"]) { _ = try StyleGAN2Checkpoint(contentsOf: missing) }
    let misshaped = try editedStyleGAN2(in: dir) { $0["to_rgbs.1.bias"] = TensorData(shape: [3], values: [0, 0, 0]) }
    expectError(["edited.safetensors", "to_rgbs.1.bias", "[3]", "[1, 3, 1, 1]"]) { _ = try StyleGAN2Checkpoint(contentsOf: misshaped) }
    let badAvg = try editedStyleGAN2(in: dir) { $0["latent_avg"] = TensorData(shape: [2], values: [0, 0]) }
    expectError(["latent_avg", "[2]", "[32]"]) { _ = try StyleGAN2Checkpoint(contentsOf: badAvg) }
  }

  /// Binding a checkpoint of another configuration to a graph names the first bad key.
  @Test func bindingMismatch() throws {
    let ckpt = try StyleGAN2Checkpoint(contentsOf: Self.s32)
    let other = try StyleGAN2(config: StyleGAN2Config(size: 32, channelMultiplier: 1, styleDim: 32, mappingLayers: 3))
    let mg = try other.synthesisGraph(batch: 1)
    expectError(["stylegan2_s32.pt: tensor 'conv1.activate.bias' has shape [32], expected [512]"]) { _ = try mg.bind(ckpt.stateDict) }
    let mapping = StyleGAN2(config: ckpt.config).mappingGraph(batch: 1, rows: 1, truncation: 0.5)
    var sd = ckpt.stateDict
    sd.tensors["latent_avg"] = nil
    expectError(["missing tensor 'latent_avg'"]) { _ = try mapping.bind(sd) }
  }
}

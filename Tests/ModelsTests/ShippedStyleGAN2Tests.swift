import Foundation
import GraphIR
import Models
import Runtime
import Testing

/// The shipped StyleGAN2 (`models/stylegan2-face64.safetensors`, trained by
/// `scripts/train/train_stylegan2.py`) and the training script itself. Truth: an independent
/// float64 evaluation of the same weights by the PyTorch reference port
/// (`scripts/train/check_export.py`, golden `stylegan2/stylegan2_face64_golden.safetensors`).
@Suite struct ShippedStyleGAN2Tests {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  static func shipped() throws -> StyleGAN2Checkpoint {
    let url = try GeneratorCheckpoint.resolve("stylegan2-face64", searchRoots: [root])
    guard case .styleGAN2(let c) = try GeneratorCheckpoint.load(url) else {
      throw ModelError("stylegan2-face64 did not load as a StyleGAN2 generator")
    }
    return c
  }

  /// Image (and mapping) of `ckpt` for the golden's w+ and noises, against the golden.
  static func expectMatchesGolden(_ ckpt: StyleGAN2Checkpoint, _ golden: [String: HostTensor<Float>],
                                  _ engine: Engine, _ name: String) throws {
    let model = StyleGAN2(config: ckpt.config)
    let wPlus = golden["w_plus"]!
    let mg = try model.synthesisGraph(batch: wPlus.shape[0])
    var feed = try mg.bind(ckpt.stateDict)
    for i in 0..<ckpt.config.noiseCount {
      // the checkpoint's buffers are one map broadcast over the batch
      let n = golden["noise.\(i)"]!
      feed["noise.\(i)"] = HostTensor(shape: [wPlus.shape[0]] + n.shape.dropFirst(), values:
                                        Array((0..<wPlus.shape[0]).map { _ in n.values }.joined()))
    }
    feed["w_plus"] = wPlus
    let out = try runGraph(engine, mg.graph, inputs: feed)
    expectClose(out["image"], golden["image"], "\(name) image \(engine)")
    let z = golden["mapping.z"]!
    let mapping = model.mappingGraph(batch: z.shape[0], rows: 1)
    var mfeed = try mapping.bind(ckpt.stateDict)
    mfeed["z"] = HostTensor(shape: [z.shape[0], 1, z.shape[1]], values: z.values)
    let w = try runGraph(engine, mapping.graph, inputs: mfeed)["w"]
    let ref = golden["mapping.w"]!
    expectClose(w.map { HostTensor(shape: ref.shape, values: $0.values) }, ref, "\(name) mapping \(engine)")
  }

  @Test func shippedModelResolvesByNameAndStaysSmall() throws {
    let c = try Self.shipped()
    #expect(c.config.size == 64 && c.config.styleDim == 512 && c.config.mappingLayers == 8)
    #expect(c.config.channels == [4: 256, 8: 256, 16: 256, 32: 128, 64: 64])
    #expect(c.latentProxy != nil && c.latentAverage != nil && c.manifest?.architecture == "stylegan2")
    // float16 weights stay float16 in the file (under 16 MiB, the size a GPU run can return)
    let file = try SafeTensorsFile(contentsOf: Self.root.appendingPathComponent("models/stylegan2-face64.safetensors"))
    #expect(file.tensors["conv1.conv.weight"]?.dtype == .float16)
    let bytes = try FileManager.default.attributesOfItem(atPath: Self.root.appendingPathComponent(
      "models/stylegan2-face64.safetensors").path)[.size] as! Int
    #expect(bytes < 16 << 20)
  }

  /// The compiled engine (the interpreter is checked against the same reference port by the
  /// random-weight goldens; on this model it takes minutes in a debug build).
  @Test func shippedModelMatchesTheFloat64Reference() throws {
    let golden = try Fixtures.golden("stylegan2/stylegan2_face64_golden.safetensors")
    try timed("stylegan2-face64 vs reference") {
      try Self.expectMatchesGolden(try Self.shipped(), golden, .jit, "stylegan2-face64")
    }
  }

  /// Whether `python3` can import torch (the training script needs it; skipped otherwise).
  static let torchImportable: Bool = (try? run(["python3", "-c", "import torch"]).status) == 0

  static func run(_ args: [String]) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    p.currentDirectoryURL = root
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-py-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: log.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: log) }
    let handle = try FileHandle(forWritingTo: log)
    p.standardOutput = handle
    p.standardError = handle
    try p.run()
    p.waitUntilExit()
    return (p.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
  }

  /// The training script's CPU smoke run (tiny widths, a few iterations) writes a checkpoint that
  /// iloc reads, and iloc's image of it equals the reference port's float64 image.
  @Test(.enabled(if: torchImportable, "skipped: python3 cannot import torch"),
        .enabled(if: Fixtures.cached("gan_face_generate/weights.tar") != nil, "skipped: run models/fetch.sh"))
  func trainingSmokeRunGivesACheckpointIlocReads() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let train = try Self.run(["python3", "scripts/train/train_stylegan2.py", "--smoke", "--max-iters", "3",
                              "--out", dir.path, "--dcgan", Fixtures.cached("gan_face_generate/weights.tar")!.path])
    #expect(train.status == 0, "training smoke run failed:\n\(train.output)")
    let ckptURL = dir.appendingPathComponent("stylegan2-face64.pt")
    let goldenURL = dir.appendingPathComponent("check.safetensors")
    let check = try Self.run(["python3", "scripts/train/check_export.py", ckptURL.path, goldenURL.path])
    #expect(check.status == 0, "check_export failed:\n\(check.output)")
    let ckpt = try StyleGAN2Checkpoint(contentsOf: ckptURL)
    #expect(ckpt.config.size == 64 && ckpt.latentAverage != nil)
    let golden = try SafeTensorsFile(contentsOf: goldenURL).tensors.mapValues { HostTensor(shape: $0.shape, values: $0.values) }
    try Self.expectMatchesGolden(ckpt, golden, .jit, "smoke checkpoint")
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("samples.png").path))
  }
}

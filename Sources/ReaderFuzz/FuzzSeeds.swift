import Artifact
import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime
import ZIPFoundation

/// Small valid files of every reader's kind, made here, so that fuzzing starts from inputs
/// that reach deep into each reader.
public enum FuzzSeeds {
  /// The seeds of `reader`.
  public static func make(_ reader: FuzzReader) throws -> [Data] {
    switch reader {
    case .png: return try pngs()
    case .safetensors: return [try safetensors()]
    case .state: return try states()
    case .torchZip: return try [zip(pickle: TorchPickle.oneTensor(count: 4), storages: ["0": floats(4)])]
    case .legacyPickle: return [legacy()]
    case .modelJSON: return models()
    case .operatorFile: return try operators()
    case .artifactManifest: return [try artifactManifest()]
    }
  }

  /// A manifest that `ArtifactManifest.verify` accepts for `FuzzReader.artifactFiles` on this
  /// machine (host triple, no required CPU features).
  static func artifactManifest() throws -> Data {
    let dir = try FuzzReader.artifactDirectory(
      beside: FileManager.default.temporaryDirectory.appendingPathComponent("iloc-fuzz-seed-\(UUID().uuidString)"))
    defer { try? FileManager.default.removeItem(at: dir) }
    var files: [String: Any] = [:]
    for name in FuzzReader.artifactFiles.keys {
      let r = try ArtifactManifest.record(dir.appendingPathComponent(name))
      files[name] = ["bytes": r.bytes, "sha256": r.sha256]
    }
    let settings = try JSONSerialization.jsonObject(with: JSONEncoder().encode(InversionSettings()))
    let op = try JSONSerialization.jsonObject(with: JSONEncoder().encode(
      try InpaintMask(keepProbability: 0.5, seed: 3, height: FuzzReader.imageSize, width: FuzzReader.imageSize).record))
    let manifest: [String: Any] = [
      "format": ArtifactManifest.formatName, "formatVersion": ArtifactManifest.currentVersion, "ilocVersion": "fuzz",
      "target": ["cpu": "x86-64", "features": "", "requiredFeatures": [String](), "triple": "x86_64-unknown-linux-gnu",
                 "llvmVersion": "19", "hostBuild": false] as [String: Any],
      "model": "dcgan", "architecture": "dcgan", "modelDescription": "seed", "imageSize": FuzzReader.imageSize,
      "task": "inpaint", "operatorRecord": op, "settings": settings, "lossTerms": ["mse"], "flags": [String](),
      "kernels": [String](), "stages": [Any](), "files": files,
    ]
    return try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys])
  }

  static func floats(_ n: Int) -> Data { (0..<n).map { Float($0) * 0.5 - 1 }.withUnsafeBytes { Data($0) } }

  static func pngs() throws -> [Data] {
    try [(1, 1), (4, 3), (9, 9)].map { w, h in
      let pixels = (0..<(w * h * 3)).map { UInt8(truncatingIfNeeded: $0 &* 29) }
      return try PNG.encode(RGBImage(width: w, height: h, pixels: pixels))
    }
  }

  static func safetensors() throws -> Data {
    let tensors = ["a": TensorData(shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), "b": TensorData(shape: [1], values: [7])]
    return try SafeTensorsFile(tensors: tensors, metadata: ["note": "seed"]).encoded()
  }

  static func states() throws -> [Data] {
    let s = FuzzReader.imageSize
    let ops: [OperatorRecord] = [
      try InpaintMask(keepProbability: 0.5, seed: 3, height: s, width: s).record,
      try InpaintMask(box: 1, left: 2, boxHeight: 3, boxWidth: 2, height: s, width: s).record,
      try CirculantSensing(imageSize: s, measurements: 20, seed: 1).record,
    ]
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-fuzz-seed-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try ops.enumerated().map { i, op in
      let meta = SavedState.Metadata(
        round: i % 2, model: "m.pt", modelDescription: "seed", settings: InversionSettings(), operatorRecord: op,
        observationShape: [1, 3, s, s], lpipsNet: nil)
      let url = dir.appendingPathComponent("state\(i).safetensors")
      try SavedState(metadata: meta, values: ["h": HostTensor(shape: [1, 2], values: [0.5, -1])]).write(to: url)
      return try Data(contentsOf: url)
    }
  }

  static func models() -> [Data] {
    let dcgan = """
      {"architecture":"dcgan","channels":{"4":8,"8":4,"16":4,"32":2,"64":3},"format":"iloc-model",
      "format_version":1,"nc":3,"ngf":1,"nz":4,"size":64,"source":{"file":"w.tar","sha256":"00"},
      "tensor_count":21,"weights":"w.safetensors"}
      """
    let stylegan = """
      {"architecture":"stylegan2","channels":{"4":16,"8":16},"format":"iloc-model","format_version":1,
      "size":8,"style_dim":8,"n_mlp":2,"lr_mlp":0.01,"n_latent":4,"n_noise":3,"latent_avg":"fitted",
      "latent_proxy":{"mean":"latent_proxy.mean","std":"latent_proxy.std","samples":10,"seed":1,"batch":5,
      "engine":"jit","recipe":"r","mean_average":-0.3,"std_average":0.8},
      "source":{"file":"g.pt","sha256":"00"},"tensor_count":30,"weights":"g.safetensors"}
      """
    return [Data(dcgan.utf8), Data(stylegan.utf8)]
  }

  static func operators() throws -> [Data] {
    let s = FuzzReader.imageSize
    let ops: [any ForwardOperator] = [
      try InpaintMask(keepProbability: 0.5, seed: 3, height: s, width: s),
      try InpaintMask(box: 1, left: 2, boxHeight: 3, boxWidth: 2, height: s, width: s),
      try InpaintMask(values: (0..<(s * s)).map { Float($0 % 2) }, height: s, width: s),
      try BicubicDownsampler(factor: 2), try NoiseAddition(sigma: 0.1, seed: 2),
      try CirculantSensing(imageSize: s, measurements: 20, seed: 1),
      try GaussianSensing(imageSize: s, measurements: 5, seed: 1),
      Colorizer(),
    ]
    return try ops.map { try $0.record.jsonData() }
  }

  /// A torch zip checkpoint (`archive/data.pkl`, `archive/data/<key>`), stored uncompressed
  /// as `torch.save` writes it, built in memory.
  static func zip(pickle: [UInt8], storages: [String: Data]) throws -> Data {
    let archive = try Archive(data: Data(), accessMode: .create)
    var files = [("archive/data.pkl", Data(pickle))]
    files += storages.sorted { $0.key < $1.key }.map { ("archive/data/\($0.key)", $0.value) }
    for (path, data) in files {
      try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .none) {
        position, size in data.subdata(in: Int(position)..<Int(position) + size)
      }
    }
    return archive.data ?? Data()
  }

  /// A legacy checkpoint: magic, protocol 1001, sys_info, the one-tensor object, the storage
  /// key list `['0']`, then storage '0' as an int64 element count and its floats.
  static func legacy() -> Data {
    let magic: [UInt8] = [0x80, 2, 0x8A, 10, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
    let sysInfo: [UInt8] = [0x80, 2, 0x7D, 0x8C, 13] + Array("little_endian".utf8) + [0x88, 0x73, 0x2E]
    let keys: [UInt8] = [0x80, 2, 0x5D, 0x8C, 1, 0x30, 0x61, 0x2E]
    var bytes = magic + [0x80, 2, 0x4D, 0xE9, 0x03, 0x2E] + sysInfo + TorchPickle.oneTensor(count: 4) + keys
    bytes += withUnsafeBytes(of: UInt64(4).littleEndian, Array.init)
    return Data(bytes) + floats(4)
  }
}

/// Hand-assembled torch pickles (also the hostile-file tests' building block).
public enum TorchPickle {
  /// `{"w": _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', count), 0, (count,), (1,), False)}`.
  public static func oneTensor(count: Int) -> [UInt8] {
    func short(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }
    func binint(_ v: Int) -> [UInt8] { [0x4A] + withUnsafeBytes(of: Int32(v).littleEndian, Array.init) }
    var p: [UInt8] = [0x80, 2, 0x7D] + short("w")
    p += [0x63] + Array("torch._utils\n_rebuild_tensor_v2\n".utf8) + [0x28]
    p += [0x28] + short("storage") + [0x63] + Array("torch\nFloatStorage\n".utf8)
    p += short("0") + short("cpu") + binint(count) + [0x74, 0x51]
    p += [0x4B, 0] + binint(count) + [0x85, 0x4B, 1, 0x85, 0x89, 0x74]
    return p + [0x52, 0x73, 0x2E]
  }
}

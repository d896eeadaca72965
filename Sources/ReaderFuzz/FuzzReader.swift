import Artifact
import Foundation
import ILO
import Inversion
import Models
import Runtime

/// The readers a user's file reaches, each behind one entry point that takes raw bytes, for
/// fuzzing: `read` may throw (a clean one-line refusal is the expected outcome for damaged
/// input) but must never crash, hang or allocate without bound.
public enum FuzzReader: String, CaseIterable, Sendable {
  case png
  case safetensors
  /// `state.safetensors` with its `iloc` metadata JSON (what `iloc render` reads).
  case state
  /// A torch >= 1.6 checkpoint (zip archive holding `data.pkl` and the storages).
  case torchZip = "torch-zip"
  /// A legacy torch checkpoint (concatenated pickles, then raw storages).
  case legacyPickle = "legacy-pickle"
  /// A converted model's description (`model.json`).
  case modelJSON = "model-json"
  /// An operator file (`iloc degrade --operator-out`).
  case operatorFile = "operator"
  /// An `iloc compile` artifact's `manifest.json`, checked as `iloc run` checks it (names,
  /// sizes and SHA-256 of the files it lists, the target CPU) before anything is loaded.
  case artifactManifest = "artifact-manifest"

  /// The image side the operator and state readers check against (as a small model would).
  static let imageSize = 8

  /// Reads `data` the way iloc reads a user's file of this kind. File-based readers write the
  /// bytes to `scratch` first (left there, so the input that crashed a run can be recovered).
  public func read(_ data: Data, scratch: URL) throws {
    switch self {
    case .png: _ = try PNG.decode(data)
    case .safetensors: _ = try SafeTensorsFile.decode(data)
    case .state:
      try data.write(to: scratch)
      let state = try SavedState.read(scratch)
      _ = try state.metadata.operatorRecord.makeOperator(imageSize: Self.imageSize)
      try state.metadata.settings.validate(maxRounds: 5)
    case .torchZip, .legacyPickle:
      try data.write(to: scratch)
      _ = try TorchCheckpoint(contentsOf: scratch).stateDict()
    case .modelJSON:
      try data.write(to: scratch)
      _ = try ModelManifest(contentsOf: scratch)
    case .operatorFile:
      _ = try OperatorRecord.decode(data).makeOperator(imageSize: Self.imageSize)
    case .artifactManifest:
      let dir = try Self.artifactDirectory(beside: scratch)
      try data.write(to: dir.appendingPathComponent(ArtifactManifest.fileName))
      _ = try ArtifactManifest.verify(dir)
    }
  }

  /// The stand-in files of a fuzzed artifact: what the seed manifest lists.
  static let artifactFiles = [
    ArtifactManifest.kernelLibrary: Data("not a shared library: verify checks it, never loads it".utf8),
    ArtifactManifest.weightsFile: Data("weights".utf8),
  ]

  /// A folder next to `scratch` holding the stand-in artifact files (made once).
  static func artifactDirectory(beside scratch: URL) throws -> URL {
    let dir = scratch.deletingLastPathComponent().appendingPathComponent(scratch.lastPathComponent + ".artifact")
    let fm = FileManager.default
    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, bytes) in artifactFiles where !fm.fileExists(atPath: dir.appendingPathComponent(name).path) {
      try bytes.write(to: dir.appendingPathComponent(name))
    }
    return dir
  }

  /// How inputs of this kind are mutated beyond plain bytes.
  var structure: FuzzStructure {
    switch self {
    case .png, .safetensors: .bytes
    case .state, .modelJSON, .operatorFile, .artifactManifest: .json
    case .torchZip: .zippedPickle
    case .legacyPickle: .pickle
    }
  }
}

/// What a structure-aware mutation may understand of an input.
enum FuzzStructure {
  case bytes
  /// JSON text, or a safetensors file whose metadata is JSON (the state file).
  case json
  /// A pickle stream (opcodes).
  case pickle
  /// A torch zip: the pickle is mutated and the archive rebuilt around it.
  case zippedPickle
}

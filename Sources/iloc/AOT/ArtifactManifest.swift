import Foundation
import ILO
import Inversion
import Models
import Runtime

/// `manifest.json` of an ahead-of-time artifact (`iloc compile`): what it was built for, how
/// its stage programs are laid out, the flags of the setup, and a checksum of every file.
struct ArtifactManifest: Codable {
  static let formatName = "iloc-artifact"
  /// Bump when the manifest or the artifact's files change meaning.
  static let currentVersion = 1
  static let fileName = "manifest.json"
  static let kernelLibrary = "kernels.so"
  static let weightsFile = "weights.safetensors"

  struct Target: Codable {
    /// LLVM CPU name the kernels were compiled for, and the full LLVM feature string.
    var cpu: String
    var features: String
    /// The features a machine must have (LLVM names); checked against /proc/cpuinfo.
    var requiredFeatures: [String]
    var triple: String
    var llvmVersion: String
    /// Built for the compiling machine's own CPU (then results match `iloc invert` bit for bit).
    var hostBuild: Bool
  }

  struct FileRecord: Codable {
    var bytes: Int
    var sha256: String
  }

  /// One round's compiled stage program.
  struct ProgramRecord: Codable {
    var name: String
    var graphNodes: Int
    var layout: ProgramLayout
  }

  var format = formatName
  var formatVersion = currentVersion
  var ilocVersion: String
  var target: Target
  /// The `--model` given to `iloc compile`, the generator's architecture and description.
  var model: String
  var architecture: String
  var modelDescription: String
  var imageSize: Int
  /// StyleGAN2 mapping-network learning-rate multiplier (needed to read the weights back).
  var lrMul: Float?
  /// StyleGAN2 `conv_clamp` of stylegan2-ada models (part of the compiled graphs).
  var convClamp: Float? = nil
  var task: String
  var operatorRecord: OperatorRecord?
  var settings: InversionSettings
  var lossTerms: [String]
  /// The command line of `iloc compile`.
  var flags: [String]
  /// Every kernel symbol in kernels.so.
  var kernels: [String]
  var stages: [ProgramRecord]
  /// Checksums of every file of the artifact except this manifest.
  var files: [String: FileRecord]

  /// Reads and checks an artifact directory before anything in it is loaded: the format
  /// version, every file's size and SHA-256, the CPU features. Errors are one line.
  static func verify(_ dir: URL) throws -> ArtifactManifest {
    let url = dir.appendingPathComponent(fileName)
    guard let data = try? Data(contentsOf: url) else { throw ValidationFailure("\(dir.path) is not an iloc artifact: no readable \(fileName)") }
    struct Header: Decodable { var format: String?; var formatVersion: Int? }
    guard let h = try? JSONDecoder().decode(Header.self, from: data) else {
      throw ValidationFailure("\(url.path) is corrupted or truncated (not valid JSON)")
    }
    guard h.format == formatName else { throw ValidationFailure("\(url.path) is not an iloc artifact manifest (format '\(h.format ?? "none")')") }
    guard h.formatVersion == currentVersion else {
      throw ValidationFailure("artifact \(dir.lastPathComponent) has format version \(h.formatVersion.map(String.init) ?? "none"); this iloc reads version \(currentVersion) (recompile it with `iloc compile`)")
    }
    let m: ArtifactManifest
    let dec = JSONDecoder()
    dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    do { m = try dec.decode(ArtifactManifest.self, from: data) } catch {
      throw ValidationFailure("\(url.path) is corrupted: \(error.localizedDescription)")
    }
    for name in [kernelLibrary, weightsFile] where m.files[name] == nil {
      throw ValidationFailure("artifact \(dir.lastPathComponent): the manifest lists no checksum for \(name)")
    }
    for (name, rec) in m.files.sorted(by: { $0.key < $1.key }) {
      let f = dir.appendingPathComponent(name)
      guard let attrs = try? FileManager.default.attributesOfItem(atPath: f.path), let size = attrs[.size] as? Int else {
        throw ValidationFailure("artifact \(dir.lastPathComponent): \(name) is missing")
      }
      guard size == rec.bytes else {
        throw ValidationFailure("artifact \(dir.lastPathComponent): \(name) is truncated or altered (\(size) bytes, the manifest says \(rec.bytes))")
      }
      guard try SHA256.hex(fileAt: f) == rec.sha256 else {
        throw ValidationFailure("artifact \(dir.lastPathComponent): \(name) is corrupted (SHA-256 differs from the manifest)")
      }
    }
    #if arch(x86_64)
    let arch = "x86_64"
    #elseif arch(arm64)
    let arch = "aarch64"
    #else
    let arch = "unknown"
    #endif
    guard m.target.triple.hasPrefix(arch) else {
      throw ValidationFailure("artifact \(dir.lastPathComponent) was built for \(m.target.triple), this machine is \(arch)")
    }
    guard let host = CPUFeatures.hostFlags() else {
      throw ValidationFailure("cannot read /proc/cpuinfo to check the CPU features artifact \(dir.lastPathComponent) needs")
    }
    let missing = CPUFeatures.missing(m.target.requiredFeatures, host: host)
    guard missing.isEmpty else {
      throw ValidationFailure("artifact \(dir.lastPathComponent) was built for CPU \(m.target.cpu); this CPU lacks \(missing.joined(separator: ", ")) (rebuild with --target-cpu for an older CPU, e.g. x86-64-v3)")
    }
    return m
  }

  func write(to dir: URL) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    try enc.encode(self).write(to: dir.appendingPathComponent(Self.fileName), options: .atomic)
  }

  static func record(_ url: URL) throws -> FileRecord {
    let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
    return FileRecord(bytes: size, sha256: try SHA256.hex(fileAt: url))
  }
}

import Foundation
import ILO
import Inversion
import Models
import Runtime

/// `manifest.json` of an ahead-of-time artifact (`iloc compile`): what it was built for, how
/// its stage programs are laid out, the flags of the setup, and a checksum of every file.
public struct ArtifactManifest: Codable {
  public static let formatName = "iloc-artifact"
  /// Bump when the manifest or the artifact's files change meaning.
  public static let currentVersion = 1
  public static let fileName = "manifest.json"
  public static let kernelLibrary = "kernels.so"
  public static let weightsFile = "weights.safetensors"

  public struct Target: Codable, Sendable {
    /// LLVM CPU name the kernels were compiled for, and the full LLVM feature string.
    public var cpu: String
    public var features: String
    /// The features a machine must have (LLVM names); checked against /proc/cpuinfo.
    public var requiredFeatures: [String]
    public var triple: String
    public var llvmVersion: String
    /// Built for the compiling machine's own CPU (then results match `iloc invert` bit for bit).
    public var hostBuild: Bool
  }

  public struct FileRecord: Codable, Sendable {
    public var bytes: Int
    public var sha256: String
  }

  /// One round's compiled stage program.
  public struct ProgramRecord: Codable {
    public var name: String
    public var graphNodes: Int
    public var layout: ProgramLayout
  }

  public var format = formatName
  public var formatVersion = currentVersion
  public var ilocVersion: String
  public var target: Target
  /// The `--model` given to `iloc compile`, the generator's architecture and description.
  public var model: String
  public var architecture: String
  public var modelDescription: String
  public var imageSize: Int
  /// StyleGAN2 mapping-network learning-rate multiplier (needed to read the weights back).
  public var lrMul: Float?
  /// StyleGAN2 `conv_clamp` of stylegan2-ada models (part of the compiled graphs).
  public var convClamp: Float? = nil
  /// The class of a conditional StyleGAN2 generator (`--class`; its embedding is in the weights).
  public var classIndex: Int? = nil
  public var task: String
  public var operatorRecord: OperatorRecord?
  public var settings: InversionSettings
  public var lossTerms: [String]
  /// The command line of `iloc compile`.
  public var flags: [String]
  /// Every kernel symbol in kernels.so.
  public var kernels: [String]
  /// The own GEMM microkernel in kernels.so and the per-shape choices (host builds where
  /// some GEMM used it; nil: every GEMM runs on OpenBLAS).
  public var gemm: GEMMRecord? = nil
  public var stages: [ProgramRecord]
  /// Checksums of every file of the artifact except this manifest.
  public var files: [String: FileRecord]

  public static let signatureFile = "manifest.sig"
  /// A manifest larger than this is not one (a real one is a few hundred KB).
  public static let manifestLimit = 64 << 20

  /// Reads and checks an artifact directory before anything in it is loaded: with a trusted
  /// key, the manifest's signature first (before any other file is read); then the format
  /// version, every listed file (a plain name inside the directory, a regular file of the
  /// recorded size, then its SHA-256), the CPU features. Errors are one line.
  public static func verify(_ dir: URL, trustedKey: Signing.TrustedKey? = nil) throws -> ArtifactManifest {
    let data = try readManifest(dir)
    if let key = trustedKey { try checkSignature(of: data, in: dir, key: key) }
    let m = try decode(data, dir: dir)
    try checkFiles(m, dir: dir)
    try checkTarget(m, dir: dir)
    return m
  }

  /// The manifest's bytes (a regular file of bounded size inside `dir`).
  public static func readManifest(_ dir: URL) throws -> Data {
    do { return try ConfinedFile.read(fileName, in: dir, limit: manifestLimit) } catch let e as FileError {
      throw ArtifactError("\(dir.path) is not an iloc artifact: \(e.message)")
    }
  }

  /// Refuses an unsigned artifact, or one whose manifest is not signed by `key`.
  public static func checkSignature(of manifest: Data, in dir: URL, key: Signing.TrustedKey) throws {
    let sig: Data
    do { sig = try ConfinedFile.read(signatureFile, in: dir, limit: 4096) } catch {
      throw ArtifactError("artifact \(dir.lastPathComponent) is not signed (no readable \(signatureFile)); "
                              + "refusing it (--trusted-key)")
    }
    guard key.accepts(sig, for: manifest) else {
      throw ArtifactError("artifact \(dir.lastPathComponent): the signature does not match the trusted key "
                              + "(another signer, or the manifest was altered); refusing it")
    }
  }

  /// The manifest from its bytes: the header first, for a clear message on another version.
  public static func decode(_ data: Data, dir: URL) throws -> ArtifactManifest {
    let url = dir.appendingPathComponent(fileName)
    struct Header: Decodable { var format: String?; var formatVersion: Int? }
    guard let h = try? JSONDecoder().decode(Header.self, from: data) else {
      throw ArtifactError("\(url.path) is corrupted or truncated (not valid JSON)")
    }
    guard h.format == formatName else {
      throw ArtifactError("\(url.path) is not an iloc artifact manifest (format '\(h.format ?? "none")')")
    }
    guard h.formatVersion == currentVersion else {
      let found = h.formatVersion.map(String.init) ?? "none"
      throw ArtifactError("artifact \(dir.lastPathComponent) has format version \(found); this iloc reads version "
                          + "\(currentVersion) (recompile it with `iloc compile`)")
    }
    let dec = JSONDecoder()
    dec.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                nan: "nan")
    do { return try dec.decode(ArtifactManifest.self, from: data) } catch {
      throw ArtifactError("\(url.path) is corrupted: \(error.localizedDescription)")
    }
  }

  /// Every listed file: confined to `dir`, a regular file, the recorded size (checked before
  /// a byte is hashed), then the recorded SHA-256.
  public static func checkFiles(_ m: ArtifactManifest, dir: URL) throws {
    let name = dir.lastPathComponent
    for required in [kernelLibrary, weightsFile] where m.files[required] == nil {
      throw ArtifactError("artifact \(name): the manifest lists no checksum for \(required)")
    }
    for (file, rec) in m.files.sorted(by: { $0.key < $1.key }) {
      let (url, size): (URL, Int)
      do { (url, size) = try ConfinedFile.check(file, in: dir) } catch let e as FileError {
        throw ArtifactError("artifact \(name): \(e.message)")
      }
      guard size == rec.bytes else {
        throw ArtifactError("artifact \(name): \(file) is truncated or altered "
                                + "(\(size) bytes, the manifest says \(rec.bytes))")
      }
      guard try FileDigest.sha256Hex(fileAt: url, limit: size) == rec.sha256 else {
        throw ArtifactError("artifact \(name): \(file) is corrupted (SHA-256 differs from the manifest)")
      }
    }
  }

  /// The architecture and CPU features the kernels need, against this machine.
  public static func checkTarget(_ m: ArtifactManifest, dir: URL) throws {
    #if arch(x86_64)
    let arch = "x86_64"
    #elseif arch(arm64)
    let arch = "aarch64"
    #else
    let arch = "unknown"
    #endif
    guard m.target.triple.hasPrefix(arch) else {
      throw ArtifactError("artifact \(dir.lastPathComponent) was built for \(m.target.triple), this machine is \(arch)")
    }
    guard let host = CPUFeatures.hostFlags() else {
      throw ArtifactError("cannot read /proc/cpuinfo to check the CPU features artifact \(dir.lastPathComponent) needs")
    }
    let missing = CPUFeatures.missing(m.target.requiredFeatures, host: host)
    guard missing.isEmpty else {
      throw ArtifactError("artifact \(dir.lastPathComponent) was built for CPU \(m.target.cpu); this CPU lacks "
                          + "\(missing.joined(separator: ", ")) (rebuild with --target-cpu for an older CPU, e.g. x86-64-v3)")
    }
  }

  /// Writes manifest.json and, with `key`, manifest.sig (the Ed25519 signature over the
  /// manifest's exact bytes, which list every other file's SHA-256). A stale signature from
  /// an earlier build is removed when the new manifest is not signed.
  public func write(to dir: URL, signingKey key: Signing.SigningKey? = nil) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys]
    enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                              nan: "nan")
    let data = try enc.encode(self)
    let sig = dir.appendingPathComponent(Self.signatureFile)
    try? FileManager.default.removeItem(at: sig)
    try data.write(to: dir.appendingPathComponent(Self.fileName), options: .atomic)
    if let key { try Data((try key.signature(for: data) + "\n").utf8).write(to: sig, options: .atomic) }
  }

  public static func record(_ url: URL) throws -> FileRecord {
    let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
    return FileRecord(bytes: size, sha256: try FileDigest.sha256Hex(fileAt: url))
  }
}

extension ArtifactManifest {
  /// The settings an artifact runs with: as compiled. A manifest written before the last
  /// round's l1 ball (`InversionSettings.lastRoundRadius`) or the mean's first round
  /// (`meanFirstRound`) records neither, and its artifact runs as it did when it was made (no
  /// ball, rounds 2 and later), instead of taking today's defaults.
  public var runSettings: InversionSettings {
    var s = settings
    if s.lastRoundRadius == nil { s.lastRoundRadius = 0 }
    if s.meanFirstRound == nil { s.meanFirstRound = InversionSettings.legacyMeanFirstRound }
    return s
  }
}

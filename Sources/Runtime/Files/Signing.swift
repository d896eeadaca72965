import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ed25519 signatures (swift-crypto) for files whose bytes vouch for others, such as an
/// artifact's manifest, which lists the SHA-256 of every file it holds: a valid signature
/// over the manifest is a valid signature over the whole artifact.
///
/// Key files are one line of base64 holding the raw 32-byte key: the private key (RFC 8032
/// seed) in `NAME`, the public key in `NAME.pub`. Signature files are one line of base64
/// holding the raw 64-byte signature.
public enum Signing {
  /// Key and signature files are tiny: anything larger is not one.
  static let fileLimit = 4096

  /// A private key, to sign with.
  public struct SigningKey {
    let key: Curve25519.Signing.PrivateKey
    /// A new random key.
    public init() { key = Curve25519.Signing.PrivateKey() }
    /// Reads a private key file.
    public init(contentsOf url: URL) throws {
      let raw = try Signing.readBase64(url, bytes: 32, what: "private key")
      do { key = try Curve25519.Signing.PrivateKey(rawRepresentation: raw) } catch {
        throw FileError("\(url.path): not an Ed25519 private key")
      }
    }
    public var publicKey: TrustedKey { TrustedKey(key: key.publicKey) }
    /// The base64 text of a signature over `data`.
    public func signature(for data: Data) throws -> String { try key.signature(for: data).base64EncodedString() }
    /// Writes the key (readable by its owner only) and, at `NAME.pub`, its public key; refuses
    /// to replace either file.
    public func write(to url: URL) throws {
      let pub = URL(fileURLWithPath: url.path + ".pub")
      if FileManager.default.fileExists(atPath: pub.path) {
        throw FileError("\(pub.path) exists; remove it first or choose another name")
      }
      try Signing.writeLine(key.rawRepresentation.base64EncodedString(), to: url, permissions: 0o600)
      try Signing.writeLine(key.publicKey.rawRepresentation.base64EncodedString(),
                            to: pub, permissions: 0o644)
    }
  }

  /// A public key, to check signatures with.
  public struct TrustedKey {
    let key: Curve25519.Signing.PublicKey
    init(key: Curve25519.Signing.PublicKey) { self.key = key }
    /// Reads a public key file.
    public init(contentsOf url: URL) throws {
      let raw = try Signing.readBase64(url, bytes: 32, what: "public key")
      do { key = try Curve25519.Signing.PublicKey(rawRepresentation: raw) } catch {
        throw FileError("\(url.path): not an Ed25519 public key")
      }
    }
    /// Whether `signatureText` (a signature file's text) is this key's signature over `data`.
    public func accepts(_ signatureText: Data, for data: Data) -> Bool {
      let text = String(decoding: signatureText, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
      guard let sig = Data(base64Encoded: text), sig.count == 64 else { return false }
      return key.isValidSignature(sig, for: data)
    }
  }

  /// The bytes of a one-line base64 file that must decode to exactly `bytes` bytes.
  static func readBase64(_ url: URL, bytes: Int, what: String) throws -> Data {
    let data = try ConfinedFile.readSmallFile(url, limit: fileLimit)
    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard let raw = Data(base64Encoded: text), raw.count == bytes else {
      throw FileError("\(url.path): not an Ed25519 \(what) (expected one line of base64 holding \(bytes) bytes)")
    }
    return raw
  }

  /// Writes a new file (never replacing one: a key is not overwritten by accident), created
  /// with `permissions` from the start so a private key is never readable by others.
  static func writeLine(_ text: String, to url: URL, permissions: mode_t) throws {
    let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, permissions)
    guard fd >= 0 else {
      throw FileError(errno == EEXIST ? "\(url.path) exists; remove it first or choose another name"
                                       : "cannot write \(url.path): \(errnoText())")
    }
    defer { close(fd) }
    let bytes = Array((text + "\n").utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else {
      throw FileError("cannot write \(url.path): \(errnoText())")
    }
  }
}

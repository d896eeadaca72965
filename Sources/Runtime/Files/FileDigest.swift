import Crypto
import Foundation

/// SHA-256 digests of files and bytes as lowercase hex (swift-crypto), used for the checksums
/// of artifacts and of the source files converted models come from. Files are read in chunks,
/// so a large checkpoint is never held in memory for hashing.
public enum FileDigest {
  /// Bytes read per chunk.
  static let chunk = 1 << 20

  /// The SHA-256 of `data`.
  public static func sha256Hex<D: DataProtocol>(_ data: D) -> String { hex(SHA256.hash(data: data)) }

  /// The SHA-256 of the file at `url`; with `limit`, only its first `limit` bytes are read (a
  /// caller that checked the size hashes no more than it expects, whatever the file does).
  public static func sha256Hex(fileAt url: URL, limit: Int? = nil) throws -> String {
    let handle: FileHandle
    do { handle = try FileHandle(forReadingFrom: url) } catch {
      throw FileError("\(url.lastPathComponent): cannot read (\(url.path))")
    }
    defer { try? handle.close() }
    var hasher = SHA256()
    var left = limit ?? Int.max
    while left > 0 {
      let piece: Data?
      do { piece = try handle.read(upToCount: min(chunk, left)) } catch {
        throw FileError("\(url.lastPathComponent): read error (\(url.path))")
      }
      guard let piece, !piece.isEmpty else { break }
      hasher.update(data: piece)
      left -= piece.count
    }
    return hex(hasher.finalize())
  }

  static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
    digest.map { String(format: "%02x", $0) }.joined()
  }
}

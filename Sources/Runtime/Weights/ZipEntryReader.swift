import Foundation
import ZIPFoundation

/// Reads zip entries whole and checked: sizes against the archive file and a compression-ratio
/// limit before anything is inflated, the inflated byte count against the declared size while
/// inflating, and the CRC-32 at the end. A crafted archive (a deflate bomb, sizes that lie) or a
/// damaged one fails in one `WeightError` line that names the entry, before it can exhaust
/// memory or hand back different bytes.
struct ZipEntryReader {
  /// The largest uncompressed/compressed ratio accepted for a deflated entry larger than
  /// `ratioFloor` bytes. `torch.save` stores entries uncompressed; float weights deflate by
  /// about 1.1:1, while a deflate bomb reaches 1032:1.
  static let maxRatio: UInt64 = 32
  /// Entries up to this size inflate without a ratio check (zero biases deflate very well).
  static let ratioFloor: UInt64 = 1 << 20

  let archive: Archive
  /// The archive file's size in bytes: no entry can hold more compressed data than that.
  let fileSize: UInt64

  /// A reader for `archive`, whose file has `fileSize` bytes. Throws if the entries together
  /// declare more than the ratio limit allows for the whole file (many small bombs, or entries
  /// that overlap in the file), before anything is inflated.
  init(archive: Archive, entries: [Entry], fileSize: UInt64) throws {
    self.archive = archive
    self.fileSize = fileSize
    var total: UInt64 = 0
    for entry in entries {
      let (sum, overflow) = total.addingReportingOverflow(entry.uncompressedSize)
      total = overflow ? .max : sum
    }
    let (limit, overflow) = fileSize.multipliedReportingOverflow(by: Self.maxRatio)
    guard total <= Self.ratioFloor || (!overflow && total <= limit) else {
      throw WeightError(
        "the zip entries declare \(total) bytes in all, over \(Self.maxRatio) times the file's \(fileSize) "
          + "(a zip bomb?)")
    }
  }

  /// The whole uncompressed content of `entry`.
  func read(_ entry: Entry) throws -> Data {
    let declared = entry.uncompressedSize
    try checkDeclaredSizes(entry)
    var data = Data()
    data.reserveCapacity(Int(clamping: declared))
    let checksum: CRC32
    do {
      checksum = try archive.extract(entry, bufferSize: 1 << 20) { chunk in
        guard UInt64(data.count + chunk.count) <= declared else {
          throw WeightError("zip entry '\(entry.path)' inflates to more than the \(declared) bytes it declares")
        }
        data.append(chunk)
      }
    } catch let error as WeightError {
      throw error
    } catch {
      throw WeightError("corrupt zip entry '\(entry.path)' (\(error))")
    }
    guard UInt64(data.count) == declared else {
      throw WeightError("truncated zip entry '\(entry.path)' (declares \(declared) bytes, holds \(data.count))")
    }
    guard checksum == entry.checksum else {
      throw WeightError(
        "zip entry '\(entry.path)' is corrupt: CRC-32 \(hex(checksum)) does not match the stored "
          + hex(entry.checksum))
    }
    return data
  }

  /// Rejects, before inflating, sizes the file cannot hold or a ratio only a bomb reaches.
  private func checkDeclaredSizes(_ entry: Entry) throws {
    let (packed, declared) = (entry.compressedSize, entry.uncompressedSize)
    guard packed <= fileSize else {
      throw WeightError(
        "zip entry '\(entry.path)' declares \(packed) compressed bytes but the file has only \(fileSize)")
    }
    if !entry.isCompressed {
      guard packed == declared else {
        throw WeightError("zip entry '\(entry.path)' is stored but declares \(packed) and \(declared) bytes")
      }
      return
    }
    let (limit, overflow) = max(packed, 1).multipliedReportingOverflow(by: Self.maxRatio)
    guard declared <= Self.ratioFloor || (!overflow && declared <= limit) else {
      throw WeightError(
        "zip entry '\(entry.path)' would inflate \(packed) bytes to \(declared) (over the \(Self.maxRatio):1 "
          + "compression limit; a zip bomb?)")
    }
  }

  private func hex(_ value: CRC32) -> String { "0x" + String(value, radix: 16) }
}

import Foundation
import Runtime

/// What a finished row left in its folder `OUT/rows/<id>/`, written last (after the four
/// files of `iloc invert` when it succeeded, alone when it failed): the row's completion marker.
public struct RowMarker: Codable, Equatable, Sendable {
  public enum Status: String, Codable, Sendable { case done, failed }
  public var format = "iloc-batch-row"
  public var version = 1
  public var id: String
  public var status: Status
  public var task: String
  public var method: String
  /// The shard that ran it (`2/8`) and how long the row took.
  public var shard: String
  public var seconds: Double
  /// Final metrics (psnr, ssim, lpips, measurement_mse) where computed.
  public var metrics: [String: Double]
  public var hasGroundTruth: Bool
  /// The one-line error of a failed row.
  public var error: String?
  /// When it finished (seconds since 1970).
  public var finished: Double

  public init(id: String, status: Status, task: String, method: String, shard: String, seconds: Double,
              metrics: [String: Double] = [:], hasGroundTruth: Bool = false, error: String? = nil) {
    self.id = id; self.status = status; self.task = task; self.method = method; self.shard = shard
    self.seconds = seconds; self.metrics = metrics.filter { $0.value.isFinite }
    self.hasGroundTruth = hasGroundTruth; self.error = error
    finished = Date().timeIntervalSince1970
  }
}

/// What one shard process did, written to `OUT/shards/<i>-of-<n>.json` when it stops.
public struct ShardSummary: Codable, Equatable, Sendable {
  public var format = "iloc-batch-shard"
  public var shard: String
  public var rows: Int
  public var done: Int
  public var failed: Int
  public var skipped: Int
  /// Rows left undone (the process was stopped).
  public var pending: Int
  public var started: Double
  public var finished: Double
  public var interrupted: Bool
  public init(shard: String, rows: Int, done: Int, failed: Int, skipped: Int, pending: Int, started: Double,
              finished: Double, interrupted: Bool) {
    self.shard = shard; self.rows = rows; self.done = done; self.failed = failed; self.skipped = skipped
    self.pending = pending; self.started = started; self.finished = finished; self.interrupted = interrupted
  }
}

/// The row list of a batch (`OUT/batch.json`), so `iloc batch report` knows what is pending.
public struct BatchIndex: Codable, Equatable, Sendable {
  public struct Entry: Codable, Equatable, Sendable {
    public var id: String
    public var task: String
    public init(id: String, task: String) { self.id = id; self.task = task }
  }
  public var format = "iloc-batch"
  public var manifest: String
  public var rows: [Entry]
  public init(manifest: String, rows: [Entry]) { self.manifest = manifest; self.rows = rows }
}

/// The folders and files of a batch output directory:
/// `batch.json`, `rows/<id>/{result.png, strip.png, report.json, state.safetensors, row.json}`,
/// `shards/<i>-of-<n>.json`, and from `iloc batch report`: `summary.csv`, `summary.md`,
/// `contact-sheet.png`.
public struct BatchLayout: Sendable {
  public static let markerName = "row.json"
  public static let indexName = "batch.json"
  public let root: URL
  public init(root: URL) { self.root = root.standardizedFileURL }

  public var rowsFolder: URL { root.appendingPathComponent("rows", isDirectory: true) }
  public var shardsFolder: URL { root.appendingPathComponent("shards", isDirectory: true) }
  public func rowFolder(_ id: String) -> URL { rowsFolder.appendingPathComponent(id, isDirectory: true) }
  public func shardSummary(_ s: Shard) -> URL { shardsFolder.appendingPathComponent("\(s.fileStem).json") }

  /// Creates the root, rows/ and shards/ (a one-line error when it cannot).
  public func prepare() throws {
    for d in [root, rowsFolder, shardsFolder] {
      do { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) } catch {
        throw BatchError("cannot create \(d.path): \(error.localizedDescription)")
      }
    }
  }

  /// The marker of a row, when the row finished (nil: never run, or unfinished).
  public func marker(_ id: String) -> RowMarker? {
    let url = rowFolder(id).appendingPathComponent(Self.markerName)
    guard let data = try? Data(contentsOf: url) else { return nil }
    return try? JSONDecoder().decode(RowMarker.self, from: data)
  }

  /// Writes `value` as JSON to `url` atomically (temporary file, then rename).
  public static func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    do { try enc.encode(value).write(to: url, options: .atomic) } catch {
      throw BatchError("cannot write \(url.path): \(error.localizedDescription)")
    }
  }

  public static func readJSON<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    guard let data = FileManager.default.contents(atPath: url.path) else { throw BatchError("cannot read \(url.path)") }
    do { return try JSONDecoder().decode(T.self, from: data) } catch {
      throw BatchError("\(url.path) is corrupted: \(error.localizedDescription)")
    }
  }
}

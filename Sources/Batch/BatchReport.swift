import Foundation
import Runtime

/// `iloc batch report`: the state of every row of a batch (from `batch.json` and the rows'
/// markers) merged into `summary.csv`, a Markdown table per task and method (`summary.md`)
/// and a contact sheet (`contact-sheet.png`).
public struct BatchReport {
  public struct Row { public var id: String; public var task: String; public var marker: RowMarker? }
  public var rows: [Row]
  public var shards: [ShardSummary]

  /// Reads the batch in `layout`: its row list, each row's marker, the shard summaries.
  public static func collect(_ layout: BatchLayout) throws -> BatchReport {
    let indexURL = layout.root.appendingPathComponent(BatchLayout.indexName)
    guard FileManager.default.fileExists(atPath: indexURL.path) else {
      throw BatchError("\(layout.root.path) is not an iloc batch output (no \(BatchLayout.indexName))")
    }
    let index = try BatchLayout.readJSON(BatchIndex.self, from: indexURL)
    let rows = index.rows.map { Row(id: $0.id, task: $0.task, marker: layout.marker($0.id)) }
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: layout.shardsFolder.path)) ?? []).sorted()
    let shards = names.filter { $0.hasSuffix(".json") }.compactMap {
      try? BatchLayout.readJSON(ShardSummary.self, from: layout.shardsFolder.appendingPathComponent($0))
    }
    return BatchReport(rows: rows, shards: shards)
  }

  public var done: [RowMarker] { rows.compactMap(\.marker).filter { $0.status == .done } }
  public var failed: [RowMarker] { rows.compactMap(\.marker).filter { $0.status == .failed } }
  public var pendingCount: Int { rows.filter { $0.marker == nil }.count }

  /// Finished rows per minute of wall clock, from the first row's start to the last row's end.
  public var imagesPerMinute: Double? {
    let m = done
    guard let end = m.map(\.finished).max(), let start = m.map({ $0.finished - $0.seconds }).min(), end > start else {
      return nil
    }
    return Double(m.count) / (end - start) * 60
  }

  static let metricNames = ["psnr", "ssim", "lpips", "measurement_mse"]

  /// One line per row: id, task, method, status (done, failed, pending), seconds, metrics, error.
  public func summaryCSV() -> String {
    var out = "id,task,method,status,seconds," + Self.metricNames.joined(separator: ",") + ",error\n"
    for r in rows {
      let m = r.marker
      let metrics = Self.metricNames.map { k in m?.metrics[k].map { String(format: "%.6g", $0) } ?? "" }
      let fields = [r.id, r.task, m?.method ?? "", m?.status.rawValue ?? "pending",
                    m.map { String(format: "%.3f", $0.seconds) } ?? ""] + metrics + [m?.error ?? ""]
      out += fields.map(Self.csvField).joined(separator: ",") + "\n"
    }
    return out
  }

  static func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) else { return s }
    return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
  }

  /// The Markdown summary: the totals, a table per task and method, the shards, the failures.
  public func markdown() -> String {
    var md = "# iloc batch summary\n\n"
    md += "\(rows.count) rows: \(done.count) done, \(failed.count) failed, \(pendingCount) pending"
    if let r = imagesPerMinute { md += String(format: "; %.2f images per minute (wall clock)", r) }
    md += ".\n\n" + taskTable()
    if !shards.isEmpty { md += "\n" + shardTable() }
    if !failed.isEmpty {
      md += "\nFailed rows:\n\n" + failed.map { "- `\($0.id)`: \($0.error ?? "")\n" }.joined()
    }
    return md
  }

  /// Per task and method: rows done, failed, pending; PSNR and SSIM mean and median, LPIPS mean.
  func taskTable() -> String {
    var md = Self.tableHeader(["task", "method", "done", "failed", "pending", "PSNR mean", "PSNR median",
                               "SSIM mean", "SSIM median", "LPIPS mean"])
    let method = done.first?.method ?? failed.first?.method ?? "-"  // pending rows: the batch's method
    let groups = Dictionary(grouping: rows) { "\($0.task)\u{0}\($0.marker?.method ?? method)" }
    for key in groups.keys.sorted() {
      let g = groups[key]!, parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false)
      let d = g.compactMap(\.marker).filter { $0.status == .done }
      let stat = { (k: String, f: ([Double]) -> Double?) -> String in
        f(d.compactMap { $0.metrics[k] }).map { String(format: k == "psnr" ? "%.2f" : "%.3f", $0) } ?? "-"
      }
      let failedCount = g.filter { $0.marker?.status == .failed }.count
      let cells = [String(parts[0]), String(parts[1]), "\(d.count)", "\(failedCount)",
                   "\(g.filter { $0.marker == nil }.count)", stat("psnr", Self.mean), stat("psnr", Self.median),
                   stat("ssim", Self.mean), stat("ssim", Self.median), stat("lpips", Self.mean)]
      md += "| " + cells.joined(separator: " | ") + " |\n"
    }
    return md
  }

  /// One line per shard summary.
  func shardTable() -> String {
    var md = Self.tableHeader(["shard", "rows", "done", "failed", "skipped", "pending", "interrupted"])
    for s in shards {
      let cells = [s.shard, "\(s.rows)", "\(s.done)", "\(s.failed)", "\(s.skipped)", "\(s.pending)",
                   s.interrupted ? "yes" : "no"]
      md += "| " + cells.joined(separator: " | ") + " |\n"
    }
    return md
  }

  static func tableHeader(_ names: [String]) -> String {
    "| " + names.joined(separator: " | ") + " |\n|" + String(repeating: "---|", count: names.count) + "\n"
  }

  static func mean(_ v: [Double]) -> Double? { v.isEmpty ? nil : v.reduce(0, +) / Double(v.count) }
  static func median(_ v: [Double]) -> Double? {
    guard !v.isEmpty else { return nil }
    let s = v.sorted(), n = s.count
    return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
  }

  /// Writes summary.csv, summary.md and (when a row is done) contact-sheet.png into the root.
  public func write(to layout: BatchLayout, contactRows k: Int) throws {
    try atomicWrite(Data(summaryCSV().utf8), layout.root.appendingPathComponent("summary.csv"))
    try atomicWrite(Data(markdown().utf8), layout.root.appendingPathComponent("summary.md"))
    if let sheet = try ContactSheet.make(self, layout: layout, perTask: k) {
      try PNG.write(sheet, to: layout.root.appendingPathComponent("contact-sheet.png"))
    }
  }

  func atomicWrite(_ data: Data, _ url: URL) throws {
    do { try data.write(to: url, options: .atomic) } catch {
      throw BatchError("cannot write \(url.path): \(error.localizedDescription)")
    }
  }
}

/// The contact sheet: for the first `k` done rows of each task (by id), a line of three
/// tiles: ground truth (grey when there is none) | observation (the naive reconstruction of
/// the row's strip) | result.
enum ContactSheet {
  static func make(_ report: BatchReport, layout: BatchLayout, perTask k: Int) throws -> RGBImage? {
    let byTask = Dictionary(grouping: report.done, by: \.task)
    var tiles: [RGBImage] = []
    for task in byTask.keys.sorted() {
      for m in byTask[task]!.sorted(by: { $0.id < $1.id }).prefix(k) {
        let dir = layout.rowFolder(m.id)
        let result = try PNG.read(dir.appendingPathComponent("result.png"))
        let strip = try PNG.read(dir.appendingPathComponent("strip.png"))
        let size = result.width
        let grey = RGBImage(width: size, height: size, pixels: [UInt8](repeating: 128, count: size * size * 3))
        let truth = m.hasGroundTruth ? tile(strip, 0, size: size) : grey
        let observation = tile(strip, m.hasGroundTruth ? 1 : 0, size: size)
        tiles += [truth ?? grey, observation ?? grey, result]
      }
    }
    guard !tiles.isEmpty, tiles.allSatisfy({ $0.width == tiles[0].width && $0.height == tiles[0].height }) else {
      return nil
    }
    return RGBImage.grid(tiles, columns: 3)
  }

  /// Tile `k` of a strip written by `ImageIO.strip` (square tiles, 2-pixel gaps), if present.
  static func tile(_ strip: RGBImage, _ k: Int, size: Int, gap: Int = 2) -> RGBImage? {
    let x0 = gap + k * (size + gap), y0 = gap
    guard x0 + size <= strip.width, y0 + size <= strip.height else { return nil }
    var px = [UInt8](repeating: 0, count: size * size * 3)
    for y in 0..<size {
      let from = ((y0 + y) * strip.width + x0) * 3
      px.replaceSubrange(y * size * 3..<(y + 1) * size * 3, with: strip.pixels[from..<from + size * 3])
    }
    return RGBImage(width: size, height: size, pixels: px)
  }
}

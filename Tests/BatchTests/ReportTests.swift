import Batch
import Foundation
import Runtime
import Testing

/// `iloc batch report`: rows done, failed and pending from the markers; statistics per task
/// and method; the contact sheet's tiles taken from the right places.
struct ReportTests {
  static func solid(_ size: Int, _ rgb: [UInt8]) -> RGBImage {
    RGBImage(width: size, height: size, pixels: (0..<(size * size)).flatMap { _ in rgb })
  }

  /// A batch of 5 rows: 3 inpaint done (PSNR 20, 22, 30), 1 superres failed, 1 superres pending.
  static func makeBatch() throws -> BatchLayout {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-report-\(UUID().uuidString)")
    let layout = BatchLayout(root: root)
    try layout.prepare()
    let ids = [("a", "inpaint"), ("b", "inpaint"), ("c", "inpaint"), ("d", "superres"), ("e", "superres")]
    try BatchLayout.writeJSON(BatchIndex(manifest: "m.csv", rows: ids.map { .init(id: $0.0, task: $0.1) }),
                              to: root.appendingPathComponent(BatchLayout.indexName))
    for (k, psnr) in [20.0, 22, 30].enumerated() {
      let id = ids[k].0, dir = layout.rowFolder(id)
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      var m = RowMarker(id: id, status: .done, task: "inpaint", method: "ilo", shard: "0/1", seconds: 10,
                        metrics: ["psnr": psnr, "ssim": 0.5 + Double(k) / 10, "measurement_mse": .infinity],
                        hasGroundTruth: true)
      m.finished = 1000 + Double(k) * 10  // rows ran from 990 to 1020: 3 rows in 30 s
      try BatchLayout.writeJSON(m, to: dir.appendingPathComponent(BatchLayout.markerName))
      let strip = RGBImage.grid([solid(8, [255, 0, 0]), solid(8, [0, 255, 0]), solid(8, [9, 9, 9])], columns: 3)
      try PNG.write(strip, to: dir.appendingPathComponent("strip.png"))
      try PNG.write(solid(8, [0, 0, 255]), to: dir.appendingPathComponent("result.png"))
    }
    let d = layout.rowFolder("d")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    try BatchLayout.writeJSON(RowMarker(id: "d", status: .failed, task: "superres", method: "ilo", shard: "0/1",
                                        seconds: 0.1, error: "d.png: no such file"),
                              to: d.appendingPathComponent(BatchLayout.markerName))
    // an unfinished row folder (no marker) counts as pending
    try FileManager.default.createDirectory(at: layout.rowFolder("e"), withIntermediateDirectories: true)
    return layout
  }

  @Test func summaryCountsStatisticsAndContactSheet() throws {
    let layout = try Self.makeBatch()
    defer { try? FileManager.default.removeItem(at: layout.root) }
    let r = try BatchReport.collect(layout)
    #expect(r.done.count == 3 && r.failed.count == 1 && r.pendingCount == 1)
    #expect(abs((r.imagesPerMinute ?? 0) - 6) < 1e-9)  // 3 rows in 30 s
    let csv = r.summaryCSV().split(separator: "\n")
    #expect(csv.count == 6)
    #expect(csv[1] == "a,inpaint,ilo,done,10.000,20,0.5,,,")  // a non-finite metric is left out
    #expect(csv[4] == "d,superres,ilo,failed,0.100,,,,,d.png: no such file")
    #expect(csv[5] == "e,superres,,pending,,,,,,")
    let md = r.markdown()
    #expect(md.contains("5 rows: 3 done, 1 failed, 1 pending; 6.00 images per minute"))
    // PSNR mean (20+22+30)/3 = 24.00, median 22.00; SSIM mean 0.600, median 0.600
    #expect(md.contains("| inpaint | ilo | 3 | 0 | 0 | 24.00 | 22.00 | 0.600 | 0.600 | - |"), "\(md)")
    #expect(md.contains("| superres | ilo | 0 | 1 | 1 | - | - | - | - | - |"), "\(md)")
    #expect(md.contains("- `d`: d.png: no such file"))

    try r.write(to: layout, contactRows: 2)
    let sheet = try PNG.read(layout.root.appendingPathComponent("contact-sheet.png"))
    // 2 inpaint rows (a, b) x 3 tiles of 8 px with 2 px gaps
    #expect(sheet.width == 2 + 3 * 10 && sheet.height == 2 + 2 * 10)
    func pixel(_ x: Int, _ y: Int) -> [UInt8] {
      let at = (y * sheet.width + x) * 3
      return Array(sheet.pixels[at..<at + 3])
    }
    #expect(pixel(2 + 4, 2 + 4) == [255, 0, 0])    // ground truth: the strip's first tile
    #expect(pixel(12 + 4, 12 + 4) == [0, 255, 0])  // observation: the strip's second tile
    #expect(pixel(22 + 7, 12 + 0) == [0, 0, 255])  // result.png
    #expect(FileManager.default.fileExists(atPath: layout.root.appendingPathComponent("summary.md").path))
  }

  @Test func notABatchIsOneLine() throws {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-nobatch-\(UUID().uuidString)")
    let e = #expect(throws: BatchError.self) { try BatchReport.collect(BatchLayout(root: d)) }
    #expect(e?.message.contains("is not an iloc batch output (no batch.json)") == true)
  }
}

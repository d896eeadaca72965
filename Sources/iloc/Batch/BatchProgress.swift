import Batch
import Foundation

/// A shard's progress: a line per row on stdout (done or failed, metrics, seconds) and, when
/// stderr is a terminal, a bar with rows done, the rate and the time left.
final class BatchProgress {
  let total: Int
  let bar = isatty(2) != 0
  let start = Date()
  var finished = 0

  init(total: Int) { self.total = total }

  func skipped(_ id: String) {
    finished += 1
    print("row \(id): already done, skipped")
    draw()
  }

  func finished(_ m: RowMarker) {
    finished += 1
    var line = String(format: "row %@: %@ in %.1f s", m.id, m.status.rawValue, m.seconds)
    if let p = m.metrics["psnr"], let s = m.metrics["ssim"] {
      line += String(format: ", PSNR %.2f dB, SSIM %.3f", p, s)
    }
    if let e = m.error { line += ": " + e }
    if bar { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    print(line + " [\(finished)/\(total)]")
    fflush(stdout)
    draw()
  }

  /// `[#####     ] 5/16 rows, 2.1 rows/min, ETA 5m10s` on stderr.
  func draw() {
    guard bar, total > 0 else { return }
    let width = 30, filled = finished * width / total
    let minutes = Date().timeIntervalSince(start) / 60
    let rate = minutes > 0 ? Double(finished) / minutes : 0
    let eta = rate > 0 ? Int(Double(total - finished) / rate * 60) : 0
    let text = "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
      + String(format: "%d/%d rows, %.1f rows/min, ETA %dm%02ds", finished, total, rate, eta / 60, eta % 60)
    FileHandle.standardError.write(Data(("\r" + text).utf8))
    if finished == total { FileHandle.standardError.write(Data("\n".utf8)) }
  }
}

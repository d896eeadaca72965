import Foundation

extension BatchManifest {
  /// CSV (RFC 4180: quoted fields, `""` for a quote inside one) with a header line; empty
  /// cells are absent values, blank lines are skipped.
  static func parseCSV(_ text: String, name: String) throws -> [(line: Int, fields: [String: String])] {
    let lines = try csvRecords(text, name: name).filter { !($0.cells.count == 1 && $0.cells[0].isEmpty) }
    guard let header = lines.first else { throw BatchError("\(name) is empty (no header line)") }
    let cols = try header.cells.map { try column($0, name: name, line: header.line) }
    if let dup = cols.first(where: { c in cols.filter { $0 == c }.count > 1 }) {
      throw BatchError("\(name) line \(header.line): column '\(dup)' appears twice")
    }
    return try lines.dropFirst().map { rec in
      guard rec.cells.count == cols.count else {
        throw BatchError("\(name) line \(rec.line): \(rec.cells.count) fields, the header has \(cols.count)")
      }
      var f: [String: String] = [:]
      for (c, v) in zip(cols, rec.cells) where !v.isEmpty { f[c] = v }
      return (rec.line, f)
    }
  }

  /// Splits CSV text into records of cells, with the line each record starts on.
  static func csvRecords(_ text: String, name: String) throws -> [(line: Int, cells: [String])] {
    var records: [(Int, [String])] = []
    var cells: [String] = [], cell = "", quoted = false, atCellStart = true
    var line = 1, start = 1
    var it = Array(text.unicodeScalars).makeIterator()
    var pending: Unicode.Scalar? = nil
    func endRecord() { cells.append(cell); records.append((start, cells)); cells = []; cell = ""; atCellStart = true }
    while let ch = pending ?? it.next() {
      pending = nil
      if quoted {
        if ch == "\"" {
          let next = it.next()
          if next == "\"" { cell.unicodeScalars.append("\"") } else { quoted = false; pending = next }
        } else {
          if ch == "\n" { line += 1 }
          cell.unicodeScalars.append(ch)
        }
        continue
      }
      switch ch {
      case "\"" where atCellStart: quoted = true; atCellStart = false
      case ",": cells.append(cell); cell = ""; atCellStart = true
      case "\r": continue
      case "\n": endRecord(); line += 1; start = line
      default: cell.unicodeScalars.append(ch); atCellStart = false
      }
    }
    if quoted { throw BatchError("\(name) line \(start): a quoted field is not closed") }
    if !cell.isEmpty || !cells.isEmpty { endRecord() }
    return records
  }

  /// JSON Lines: one object per non-blank line; values are strings or numbers.
  static func parseJSONLines(_ text: String, name: String) throws -> [(line: Int, fields: [String: String])] {
    var out: [(Int, [String: String])] = []
    for (k, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let lineText = raw.trimmingCharacters(in: .whitespaces)
      if lineText.isEmpty { continue }
      let n = k + 1
      guard let obj = (try? JSONSerialization.jsonObject(with: Data(lineText.utf8))) as? [String: Any] else {
        throw BatchError("\(name) line \(n): not a JSON object")
      }
      var f: [String: String] = [:]
      for (key, value) in obj {
        let c = try column(key, name: name, line: n)
        switch value {
        case let s as String: if !s.isEmpty { f[c] = s }
        case let num as NSNumber: f[c] = num.stringValue
        case is NSNull: continue
        default: throw BatchError("\(name) line \(n): \(key) must be a string or a number")
        }
      }
      out.append((n, f))
    }
    return out
  }
}

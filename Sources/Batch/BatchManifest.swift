import Foundation

/// One inversion of a batch: an id, the observation, the task and its flags, an optional
/// ground truth and seed. Values stay text as written; the task flags are checked when the
/// row runs (a bad row fails alone, the batch goes on). Paths are resolved against the
/// manifest's folder.
public struct BatchRow: Equatable, Sendable {
  public var id: String
  public var observed: String
  public var task: String
  public var mask: String?
  public var factor: String?
  public var sigma: String?
  public var measurements: String?
  public var operatorSeed: String?
  public var operatorFile: String?
  public var groundTruth: String?
  public var seed: String?

  public init(id: String, observed: String, task: String, mask: String? = nil, factor: String? = nil,
              sigma: String? = nil, measurements: String? = nil, operatorSeed: String? = nil,
              operatorFile: String? = nil, groundTruth: String? = nil, seed: String? = nil) {
    self.id = id; self.observed = observed; self.task = task; self.mask = mask; self.factor = factor
    self.sigma = sigma; self.measurements = measurements; self.operatorSeed = operatorSeed
    self.operatorFile = operatorFile; self.groundTruth = groundTruth; self.seed = seed
  }

  /// The task flags as `iloc invert` takes them (`--task inpaint --mask box:...`).
  public var taskArguments: [String] {
    var a = ["--task", task]
    let flags: [(String, String?)] = [("--mask", mask), ("--factor", factor), ("--sigma", sigma),
                                      ("--measurements", measurements), ("--operator-seed", operatorSeed),
                                      ("--operator-file", operatorFile)]
    for (flag, value) in flags { if let v = value { a += [flag, v] } }
    return a
  }
}

/// A batch manifest: CSV with a header line, or JSON Lines (one object per line), one row per
/// inversion. Columns (snake_case or kebab-case): `id`, `observed`, `task` (required),
/// `mask`, `factor`, `sigma`, `measurements`, `operator_seed`, `operator_file`,
/// `ground_truth`, `seed`. Ids name output folders: letters, digits, `.`, `_`, `-`, at most
/// 128, unique. A manifest that cannot be read as a whole (bad header, a line that is not a
/// row, a bad or repeated id) is a one-line error naming the line.
public enum BatchManifest {
  public static let columns = ["id", "observed", "task", "mask", "factor", "sigma", "measurements",
                               "operator_seed", "operator_file", "ground_truth", "seed"]
  /// A manifest larger than this is refused (10^6 rows take about 100 MB).
  public static let sizeLimit = 1 << 30

  /// Reads the manifest at `url` (JSON Lines when it ends in .jsonl/.json or starts with `{`).
  public static func read(_ url: URL) throws -> [BatchRow] {
    let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
    guard let size = attrs?[.size] as? Int, (attrs?[.type] as? FileAttributeType) == .typeRegular else {
      throw BatchError("manifest \(url.path) is not a readable file")
    }
    guard size <= sizeLimit else { throw BatchError("manifest \(url.path) is larger than \(sizeLimit >> 20) MB") }
    guard let data = FileManager.default.contents(atPath: url.path) else {
      throw BatchError("manifest \(url.path) is not a readable file")
    }
    guard let text = String(data: data, encoding: .utf8) else {
      throw BatchError("manifest \(url.path) is not UTF-8 text")
    }
    let base = url.deletingLastPathComponent()
    let jsonLines = ["jsonl", "json"].contains(url.pathExtension.lowercased())
      || text.drop(while: \.isWhitespace).first == "{"
    let records = try jsonLines ? parseJSONLines(text, name: url.lastPathComponent)
      : parseCSV(text, name: url.lastPathComponent)
    return try makeRows(records, base: base, name: url.lastPathComponent)
  }

  /// Rows from (line number, column -> value) records: required fields, id checks, paths
  /// resolved against `base`.
  static func makeRows(_ records: [(line: Int, fields: [String: String])], base: URL, name: String) throws
    -> [BatchRow]
  {
    var seen: [String: Int] = [:]
    var rows: [BatchRow] = []
    for (line, f) in records {
      func need(_ k: String) throws -> String {
        guard let v = f[k] else { throw BatchError("\(name) line \(line): no \(k)") }
        return v
      }
      let id = try need("id")
      guard isValidID(id) else {
        throw BatchError("\(name) line \(line): id '\(id)' is not a folder name (letters, digits, . _ -, at most 128)")
      }
      if let first = seen[id] { throw BatchError("\(name) line \(line): id '\(id)' repeats line \(first)") }
      seen[id] = line
      let path = { (p: String?) in p.map { resolve($0, base: base) } }
      let mask = f["mask"].map { m in
        ["black", "random:", "box:"].contains { m.hasPrefix($0) } ? m : resolve(m, base: base)
      }
      rows.append(BatchRow(id: id, observed: resolve(try need("observed"), base: base), task: try need("task"),
                           mask: mask, factor: f["factor"], sigma: f["sigma"], measurements: f["measurements"],
                           operatorSeed: f["operator_seed"], operatorFile: path(f["operator_file"]),
                           groundTruth: path(f["ground_truth"]), seed: f["seed"]))
    }
    return rows
  }

  /// Letters, digits, `.`, `_`, `-`; not starting with `.`; 1 to 128 characters.
  public static func isValidID(_ id: String) -> Bool {
    guard (1...128).contains(id.utf8.count), !id.hasPrefix(".") else { return false }
    let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "._-"))
    return id.unicodeScalars.allSatisfy { $0.isASCII && allowed.contains($0) }
  }

  static func resolve(_ path: String, base: URL) -> String {
    path.hasPrefix("/") ? path : base.appendingPathComponent(path).path
  }

  /// The canonical column name of a header cell (`ground-truth` -> `ground_truth`).
  static func column(_ raw: String, name: String, line: Int) throws -> String {
    let c = raw.trimmingCharacters(in: .whitespaces).lowercased().replacingOccurrences(of: "-", with: "_")
    guard columns.contains(c) else {
      throw BatchError("\(name) line \(line): unknown column '\(raw)' (known: \(columns.joined(separator: ", ")))")
    }
    return c
  }
}

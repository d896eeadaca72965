import Crypto
import Foundation

/// Which rows of a manifest one process inverts: shard `index` of `count`. A row belongs to
/// the shard given by its id alone (the first 8 bytes of SHA-256 of the id, modulo the count),
/// so appending rows to a manifest never moves an existing row to another shard, and two
/// shards of one count never share a row.
public struct Shard: Equatable, Sendable, CustomStringConvertible {
  public var index: Int
  public var count: Int

  public init(index: Int, count: Int) throws {
    guard count >= 1 else { throw BatchError("shard count must be at least 1, got \(count)") }
    guard (0..<count).contains(index) else { throw BatchError("shard index \(index) is outside 0..<\(count)") }
    self.index = index; self.count = count
  }

  public var description: String { "\(index)/\(count)" }
  /// File-name form: `3-of-16`.
  public var fileStem: String { "\(index)-of-\(count)" }

  /// The shard a row id belongs to when there are `count` shards.
  public static func of(_ id: String, count: Int) -> Int {
    let digest = Array(SHA256.hash(data: Data(id.utf8)))
    let head = digest[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    return Int(head % UInt64(count))
  }

  public func owns(_ id: String) -> Bool { Self.of(id, count: count) == index }

  /// `--shard i/n`.
  public static func parse(_ text: String) throws -> Shard {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
      throw BatchError("--shard takes INDEX/COUNT (e.g. 0/4), got '\(text)'")
    }
    return try Shard(index: i, count: n)
  }

  /// The shard of this process: `--shard` when given; else a Slurm array task; else a
  /// Kubernetes Indexed Job (`JOB_COMPLETION_INDEX` of `--shards`, which must then be given);
  /// else the whole manifest (0/1). For Slurm, with `--shards N` the array task id is the shard
  /// index itself (`--array=0-15`, and a resubmitted `--array=3,7` reruns shards 3 and 7);
  /// without it the whole array is the shard list: `SLURM_ARRAY_TASK_ID` minus
  /// `SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`.
  public static func resolve(flag: String?, shards: Int?, environment env: [String: String]) throws -> Shard {
    if let f = flag {
      let s = try parse(f)
      if let n = shards, n != s.count { throw BatchError("--shard \(f) disagrees with --shards \(n)") }
      return s
    }
    if let id = env["SLURM_ARRAY_TASK_ID"] {
      let task = try number(id, "SLURM_ARRAY_TASK_ID")
      if let n = shards { return try Shard(index: task, count: n) }
      let low = try env["SLURM_ARRAY_TASK_MIN"].map { try number($0, "SLURM_ARRAY_TASK_MIN") } ?? 0
      guard let n = try env["SLURM_ARRAY_TASK_COUNT"].map({ try number($0, "SLURM_ARRAY_TASK_COUNT") }) else {
        throw BatchError("SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor --shards is")
      }
      return try Shard(index: task - low, count: n)
    }
    if let idx = env["JOB_COMPLETION_INDEX"] {
      let i = try number(idx, "JOB_COMPLETION_INDEX")
      guard let n = shards else {
        throw BatchError("JOB_COMPLETION_INDEX is set: give the job's completions as --shards")
      }
      return try Shard(index: i, count: n)
    }
    if let n = shards, n != 1 {
      throw BatchError("--shards \(n) needs a shard index: --shard I/\(n), SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX")
    }
    return try Shard(index: 0, count: 1)
  }

  static func number(_ text: String, _ name: String) throws -> Int {
    guard let v = Int(text) else { throw BatchError("\(name) is '\(text)', not a number") }
    return v
  }
}

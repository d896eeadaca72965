import Batch
import Foundation
import Testing

/// Shards: a pure function of the row id; every row in exactly one shard; the scheduler's
/// environment selects the shard (Slurm arrays, Kubernetes Indexed Jobs).
struct ShardTests {
  /// Values from Python: int.from_bytes(hashlib.sha256(id.encode()).digest()[:8], "big") % n.
  @Test func assignmentIsSHA256OfTheID() {
    #expect(Shard.of("face-001", count: 7) == 5 && Shard.of("face-001", count: 3) == 2)
    #expect(Shard.of("a", count: 7) == 4 && Shard.of("a", count: 3) == 1)
    #expect(Shard.of("row-7", count: 7) == 0 && Shard.of("row-7", count: 2) == 1)
  }

  @Test func everyRowInExactlyOneShardAndBalanced() throws {
    let ids = (0..<2000).map { "img-\($0)" }
    let n = 8
    let shards = try (0..<n).map { try Shard(index: $0, count: n) }
    var counts = [Int](repeating: 0, count: n)
    for id in ids {
      let owners = shards.filter { $0.owns(id) }
      #expect(owners.count == 1)
      counts[owners[0].index] += 1
    }
    #expect(counts.allSatisfy { $0 > 200 && $0 < 300 }, "\(counts)")  // 250 expected each
  }

  @Test func shardFromFlagsAndEnvironment() throws {
    #expect(try Shard.resolve(flag: "2/5", shards: nil, environment: [:]) == Shard(index: 2, count: 5))
    #expect(try Shard.resolve(flag: nil, shards: nil, environment: [:]) == Shard(index: 0, count: 1))
    // Slurm: --array=3-6 gives ids 3...6, MIN 3, COUNT 4
    let slurm = ["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "3", "SLURM_ARRAY_TASK_COUNT": "4"]
    #expect(try Shard.resolve(flag: nil, shards: nil, environment: slurm) == Shard(index: 2, count: 4))
    // with --shards the array task id is the shard index (a resubmitted --array=1 reruns shard 1)
    let resubmitted = ["SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "1"]
    #expect(try Shard.resolve(flag: nil, shards: 2, environment: resubmitted) == Shard(index: 1, count: 2))
    #expect(try Shard.resolve(flag: nil, shards: nil, environment: resubmitted) == Shard(index: 0, count: 1))
    // the flag wins over the environment
    #expect(try Shard.resolve(flag: "0/2", shards: nil, environment: slurm) == Shard(index: 0, count: 2))
    // Kubernetes Indexed Job: the index from the environment, the count from --shards
    let k8s = ["JOB_COMPLETION_INDEX": "3"]
    #expect(try Shard.resolve(flag: nil, shards: 4, environment: k8s) == Shard(index: 3, count: 4))
  }

  @Test(arguments: [
    ("1/0", nil, [String: String](), "shard count must be at least 1"),
    ("4/4", nil, [:], "shard index 4 is outside 0..<4"),
    ("x", nil, [:], "--shard takes INDEX/COUNT"),
    ("1/4", 3, [:], "--shard 1/4 disagrees with --shards 3"),
    (nil, 4, [:], "--shards 4 needs a shard index"),
    (nil, nil, ["JOB_COMPLETION_INDEX": "1"], "give the job's completions as --shards"),
    (nil, 2, ["JOB_COMPLETION_INDEX": "2"], "shard index 2 is outside 0..<2"),
    (nil, nil, ["SLURM_ARRAY_TASK_ID": "1"], "neither SLURM_ARRAY_TASK_COUNT nor --shards"),
    (nil, nil, ["SLURM_ARRAY_TASK_ID": "a", "SLURM_ARRAY_TASK_COUNT": "2"], "SLURM_ARRAY_TASK_ID is 'a'"),
  ] as [(String?, Int?, [String: String], String)])
  func badShardsAreOneLineErrors(_ flag: String?, _ shards: Int?, _ env: [String: String], _ phrase: String) {
    let e = #expect(throws: BatchError.self) { try Shard.resolve(flag: flag, shards: shards, environment: env) }
    #expect(e?.message.contains(phrase) == true, "\(e?.message ?? "no error")")
  }
}

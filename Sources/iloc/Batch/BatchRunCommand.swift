import ArgumentParser
import Batch
import Foundation
import ILO
import Runtime

/// `iloc batch --manifest FILE -o OUT/`: inverts this process's shard of a manifest, one row
/// after another, skipping rows already done.
struct BatchRunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Invert this process's shard of a manifest (the default subcommand of `iloc batch`).",
    discussion: """
      The manifest is CSV (with a header line) or JSON Lines, one row per inversion, with the \
      columns id, observed, task and optionally mask, factor, sigma, measurements, \
      operator_seed, operator_file, ground_truth, seed (paths relative to the manifest). The \
      shared flags (model, method, steps, loss weights, engine) are those of `iloc invert`.

      Each row writes OUT/rows/ID/ (the four files of `iloc invert`, then row.json, its \
      completion marker) as one unit. A rerun skips rows that are done and redoes the others. \
      A bad row (missing file, wrong size, unknown task) is recorded as failed with its error \
      and the shard goes on. SIGTERM, SIGINT or SIGHUP abandon the current row (nothing of it \
      is left) and stop with 128 + the signal's number.

      The shard is --shard I/N; else the Slurm array task: with --shards N the array task id is \
      the shard index (submit --array=0-(N-1); resubmit --array=3 to rerun shard 3), without it \
      SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT; else a Kubernetes \
      Indexed Job (JOB_COMPLETION_INDEX with --shards N); else the whole manifest. A row belongs \
      to a shard by its id alone (SHA-256), so appending rows never moves a row to another shard. Rows of one setup share the loaded generator and the compiled programs. \
      With --artifact (from `iloc compile`) nothing is compiled: its settings and kernels are used.
        iloc batch --manifest rows.csv --model dcgan --steps 50,50 -o out/ --shard 0/4
        iloc batch report out/
      """
  )

  @Option(help: "The manifest: CSV with a header line, or JSON Lines.")
  var manifest: String
  @Option(name: [.short, .customLong("output")], help: "Output directory (rows/, shards/, batch.json).")
  var output: String
  @Option(help: "Generator: a StyleGAN2 or DCGAN checkpoint, or a shipped model name (dcgan).")
  var model = "dcgan"
  @OptionGroup var inversion: InversionOptions
  @Option(help: "Execution engine: jit (compiled) or interp (reference interpreter).")
  var engine: Engine = .jit
  @Option(help: "This process's shard, INDEX/COUNT (e.g. 0/4).")
  var shard: String?
  @Option(help: "The number of shards, for JOB_COMPLETION_INDEX (Kubernetes) or to override SLURM_ARRAY_TASK_COUNT.")
  var shards: Int?
  @Option(help: "Run from an artifact made by `iloc compile` (no compiler needed; its settings are used).")
  var artifact: String?
  @Option(help: "With --artifact: accept it only when signed by this Ed25519 public key.")
  var trustedKey: String?

  func run() throws {
    StopSignals.install()
    let started = Date().timeIntervalSince1970
    let rows = try BatchManifest.read(URL(fileURLWithPath: manifest))
    let shard = try Shard.resolve(flag: shard, shards: shards, environment: ProcessInfo.processInfo.environment)
    let layout = BatchLayout(root: URL(fileURLWithPath: output, isDirectory: true))
    try layout.prepare()
    try BatchLayout.writeJSON(BatchIndex(manifest: manifest, rows: rows.map { .init(id: $0.id, task: $0.task) }),
                              to: layout.root.appendingPathComponent(BatchLayout.indexName))
    let mine = rows.filter { shard.owns($0.id) }
    let setup = try artifact.map { try BatchSetup(artifact: $0, trustedKey: trustedKey) }
      ?? BatchSetup(model: model, inversion: inversion, engine: engine)
    print("shard \(shard): \(mine.count) of \(rows.count) rows; \(setup.summary)")
    let tally = try runRows(mine, setup: setup, layout: layout, shard: shard)
    try BatchLayout.writeJSON(
      ShardSummary(shard: shard.description, rows: mine.count, done: tally.done, failed: tally.failed,
                   skipped: tally.skipped, pending: tally.pending, started: started,
                   finished: Date().timeIntervalSince1970, interrupted: tally.stopped != nil),
      to: layout.shardSummary(shard))
    print("shard \(shard): \(tally.done) done, \(tally.failed) failed, \(tally.skipped) already done, "
          + "\(tally.pending) pending")
    if let sig = tally.stopped {
      print("stopped by \(StopSignals.name(sig)): the current row was abandoned; rerun to finish the shard")
      throw ExitCode(StopSignals.exitStatus(sig))
    }
  }

  /// Runs the rows in order until done or stopped by a signal.
  func runRows(_ rows: [BatchRow], setup: BatchSetup, layout: BatchLayout, shard: Shard) throws -> BatchTally {
    var tally = BatchTally()
    let progress = BatchProgress(total: rows.count)
    for (k, row) in rows.enumerated() {
      if Inverter.interruptRequested.isSet { break }
      if layout.marker(row.id)?.status == .done { tally.skipped += 1; progress.skipped(row.id); continue }
      let runner = RowRunner(row: row, setup: setup, layout: layout, shard: shard)
      switch runner.run() {
      case .done(let m): tally.done += 1; progress.finished(m)
      case .failed(let m): tally.failed += 1; progress.finished(m)
      case .abandoned: tally.pending = rows.count - k; tally.stopped = StopSignals.received ?? SIGTERM; return tally
      }
    }
    let finished = tally.done + tally.failed + tally.skipped
    tally.pending = rows.count - finished
    if tally.pending > 0 { tally.stopped = StopSignals.received ?? SIGTERM }
    return tally
  }
}

/// Counts of one shard's run.
struct BatchTally {
  var done = 0, failed = 0, skipped = 0, pending = 0
  /// The signal that stopped the shard early.
  var stopped: Int32?
}

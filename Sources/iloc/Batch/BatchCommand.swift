import ArgumentParser
import Batch
import Foundation
import ILO
import Runtime

/// `iloc batch`: invert every row of a manifest (one shard of it), and `iloc batch report`.
struct BatchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "batch",
    abstract: "Invert a whole manifest of observations, one shard per process (Slurm, Kubernetes or local).",
    discussion: """
      `iloc batch --manifest FILE -o OUT/` runs this process's shard of the manifest (see \
      `iloc batch run --help`); `iloc batch report OUT/` merges what the shards wrote. \
      deploy/slurm/ and deploy/k8s/ hold the scheduler recipes.
        iloc batch --manifest rows.csv --model dcgan --steps 50,50 -o out/ --shard 0/4
        iloc batch report out/
      """,
    subcommands: [BatchRunCommand.self, BatchReportCommand.self],
    defaultSubcommand: BatchRunCommand.self
  )
}

/// `iloc batch report OUT/`: summary.csv, summary.md and contact-sheet.png of a batch.
struct BatchReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Merge the rows of a batch output into summary.csv, summary.md and contact-sheet.png.",
    discussion: """
      Reads OUT/batch.json (the rows), every row's completion marker and the shard summaries, \
      and writes summary.csv (one line per row: status done, failed or pending, seconds, \
      metrics, error), summary.md (per task and method: rows done, failed, pending; mean and \
      median PSNR and SSIM, mean LPIPS; images per minute) and contact-sheet.png (ground truth \
      | observation | result for the first rows of each task). It may run while shards work.
        iloc batch report out/
      """
  )
  @Argument(help: "The output directory of `iloc batch`.")
  var output: String
  @Option(help: "Rows per task on the contact sheet.")
  var contactRows = 4

  func run() throws {
    let layout = BatchLayout(root: URL(fileURLWithPath: output, isDirectory: true))
    let report = try BatchReport.collect(layout)
    try report.write(to: layout, contactRows: contactRows)
    var line = "\(report.rows.count) rows: \(report.done.count) done, \(report.failed.count) failed, "
      + "\(report.pendingCount) pending"
    if let r = report.imagesPerMinute { line += String(format: "; %.2f images per minute", r) }
    print(line + "; wrote \(layout.root.path)/{summary.csv, summary.md, contact-sheet.png}")
  }
}

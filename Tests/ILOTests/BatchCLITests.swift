import Batch
import Foundation
import Runtime
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `iloc batch` as a scheduler runs it, with local processes standing in for array tasks: two
/// shards of a manifest with every task, one stopped by SIGTERM midway and rerun; every row
/// done exactly once, no partial row folders, results byte-identical to `iloc invert` alone.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path) && TestModels.dcganURL != nil,
                "skipped: the iloc executable is not built or the DCGAN weights are not fetched"),
       .serialized)
struct BatchCLITests {
  static let face = TestModels.root.appendingPathComponent("models/samples/face64.png").path
  static let shared = ["--model", "dcgan", "--steps", "3,2", "--seed", "4"]
  static let files: Set<String> = ["result.png", "strip.png", "report.json", "state.safetensors",
                                   BatchLayout.markerName]

  /// The 8-row manifest: every task on the shipped face. With 2 shards, f-1/3/5/7 are shard 0
  /// and f-2/4/6/8 shard 1 (SHA-256 of the ids); f-1 and f-3 share a setup.
  static func makeManifest(in d: URL) throws -> (URL, [String: [String]]) {
    let small = d.appendingPathComponent("small.png").path
    let r = try runILOC(["degrade", "--task", "superres", "--factor", "2", "--input", face, "-o", small])
    #expect(r.status == 0, "\(r.stderr)")
    let rows: [(String, [String], String, String?)] = [
      ("f-1", ["--task", "inpaint", "--mask", "box:20,16,24,32"], face, "5"),
      ("f-2", ["--task", "cs-circulant", "--measurements", "0.1", "--operator-seed", "2"], face, nil),
      ("f-3", ["--task", "inpaint", "--mask", "box:20,16,24,32"], face, "11"),
      ("f-4", ["--task", "cs-gaussian", "--measurements", "300", "--operator-seed", "1"], face, nil),
      ("f-5", ["--task", "superres", "--factor", "2"], small, nil),
      ("f-6", ["--task", "colorize"], face, nil),
      ("f-7", ["--task", "denoise", "--sigma", "0.1", "--operator-seed", "3"], face, "8"),
      ("f-8", ["--task", "inpaint", "--mask", "random:0.5", "--operator-seed", "3"], face, nil),
    ]
    var csv = "id,observed,task,mask,factor,sigma,measurements,operator_seed,ground_truth,seed\n"
    var flags: [String: [String]] = [:]
    for (id, args, observed, seed) in rows {
      let v = { (f: String) in args.firstIndex(of: f).map { args[$0 + 1] } ?? "" }
      csv += [id, observed, v("--task"), "\"\(v("--mask"))\"", v("--factor"), v("--sigma"), v("--measurements"),
              v("--operator-seed"), face, seed ?? ""].joined(separator: ",") + "\n"
      flags[id] = args + ["--observed", observed, "--ground-truth", face] + (seed.map { ["--seed", $0] } ?? [])
    }
    let url = d.appendingPathComponent("rows.csv")
    try Data(csv.utf8).write(to: url)
    return (url, flags)
  }

  /// Every row done once, by the shard that owns it, with exactly its five files.
  static func expectComplete(_ out: URL, ids: [String], shards: Int,
                             sourceLocation: SourceLocation = #_sourceLocation) throws {
    let layout = BatchLayout(root: out)
    let folders = try FileManager.default.contentsOfDirectory(atPath: layout.rowsFolder.path).sorted()
    #expect(folders == ids.sorted(), "row folders: \(folders)", sourceLocation: sourceLocation)
    for id in ids {
      let m = layout.marker(id)
      #expect(m?.status == .done, "\(id): \(String(describing: m))", sourceLocation: sourceLocation)
      #expect(m?.shard == "\(Shard.of(id, count: shards))/\(shards)", sourceLocation: sourceLocation)
      let names = Set(try FileManager.default.contentsOfDirectory(atPath: layout.rowFolder(id).path))
      #expect(names == files, "\(id): \(names.sorted())", sourceLocation: sourceLocation)
    }
  }

  @Test func twoShardsOneStoppedAndRerunMatchInvertAlone() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let (manifest, flags) = try Self.makeManifest(in: d)
    let out = d.appendingPathComponent("out")
    let base = ["batch", "--manifest", manifest.path, "-o", out.path] + Self.shared
    let a = try LiveProcess(TestModels.iloc, base + ["--shard", "0/2"])
    let b = try LiveProcess(TestModels.iloc, base + ["--shard", "1/2"])
    // stop shard 1 as soon as it has finished its first row
    #expect(b.waitFor("[1/4]"), "shard 1 stdout: \(b.stdout) stderr: \(b.stderr)")
    b.send(SIGTERM)
    #expect(b.exitStatus(within: 300) == 143, "stdout: \(b.stdout) stderr: \(b.stderr)")
    #expect(b.stdout.contains("stopped by SIGTERM"))
    #expect(a.exitStatus(within: 600) == 0, "stdout: \(a.stdout) stderr: \(a.stderr)")
    let layout = BatchLayout(root: out)
    let summary = try BatchLayout.readJSON(ShardSummary.self, from: layout.shardSummary(Shard(index: 1, count: 2)))
    #expect(summary.interrupted && summary.pending > 0 && summary.done >= 1)
    // nothing of the abandoned row is left: every folder of shard 1 is a finished row
    for id in ["f-2", "f-4", "f-6", "f-8"] where FileManager.default.fileExists(atPath: layout.rowFolder(id).path) {
      #expect(layout.marker(id)?.status == .done, "\(id) is a partial row folder")
    }

    let again = try runILOC(base + ["--shard", "1/2"], within: 600)
    #expect(again.status == 0, "stderr: \(again.stderr)")
    #expect(again.stdout.contains("already done, skipped"))
    try Self.expectComplete(out, ids: flags.keys.sorted(), shards: 2)

    // f-3 reused f-1's compiled programs; f-2 ran in the stopped and rerun shard
    for id in ["f-3", "f-2"] {
      let alone = d.appendingPathComponent("alone-\(id)")
      let r = try runILOC(["invert", "-o", alone.path] + Self.shared + flags[id]!, within: 300)
      #expect(r.status == 0, "stderr: \(r.stderr)")
      let x = try Data(contentsOf: alone.appendingPathComponent("result.png"))
      let y = try Data(contentsOf: out.appendingPathComponent("rows/\(id)/result.png"))
      #expect(x == y, "\(id): batch result differs from iloc invert alone")
    }

    let rep = try runILOC(["batch", "report", out.path])
    #expect(rep.status == 0 && rep.stdout.contains("8 rows: 8 done, 0 failed, 0 pending"),
            "\(rep.stdout) \(rep.stderr)")
    let csv = try String(contentsOf: out.appendingPathComponent("summary.csv"), encoding: .utf8)
    #expect(csv.split(separator: "\n").count == 9 && csv.contains("f-5,superres,ilo,done,"))
    let sheet = try PNG.read(out.appendingPathComponent("contact-sheet.png"))
    #expect(sheet.width == 2 + 3 * 66)  // ground truth | observation | result, 64 px tiles
  }
}

/// Bad rows fail alone with their one-line error; a bad manifest stops the command in one
/// line; the scheduler's environment selects the shard; `--artifact` runs rows from an
/// `iloc compile` artifact with the bits of a compiled run.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path) && TestModels.dcganURL != nil,
                "skipped: the iloc executable is not built or the DCGAN weights are not fetched"),
       .serialized)
struct BatchRowFailureTests {
  static let face = BatchCLITests.face

  @Test func badRowsAreRecordedAndTheShardGoesOn() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let small = d.appendingPathComponent("small.png")
    try CLITests.png(32, at: small)
    let csv = """
      id,observed,task,mask,seed
      good,\(Self.face),inpaint,"box:20,16,24,32",
      missing,no-such.png,inpaint,"box:20,16,24,32",
      small,small.png,inpaint,"box:20,16,24,32",
      deblur,\(Self.face),deblur,,
      badseed,\(Self.face),inpaint,"box:20,16,24,32",-3

      """
    let manifest = d.appendingPathComponent("rows.csv")
    try Data(csv.utf8).write(to: manifest)
    let out = d.appendingPathComponent("out")
    let r = try runILOC(["batch", "--manifest", manifest.path, "-o", out.path, "--steps", "2,2"], within: 300)
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let layout = BatchLayout(root: out)
    #expect(layout.marker("good")?.status == .done)
    let expected = ["missing": "no-such.png", "small": "is 32x32 but inpaint with this 64x64 model expects 64x64",
                    "deblur": "deblur", "badseed": "seed '-3' is not a non-negative integer"]
    for (id, phrase) in expected {
      let m = layout.marker(id)
      #expect(m?.status == .failed && m?.error?.contains(phrase) == true, "\(id): \(String(describing: m?.error))")
      #expect(m?.error?.contains("\n") == false)
      let names = try FileManager.default.contentsOfDirectory(atPath: layout.rowFolder(id).path)
      #expect(names == [BatchLayout.markerName], "\(id): \(names)")
    }
    #expect(r.stdout.contains("shard 0/1: 1 done, 4 failed, 0 already done, 0 pending"), "\(r.stdout)")
    let rep = try runILOC(["batch", "report", out.path])
    #expect(rep.status == 0, "\(rep.stderr)")
    let md = try String(contentsOf: out.appendingPathComponent("summary.md"), encoding: .utf8)
    #expect(md.contains("5 rows: 1 done, 4 failed, 0 pending"), "\(md)")

    // A manifest that cannot be read is one line and no work.
    let bad = d.appendingPathComponent("bad.csv")
    try Data("id,observed,task\nx/y,a.png,inpaint\n".utf8).write(to: bad)
    let b = try runILOC(["batch", "--manifest", bad.path, "-o", d.appendingPathComponent("out2").path])
    #expect(b.status == 1 && b.stderr.split(separator: "\n").count == 1, "\(b.stderr)")
    #expect(b.stderr.contains("bad.csv line 2: id 'x/y' is not a folder name"))
    #expect(!FileManager.default.fileExists(atPath: d.appendingPathComponent("out2").path))
  }

  /// Rows of missing files fail at once: enough to see which shard ran which row.
  @Test func schedulerEnvironmentSelectsTheShard() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let ids = (0..<12).map { "r\($0)" }
    let csv = "id,observed,task\n" + ids.map { "\($0),missing-\($0).png,denoise\n" }.joined()
    let manifest = d.appendingPathComponent("rows.csv")
    try Data(csv.utf8).write(to: manifest)
    let out = d.appendingPathComponent("out")
    let args = ["batch", "--manifest", manifest.path, "-o", out.path]
    let k8s = try LiveProcess(TestModels.iloc, args + ["--shards", "3"], environment: ["JOB_COMPLETION_INDEX": "2"])
    #expect(k8s.exitStatus() == 0, "\(k8s.stderr)")
    let slurm = ["SLURM_ARRAY_TASK_ID": "11", "SLURM_ARRAY_TASK_MIN": "10", "SLURM_ARRAY_TASK_COUNT": "3"]
    let s = try LiveProcess(TestModels.iloc, args, environment: slurm)
    #expect(s.exitStatus() == 0, "\(s.stderr)")
    #expect(k8s.stdout.contains("shard 2/3:") && s.stdout.contains("shard 1/3:"))
    let layout = BatchLayout(root: out)
    for id in ids {
      let owner = Shard.of(id, count: 3)
      #expect((layout.marker(id)?.shard) == (owner == 0 ? nil : "\(owner)/3"), "\(id)")
    }
    let noCount = try LiveProcess(TestModels.iloc, args, environment: ["JOB_COMPLETION_INDEX": "0"])
    #expect(noCount.exitStatus() == 1 && noCount.stderr.contains("give the job's completions as --shards"))
  }

  @Test func rowsRunFromAnArtifactWithTheBitsOfACompiledRun() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let task = ["--task", "inpaint", "--mask", "box:20,16,24,32"]
    let setup = ["--model", "dcgan", "--steps", "3,2", "--seed", "4"]
    let art = d.appendingPathComponent("art")
    let c = try runILOC(["compile", "-o", art.path] + task + setup, within: 300)
    #expect(c.status == 0, "\(c.stderr)")
    let csv = "id,observed,task,mask,seed\n" + "a,\(Self.face),inpaint,\"box:20,16,24,32\",\n"
      + "b,\(Self.face),inpaint,\"box:20,16,24,32\",9\n"
      + "c,\(Self.face),superres,,\n"
    let manifest = d.appendingPathComponent("rows.csv")
    try Data(csv.utf8).write(to: manifest)
    let withArt = d.appendingPathComponent("aot"), compiled = d.appendingPathComponent("jit")
    let r1 = try runILOC(["batch", "--manifest", manifest.path, "-o", withArt.path, "--artifact", art.path],
                         within: 300)
    #expect(r1.status == 0, "\(r1.stderr)")
    #expect(r1.stdout.contains("artifact art"))
    let r2 = try runILOC(["batch", "--manifest", manifest.path, "-o", compiled.path] + setup, within: 300)
    #expect(r2.status == 0, "\(r2.stderr)")
    for id in ["a", "b"] {
      let x = try Data(contentsOf: withArt.appendingPathComponent("rows/\(id)/result.png"))
      let y = try Data(contentsOf: compiled.appendingPathComponent("rows/\(id)/result.png"))
      #expect(x == y, "\(id): artifact and compiled batch differ")
    }
    let m = BatchLayout(root: withArt).marker("c")
    #expect(m?.status == .failed && m?.error == "the artifact was compiled for task inpaint, not superres")
  }
}

/// The LPIPS loss in batch runs: the same trained backbone and weight as `iloc invert` give the
/// same bits, row by row, and the report carries the LPIPS metric.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path) && TestModels.dcganURL != nil
                  && TrainedSqueeze.available,
                "skipped: needs the iloc executable, the DCGAN, ../shared/weights and the fetched squeeze heads"))
struct BatchLPIPSTests {
  @Test func batchWithLPIPSEqualsInvertAlone() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let face = BatchCLITests.face
    let loss = ["--model", "dcgan", "--steps", "3,2", "--seed", "4", "--lpips", "0.5",
                "--lpips-backbone", TrainedSqueeze.backbone.path]
    let manifest = d.appendingPathComponent("rows.csv")
    try Data(("id,observed,task,mask,ground_truth\n" + "a,\(face),inpaint,\"box:20,16,24,32\",\(face)\n").utf8)
      .write(to: manifest)
    let b = try runILOC(["batch", "--manifest", manifest.path, "-o", d.appendingPathComponent("b").path] + loss,
                        within: 300)
    #expect(b.status == 0, "\(b.stderr)")
    let i = try runILOC(["invert", "--task", "inpaint", "--mask", "box:20,16,24,32", "--observed", face,
                         "--ground-truth", face, "-o", d.appendingPathComponent("i").path] + loss, within: 300)
    #expect(i.status == 0, "\(i.stderr)")
    let x = try Data(contentsOf: d.appendingPathComponent("b/rows/a/result.png"))
    let y = try Data(contentsOf: d.appendingPathComponent("i/result.png"))
    #expect(x == y, "batch and invert differ with the LPIPS loss")
    let report = try JSONSerialization.jsonObject(with: Data(contentsOf: d.appendingPathComponent("b/rows/a/report.json")))
    let terms = (report as? [String: Any])?["lossTerms"] as? [String] ?? []
    #expect(terms.contains("lpips"), "loss terms \(terms)")
  }
}

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A running `iloc` process whose output goes to files, so a test can wait for a line and send
/// it signals while it works.
final class LiveProcess {
  let process = Process()
  let stdoutURL: URL, stderrURL: URL

  init(_ binary: URL, _ args: [String], environment: [String: String] = [:]) throws {
    let d = FileManager.default.temporaryDirectory
    stdoutURL = d.appendingPathComponent("iloc-live-out-\(UUID().uuidString)")
    stderrURL = d.appendingPathComponent("iloc-live-err-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
    FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
    process.executableURL = binary
    process.arguments = args
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
    process.standardError = try FileHandle(forWritingTo: stderrURL)
    try process.run()
  }

  deinit {
    if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    try? FileManager.default.removeItem(at: stdoutURL)
    try? FileManager.default.removeItem(at: stderrURL)
  }

  var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
  var stderr: String { (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

  /// Waits until stdout contains `text` (false if the process ends or `seconds` pass first).
  func waitFor(_ text: String, seconds: Double = 180) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while Date() < end {
      if stdout.contains(text) { return true }
      if !process.isRunning { return stdout.contains(text) }
      usleep(20_000)
    }
    return false
  }

  func send(_ signal: Int32) { if process.isRunning { kill(process.processIdentifier, signal) } }

  /// Waits for the exit (killing the process after `seconds`); the exit status, nil when it
  /// was ended by a signal or had to be killed.
  func exitStatus(within seconds: Double = 120) -> Int32? {
    let end = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < end { usleep(10_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return process.terminationReason == .exit ? process.terminationStatus : nil
  }
}

/// Runs `iloc` with a time limit (a hang is a failure, not a stuck suite).
func runILOC(_ args: [String], within seconds: Double = 120) throws -> (status: Int32?, stdout: String, stderr: String) {
  let p = try LiveProcess(TestModels.iloc, args)
  let status = p.exitStatus(within: seconds)
  return (status, p.stdout, p.stderr)
}

/// Lost work and unreadable results (issue 10, items 9, 10, 11), on the real `iloc invert`
/// process with the tiny StyleGAN2: stop signals keep the best result, the output directory is
/// checked and locked before the first step and receives a complete set of files, and the
/// report is valid JSON with numbers or null.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path), "skipped: the iloc executable is not built"),
       .serialized)
struct RunSafetyTests {
  static let outputs: Set<String> = ["result.png", "strip.png", "report.json", "state.safetensors"]

  /// A run that would take hours, into `out`.
  static func longRun(_ d: URL, out: URL) throws -> LiveProcess {
    let img = d.appendingPathComponent("x.png")
    if !FileManager.default.fileExists(atPath: img.path) { try CLITests.png(32, at: img) }
    return try LiveProcess(TestModels.iloc, ["invert", "--model", CLITests.s32, "--fit-samples", "200", "--task", "inpaint",
                                             "--mask", "random:0.5", "--observed", img.path, "--steps", "100000,100000",
                                             "--ensemble", "1", "--consistency", "off", "-o", out.path])
  }

  /// The directory holds exactly the four outputs (no staging folder), and the report says
  /// the run was interrupted by `signal`.
  static func expectCompleteInterruptedSet(_ out: URL, signal: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let names = Set(try FileManager.default.contentsOfDirectory(atPath: out.path))
    #expect(names == outputs, "left in \(out.path): \(names.sorted())", sourceLocation: sourceLocation)
    let data = try Data(contentsOf: out.appendingPathComponent("report.json"))
    let report = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    #expect(report?["interrupted"] as? Bool == true, sourceLocation: sourceLocation)
    #expect(report?["signal"] as? String == signal, sourceLocation: sourceLocation)
    let rounds = report?["rounds"] as? [[String: Any]] ?? []
    #expect(rounds.count >= 1 && (rounds.last?["steps"] as? Int ?? 0) >= 1, "rounds: \(rounds)", sourceLocation: sourceLocation)
  }

  /// SIGTERM (what Slurm and Kubernetes send) stops after the current step: exit 143 and a
  /// complete, consistent set (the saved state renders to the written result). While the run
  /// holds its output directory, a second run into it fails at once.
  @Test func sigtermKeepsTheBestResultAndTheDirectoryIsLocked() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let out = d.appendingPathComponent("out")
    let run = try Self.longRun(d, out: out)
    #expect(run.waitFor("round 1 step"), "stdout: \(run.stdout) stderr: \(run.stderr)")

    let second = try runILOC(["invert", "--model", CLITests.s32, "--fit-samples", "200", "--task", "inpaint", "--mask", "random:0.5",
                              "--observed", d.appendingPathComponent("x.png").path, "--steps", "1", "-o", out.path])
    #expect(second.status == 1 && second.stderr.contains("in use by another iloc run"), "stderr: \(second.stderr)")
    #expect(!second.stdout.contains("loss terms"), "the second run started working: \(second.stdout)")

    run.send(SIGTERM)
    #expect(run.exitStatus() == 143, "stdout: \(run.stdout) stderr: \(run.stderr)")
    try Self.expectCompleteInterruptedSet(out, signal: "SIGTERM")
    let again = d.appendingPathComponent("again.png")
    let r = try runILOC(["render", out.appendingPathComponent("state.safetensors").path, "-o", again.path])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(try Data(contentsOf: again) == Data(contentsOf: out.appendingPathComponent("result.png")))
  }

  /// A second Ctrl-C 20 ms after the first, then a stream of them while the results are
  /// written: the first signal decides (exit 130) and the set is complete.
  @Test func repeatedCtrlCStillWritesACompleteSet() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let out = d.appendingPathComponent("out")
    let run = try Self.longRun(d, out: out)
    #expect(run.waitFor("round 1 step"), "stdout: \(run.stdout) stderr: \(run.stderr)")
    run.send(SIGINT)
    usleep(20_000)
    run.send(SIGINT)
    for _ in 0..<3000 where run.process.isRunning {
      run.send(SIGINT)
      usleep(2_000)
    }
    #expect(run.exitStatus() == 130, "stdout: \(run.stdout) stderr: \(run.stderr)")
    try Self.expectCompleteInterruptedSet(out, signal: "SIGINT")
  }

  /// A stop signal during the first round's second start: the run ends with the better of
  /// the finished start and the stopped one, never starts the third, and says no start "fit best".
  @Test func aSignalBetweenStartsKeepsTheBestStart() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let out = d.appendingPathComponent("out"), img = d.appendingPathComponent("x.png")
    try CLITests.png(32, at: img)
    let run = try LiveProcess(TestModels.iloc, ["invert", "--model", CLITests.s32, "--fit-samples", "200", "--task", "inpaint",
                                                "--mask", "random:0.5", "--observed", img.path, "--steps", "20,100000",
                                                "--restarts", "3", "--ensemble", "1", "--consistency", "off", "-o", out.path])
    #expect(run.waitFor("start 2/3 of round 1"), "stdout: \(run.stdout) stderr: \(run.stderr)")
    run.send(SIGTERM)
    #expect(run.exitStatus() == 143, "stdout: \(run.stdout) stderr: \(run.stderr)")
    try Self.expectCompleteInterruptedSet(out, signal: "SIGTERM")
    #expect(!run.stdout.contains("start 3/3") && !run.stdout.contains("fit best"), "\(run.stdout)")
    let report = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("report.json"))) as? [String: Any]
    let starts = (report?["restarts"] as? [[String: Any]] ?? []).compactMap { $0["bestDataLoss"] as? Double }
    let rounds = report?["rounds"] as? [[String: Any]] ?? []
    #expect(starts.count == 2 && rounds.count == 1, "starts \(starts), rounds \(rounds.count)")
    #expect(rounds.first?["bestDataLoss"] as? Double == starts.min())
  }

  /// SIGHUP (the terminal went away): exit 129 with the best result.
  @Test func sighupKeepsTheBestResult() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let out = d.appendingPathComponent("out")
    let run = try Self.longRun(d, out: out)
    #expect(run.waitFor("round 1 step"), "stdout: \(run.stdout) stderr: \(run.stderr)")
    run.send(SIGHUP)
    #expect(run.exitStatus() == 129, "stdout: \(run.stdout) stderr: \(run.stderr)")
    try Self.expectCompleteInterruptedSet(out, signal: "SIGHUP")
  }

  /// An output that cannot be written, or a numeric flag that is not a number, fails in one
  /// line before the model is even loaded, and leaves no directory behind.
  @Test func badOutputsAndNumbersFailBeforeAnyWork() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let img = d.appendingPathComponent("x.png"), file = d.appendingPathComponent("a-file")
    try CLITests.png(32, at: img)
    try Data("x".utf8).write(to: file)
    let base = ["invert", "--model", CLITests.s32, "--fit-samples", "200", "--task", "inpaint", "--mask", "random:0.5",
                "--observed", img.path, "--steps", "2"]
    let cases: [(args: [String], phrase: String)] = [
      (["-o", file.path], "exists and is not a directory"),
      (["-o", file.appendingPathComponent("sub").path], "is not a directory"),
      (["-o", "/proc/iloc-test-\(getpid())"], "cannot create output directory"),
      (["-o", d.appendingPathComponent("nan").path, "--latent-prior", "nan"], "--latent-prior"),
      (["-o", d.appendingPathComponent("inf").path, "--mse", "inf"], "--mse"),
      (["-o", d.appendingPathComponent("missing").path, "--observed", d.appendingPathComponent("none.png").path], "none.png"),
    ]
    for c in cases {
      let r = try runILOC(base + c.args)
      let lines = r.stderr.split(separator: "\n")
      #expect(r.status == 1 && lines.count == 1 && lines[0].contains(c.phrase), "\(c.args): stderr: \(r.stderr)")
      #expect(!r.stdout.contains("loss terms"), "\(c.args) got as far as the optimization: \(r.stdout)")
    }
    for name in ["nan", "inf", "missing"] {  // no empty directory left behind
      #expect(!FileManager.default.fileExists(atPath: d.appendingPathComponent(name).path), "\(name) was left behind")
    }
    // render and degrade check their output file before the work too
    let r = try runILOC(["render", d.appendingPathComponent("none.safetensors").path, "-o", file.appendingPathComponent("x.png").path])
    #expect(r.status == 1 && r.stderr.contains("is not an existing directory"), "stderr: \(r.stderr)")
    let g = try runILOC(["degrade", "--task", "inpaint", "--mask", "random:0.5", "--input", img.path, "-o", d.path])
    #expect(g.status == 1 && g.stderr.contains("it is a directory"), "stderr: \(g.stderr)")
  }

  /// An exact reconstruction has an infinite PSNR: the report writes null (valid JSON that
  /// every reader takes), never the string "inf".
  @Test func anInfinitePSNRIsWrittenAsNull() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let img = d.appendingPathComponent("x.png"), out = d.appendingPathComponent("out")
    try CLITests.png(32, at: img)
    // denoise with sigma 0: the naive reconstruction is the observation, equal to the truth
    let r = try runILOC(["invert", "--model", CLITests.s32, "--fit-samples", "200", "--task", "denoise", "--sigma", "0",
                         "--observed", img.path, "--ground-truth", img.path, "--steps", "1", "-o", out.path])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let text = try String(contentsOf: out.appendingPathComponent("report.json"), encoding: .utf8)
    #expect(!text.contains("\"inf\""), "report.json: \(text)")
    let report = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    let naive = report?["naive"] as? [String: Any]
    #expect(naive?["psnr"] is NSNull, "naive: \(String(describing: naive))")
    #expect((naive?["mse"] as? NSNumber)?.doubleValue == 0)
    #expect((report?["final"] as? [String: Any])?["psnr"] is NSNumber)
  }
}

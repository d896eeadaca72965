import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime
import Testing

/// `iloc profile --model ... --task ... --round r` on the shipped DCGAN: the profiled program
/// is the one the inversion runs in that round, started where that round starts; the arena
/// size in report.json is the memory plan's.
@Suite(.enabled(if: TestModels.dcganURL != nil, "skipped: run `bash models/fetch.sh` for the DCGAN weights"))
struct StageProfileTests {
  /// Captures each round's stage program as the inverter builds it.
  final class ProgramRecorder: InversionObserver {
    var programs: [StageProgram] = []
    func roundStarted(_ round: Int, of rounds: Int, program: StageProgram) { programs.append(program) }
    func step(_ round: Int, _ step: Int, dataLoss: Float, objective: Float, stepsPerSecond: Double) {}
    func roundFinished(_ report: RoundReport, image: HostTensor<Float>) {}
  }

  static func setup() throws -> (InversionProblem, InversionSettings) {
    let g = try TestModels.dcgan()
    let mask = try InpaintMask(box: 16, left: 16, boxHeight: 24, boxWidth: 24, height: 64, width: 64)
    let truth = try TestModels.sample(g, seed: 3)
    let y = HostTensor(shape: truth.shape, values: truth.values.indices.map { truth.values[$0] * mask.values[$0 % 4096] })
    var s = InversionSettings()
    s.rounds = [.fixed(1), .fixed(1), .fixed(1)]
    s.validation = nil
    s.ensemble = 1  // one run: one program per round
    return (InversionProblem(generator: g, forward: mask, observation: y, mask: mask), s)
  }

  @Test func profilesTheProgramTheInversionRunsForThatRound() throws {
    let (problem, settings) = try Self.setup()
    let recorder = ProgramRecorder()
    let inverter = try Inverter(problem: problem, settings: settings)
    inverter.observer = recorder
    let result = try inverter.run()
    #expect(recorder.programs.count == 3)

    for r in [1, 2] {
      let stage = try StageProgram(problem: problem, round: r, settings: settings, engine: .jit)
      let values = try StageProfile.startValues(problem: problem, round: r, settings: settings)
      let report = try StageProfile.profile(stage, values: values, noise: nil, runs: 2)
      let ran = try #require(recorder.programs[r].executable as? Program)
      // the same steps in the same order, and as many kernels
      #expect(report.rows.map { "\($0.kind) \($0.kernel)" } == ran.layout.steps, "round \(r)")
      #expect(stage.stats?.kernels == ran.stats.kernels)
      #expect(report.runs == 2)
      #expect(report.rows.contains { $0.calls == 2 && $0.milliseconds > 0 })
      // the arena the report of the run gives is the memory plan's
      #expect(result.rounds[r].arenaBytes == ran.layout.arenaFloats * 4)
      #expect(result.rounds[r].scratchBytes == ran.layout.scratchFloats * 4)
      let json = String(decoding: try JSONEncoder().encode(result.rounds[r]), as: UTF8.self)
      #expect(json.contains("\"arenaBytes\":\(ran.layout.arenaFloats * 4)"))
    }
  }

  /// Round r's start values: the state round r−1's forward pass hands on from the seeded
  /// initial latents, as the stage program of round r−1 computes it at those latents.
  @Test func startValuesAreTheEarlierRoundsForwardState() throws {
    let (problem, settings) = try Self.setup()
    let initial = problem.generator.initialInputs(seed: settings.seed)
    let v1 = try StageProfile.startValues(problem: problem, round: 1, settings: settings)
    #expect(v1["z"] == initial["z"])
    let round0 = try StageProgram(problem: problem, round: 0, settings: settings, engine: .interp)
    try round0.executable.setInput("z", initial["z"]!)
    try round0.executable.run()
    let h = try round0.executable.output("next.h")
    let got = try #require(v1["h"])
    #expect(got.count == h.values.count)
    let scale = h.values.map { Swift.abs($0) }.max()!
    #expect(scale > 0)
    #expect(zip(got, h.values).map { Swift.abs($0 - $1) }.max()! <= 1e-5 * scale)
    #expect(throws: InversionError.self) { try StageProfile.startValues(problem: problem, round: 9, settings: settings) }
  }
}

/// `iloc profile` with `iloc invert`'s flags: it runs, prints the memory line, and a round the
/// inversion does not run is one error line.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path) && TestModels.dcganURL != nil,
                "skipped: needs the iloc executable and the DCGAN weights"))
struct ProfileCLITests {
  @Test func profilesAnInversionRound() throws {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-profile-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: out) }
    let r = try runProcess(TestModels.iloc, ["profile", "--model", "dcgan", "--task", "inpaint", "--mask", "box:16,16,24,24",
                                             "--round", "1", "--runs", "1", "--out", out.path])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.contains("round 1 (0-based): variables h"))
    #expect(r.stdout.contains("memory: arena") && r.stdout.contains("peak RSS (VmHWM) at the end:"))
    #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("profile-inpaint-round1.json").path))

    let bad = try runProcess(TestModels.iloc, ["profile", "--model", "dcgan", "--task", "inpaint", "--steps", "5,5",
                                               "--round", "2", "--out", out.path])
    #expect(bad.status != 0)
    let lines = bad.stderr.split(separator: "\n")
    #expect(lines.count == 1 && lines[0].contains("--round 2"), "stderr: \(bad.stderr)")
    let both = try runProcess(TestModels.iloc, ["profile", "conv-relu", "--task", "inpaint", "--out", out.path])
    #expect(both.status != 0 && both.stderr.contains("not both"))
  }
}

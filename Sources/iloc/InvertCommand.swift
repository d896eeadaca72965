import ArgumentParser
import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime

/// `iloc invert`: recover an image from a degraded observation by ILO (or a baseline).
struct InvertCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "invert",
    abstract: "Recover a clean image from a damaged observation by Intermediate Layer Optimization.",
    discussion: """
      Writes into the output directory: result.png, strip.png (ground truth | observation |
      result after each round), report.json (per round: steps, time, compile ms, the stage
      program's arena and scratch bytes, loss terms, MSE/PSNR/SSIM) and state.safetensors
      (re-render it with `iloc render`).
      Examples:
        iloc invert --task inpaint --model dcgan --observed holes.png --mask black -o out/
        iloc invert --task superres --factor 4 --model dcgan --observed small.png --ground-truth face.png -o out/
        iloc invert --task cs-gaussian --measurements 0.1 --model G.pt --observed face.png -o out/ --method csgm
      Ctrl-C (SIGINT), SIGTERM and SIGHUP stop after the current step and write the best \
      result so far (exit status 130, 143, 129; report.json says "interrupted" and names the \
      signal). The output directory is locked while a run uses it and its files are replaced \
      as one set. In report.json a non-finite number (the PSNR of an exact match) is null.
      """
  )

  @OptionGroup var taskOptions: TaskOptions
  @Option(help: "Generator: a StyleGAN2 or DCGAN checkpoint (.pt, .safetensors, or an NVIDIA StyleGAN2 .pkl), or a shipped model name (dcgan).")
  var model = "dcgan"
  @Option(help: "The observation: a PNG (for cs-* tasks an image to measure, or a .safetensors written by `iloc degrade`).")
  var observed: String
  @Option(help: "The clean image, for metrics and the strip.")
  var groundTruth: String?
  @Option(name: [.short, .customLong("output")], help: "Output directory.")
  var output: String
  @OptionGroup var inversion: InversionOptions
  @OptionGroup var engineOptions: EngineOptions

  func run() throws {
    StopSignals.install()
    try inversion.settings().validateValues()
    // checked and locked before any work
    let out = try OutputDirectory(URL(fileURLWithPath: output, isDirectory: true))
    let generator = try loadGenerator(model, fitSamples: inversion.fitSamples, proxy: try inversion.givenLatentProxy(),
                                      classIndex: inversion.classIndex)
    let size = generator.imageSize
    let settings = try inversion.settings(task: taskOptions.task, maxRounds: generator.maxRounds)
    try settings.validate(maxRounds: generator.maxRounds)
    let (op, observation) = try makeObservation(observed, taskOptions: taskOptions, size: size, compatReference: settings.compatReference)
    let truth = try readGroundTruth(groundTruth, size: size)

    // Loss terms actually used.
    let perceptual = try loadPerceptualLoss(inversion.lpipsBackbone)
    let terms = lossTermNames(inversion, generator: generator, perceptual: perceptual != nil)
    print("\(generator.description), task \(taskOptions.task.rawValue), method \(inversion.method.rawValue), engine \(engineOptions.engine.rawValue); loss terms: \(terms.joined(separator: ", "))")

    let problem = InversionProblem(generator: generator, forward: op, observation: observation, mask: op as? InpaintMask, perceptual: perceptual)
    if engineOptions.validate { try validateFirstSteps(problem, settings) }
    let inverter = try Inverter(problem: problem, settings: settings, engine: engineOptions.engine)
    try runAndWriteOutputs(
      inverter, to: out,
      RunDescription(model: model, task: taskOptions.task, engine: engineOptions.engine.rawValue, terms: terms,
                     truth: truth, lpipsNet: inversion.lpips > 0 ? perceptual?.lpips.net.rawValue : nil))
  }

  /// `--validate`: the first steps' losses on both engines.
  func validateFirstSteps(_ problem: InversionProblem, _ settings: InversionSettings) throws {
    var s = settings
    s.rounds = [.fixed(3)]
    s.method = .ilo
    var losses: [Engine: [Float]] = [:]
    for e in Engine.allCases {
      let recorder = LossRecorder()
      let inv = try Inverter(problem: problem, settings: s, engine: e)
      inv.observer = recorder
      _ = try inv.run()
      losses[e] = recorder.losses
    }
    let a = losses[.jit]!, b = losses[.interp]!
    let d = zip(a, b).map { Swift.abs($0 - $1) / Swift.max(Swift.abs($1), 1e-12) }.max() ?? 0
    print(String(format: "validate: first %d losses, jit vs interp, largest relative difference %.2e", a.count, d))
  }
}

/// The JSON report of a run.
struct RunReport: Encodable {
  var format = "iloc-report"
  var version = 1
  var model: String
  var modelDescription: String
  var task: String
  var method: String
  var engine: String
  var settings: InversionSettings
  var lossTerms: [String]
  var rounds: [RoundReport]
  /// The round the result comes from (1-based) and why; each start's first round with --restarts.
  var selectedRound: Int?
  var selection: String?
  var restarts: [StartReport]?
  var interrupted: Bool
  /// The stop signal that ended an interrupted run ("SIGINT", "SIGTERM", "SIGHUP").
  var signal: String?
  /// Metrics; a non-finite value (an exact match's PSNR) is written as null.
  var final: [String: Double] = [:]
  var naive: [String: Double] = [:]
  /// The generator's own image before the data-consistency step, and what that step did.
  var generator: [String: Double]?
  var consistency: DataConsistency.Report?
  /// The rounds (1-based) whose consistent images were averaged into the result, if any.
  var combinedRounds: [Int]?
  /// Each run of an ensemble, with its own metrics.
  var members: [MemberReport]?
  var notes: [String] = []
}

final class LossRecorder: InversionObserver {
  var losses: [Float] = []
  func roundStarted(_ round: Int, of rounds: Int, program: StageProgram) {}
  func step(_ round: Int, _ step: Int, dataLoss: Float, objective: Float, stepsPerSecond: Double) { losses.append(objective) }
  func roundFinished(_ report: RoundReport, image: HostTensor<Float>) {}
}

/// A progress bar on a terminal; plain lines otherwise.
final class ProgressPrinter: InversionObserver {
  let tty = isatty(1) != 0
  var rounds = 0
  var total = 0
  func roundStarted(_ round: Int, of rounds: Int, program: StageProgram) {
    self.rounds = rounds
    let s = program.stats.map { String(format: "%d kernels, compiled in %.0f ms (%d cached)", $0.kernels, program.compileMilliseconds, $0.cacheHits) }
      ?? String(format: "interpreter, %.0f ms setup", program.compileMilliseconds)
    print("round \(round + 1)/\(rounds): \(program.variables.map(\.name).joined(separator: ", ")) - \(s)")
  }
  func memberStarted(_ member: Int, of members: Int, seed: UInt64) {
    print("run \(member + 1)/\(members) of the ensemble (seed \(seed))")
  }
  func startStarted(_ start: Int, of starts: Int, seed: UInt64) {
    print("start \(start + 1)/\(starts) of round 1 (seed \(seed))")
  }
  func startChosen(_ winner: Int, of starts: [StartReport]) {
    let by = starts[winner].validationError.map { String(format: "validation error %.6g", $0) }
      ?? String(format: "data loss %.5f", starts[winner].bestDataLoss)
    print("round 1: start \(winner + 1) of \(starts.count) fit best (\(by)); carried on")
  }
  func startSkipped(_ start: Int, of starts: Int, reason: String) {
    print("start \(start + 1)/\(starts) left out: \(reason)")
  }
  func step(_ round: Int, _ step: Int, dataLoss: Float, objective: Float, stepsPerSecond: Double) {
    let line = String(format: "round %d step %4d  loss %.5f  data %.5f  %.1f steps/s", round + 1, step + 1, objective, dataLoss, stepsPerSecond)
    if tty { print("\r" + line, terminator: ""); fflush(stdout) } else if step % 10 == 0 { print(line); fflush(stdout) }
  }
  func roundFinished(_ report: RoundReport, image: HostTensor<Float>) {
    if tty { print("") }
    print(String(format: "round %d done: %d steps in %.2f s, best data loss %.5f at step %d (%@)", report.round + 1, report.steps, report.seconds,
                 report.bestDataLoss, report.bestStep + 1, report.switchReason))
  }
}

/// Where the LPIPS v0.1 heads are found.
enum GeneratorCheckpointPaths {
  static func lpipsHeads(_ net: LPIPSNet) throws -> URL {
    let path = "models/cache/lpips/v0.1/\(net.rawValue).pth"
    for r in modelSearchRoots() {
      let u = r.appendingPathComponent(path)
      if FileManager.default.fileExists(atPath: u.path) { return u }
    }
    throw ValidationFailure("LPIPS heads \(path) not found (run `bash models/fetch.sh`)")
  }
}

extension LearningRateSchedule: ExpressibleByArgument {}

import Dispatch
import Foundation
import GraphIR
import Inversion
import Runtime

/// What one round did (part of the JSON report).
public struct RoundReport: Codable, Sendable {
  public var round: Int
  public var steps: Int
  public var seconds: Double
  public var compileMilliseconds: Double
  public var kernels: Int?
  public var cacheHits: Int?
  public var cacheMisses: Int?
  public var bestStep: Int
  public var bestDataLoss: Float
  /// Loss terms at the best iterate.
  public var terms: [String: Float]
  public var switchReason: String
  public var stepsPerSecond: Double
  /// The error on the held-out measurements at the best step (nil without a validation split).
  public var validationError: Double?
  /// The validation error of the best image after the data-consistency step made with the
  /// training measurements only (nil without a split or without the step).
  public var consistentValidationError: Double?
  /// Metrics of this round's best image (filled in by the caller, which knows the truth).
  public var metrics: [String: Double] = [:]
  /// With an ensemble: metrics of the mean of every run's image of this round, the ensemble's
  /// own round (what its result is compared with to judge the selection); nil without one.
  public var ensembleMetrics: [String: Double]? = nil
  /// The stage program's memory: its arena (the memory plan's size, after liveness-based reuse)
  /// and its scratch buffer, in bytes (nil for the interpreter).
  public var arenaBytes: Int? = nil
  public var scratchBytes: Int? = nil
}

/// The state of an inversion: every non-weight input of the current round's stage program.
public struct InversionState: Sendable {
  public var round: Int
  public var values: [String: HostTensor<Float>]
}

/// Progress callbacks (the CLI draws its progress bar from these).
public protocol InversionObserver: AnyObject {
  func roundStarted(_ round: Int, of rounds: Int, program: StageProgram)
  func step(_ round: Int, _ step: Int, dataLoss: Float, objective: Float, stepsPerSecond: Double)
  func roundFinished(_ report: RoundReport, image: HostTensor<Float>)
  /// The validation error of step `step` (only with a validation split).
  func validated(_ round: Int, _ step: Int, error: Double)
  /// Run `member` of an ensemble of `members` starts (not called without an ensemble).
  func memberStarted(_ member: Int, of members: Int, seed: UInt64)
  /// Start `start` of `starts` random starts of the first round begins (only with restarts).
  func startStarted(_ start: Int, of starts: Int, seed: UInt64)
  /// The first round's starts are done; `starts[winner]` is carried on.
  func startChosen(_ winner: Int, of starts: [StartReport])
  /// Start `start` failed (its first step was not finite) and is left out.
  func startSkipped(_ start: Int, of starts: Int, reason: String)
}

extension InversionObserver {
  public func validated(_ round: Int, _ step: Int, error: Double) {}
  public func memberStarted(_ member: Int, of members: Int, seed: UInt64) {}
  public func startStarted(_ start: Int, of starts: Int, seed: UInt64) {}
  public func startChosen(_ winner: Int, of starts: [StartReport]) {}
  public func startSkipped(_ start: Int, of starts: Int, reason: String) {}
}

/// The result of an inversion.
public struct InversionResult {
  /// The selected round's best image, and its A(x).
  public var image: HostTensor<Float>
  public var prediction: HostTensor<Float>
  /// Best image of each round (for the comparison strip).
  public var roundImages: [HostTensor<Float>]
  /// The first image each round evaluated (round r's start, which must equal round r−1's best).
  public var roundStartImages: [HostTensor<Float>] = []
  public var rounds: [RoundReport]
  /// The state that reproduces `image` (`render`).
  public var state: InversionState
  /// True when the run stopped early (interrupt); the result is the best so far.
  public var interrupted: Bool
  /// The round `image` comes from, and why it was chosen.
  public var selectedRound: Int = 0
  public var selection: String = ""
  /// Each start's first round, with `--restarts` (empty otherwise).
  public var starts: [StartReport] = []
  /// The generator's own images: the selected one (the mean of the combined rounds' images)
  /// before the data-consistency step (nil when the step did not run), and each round's best
  /// (always; `roundImages` are these after the step).
  public var generatorImage: HostTensor<Float>?
  public var generatorRoundImages: [HostTensor<Float>] = []
  /// What the data-consistency step did to the selected image.
  public var consistency: DataConsistency.Report?
  /// The rounds (0-based) whose images were averaged into `image` (nil: one round).
  public var combinedRounds: [Int]?
  /// Each run of an ensemble (empty without one); the other fields describe the first run,
  /// except `image`, `prediction`, `generatorImage` and `consistency` (the ensemble's mean).
  public var members: [MemberReport] = []
  /// Each run's own result image (empty without an ensemble).
  public var memberImages: [HostTensor<Float>] = []
  /// The ensemble's rounds: the mean over its runs of each round's image (empty without an
  /// ensemble, or when a run stopped before its last round).
  public var ensembleRoundImages: [HostTensor<Float>] = []
}

/// Runs ILO (or a baseline) on a problem: one compiled stage program per round, Adam with
/// the ramped schedule, projections, best-iterate tracking and layer switching (spec §2).
///
/// With a validation split (`InversionSettings.validation`) the best iterate of a round is the
/// step with the lowest error on the held-out measurements, and the result is the round whose
/// best iterate has the lowest such error; without one, the lowest data loss and the last round.
public final class Inverter {
  public let problem: InversionProblem
  /// The settings as given, with the task's defaults (first-round starts, the last round's
  /// ball) written in (`resolved(for:)`), so that report.json and saved states record what ran.
  public let settings: InversionSettings
  public let engine: Engine
  public weak var observer: InversionObserver?
  /// Compiled stage programs shared with other inversions of the same setup (`iloc batch`);
  /// nil builds each round's program afresh.
  public var programs: StageProgramCache?
  /// The data-consistency step, once built (`consistencyStep()`).
  var consistency: DataConsistency?
  /// Set from a signal handler to stop after the current step, keeping the best so far.
  public static let interruptRequested = ManagedFlag()

  public init(problem: InversionProblem, settings: InversionSettings, engine: Engine = .jit) throws {
    try settings.validate(maxRounds: problem.generator.maxRounds)
    self.problem = problem; self.settings = settings.resolved(for: problem.forward.task); self.engine = engine
  }

  var roundCount: Int { settings.method == .ilo ? settings.rounds.count : 1 }

  /// Runs every round (every member's, with an ensemble: `Ensemble.swift`). With restarts,
  /// the first round is run from `restarts` random starts and the start whose first round
  /// scored best (validation error, else data loss) is carried on from where it stopped (for
  /// CSGM and PULSE, which have one round, that is the whole run).
  public func run() throws -> InversionResult {
    let members = settings.ensembleSize(for: problem.forward.task)
    return members > 1 ? try runEnsemble(members) : try runOnce(seed: settings.seed)
  }

  /// One complete run from the starts drawn with `seed`.
  func runOnce(seed: UInt64) throws -> InversionResult {
    var progress = try bestStart(seed: seed)
    for r in 1..<roundCount where !progress.interrupted {
      if Self.interruptRequested.isSet { progress.interrupted = true; break }  // keep the last round's best
      try runRound(r, &progress)
    }
    return try finishedResult(progress)
  }

  /// Round 0 from every start; the winner's progress (its whole state after round 0).
  func bestStart(seed base: UInt64) throws -> RunProgress {
    var best: RunProgress?, winner = 0
    var starts: [StartReport] = []
    let count = settings.restartCount(for: problem.forward.task)
    for k in 0..<count {
      // a stop signal between starts keeps the best finished start
      if best != nil && Self.interruptRequested.isSet { best!.interrupted = true; break }
      let seed = base &+ UInt64(k) &* 0x9E37_79B9
      if count > 1 { observer?.startStarted(k, of: count, seed: seed) }
      var p = RunProgress(values: problem.generator.initialInputs(seed: seed))
      do { try runRound(0, &p) } catch let e as InversionError where best != nil {
        // a later start whose first step is not finite is skipped; the finished ones stand
        observer?.startSkipped(k, of: count, reason: e.description)
        continue
      }
      let round = p.reports[0]
      starts.append(StartReport(seed: seed, bestDataLoss: round.bestDataLoss, validationError: round.validationError))
      if best == nil || p.score < best!.score { best = p; winner = starts.count - 1 }
      if p.interrupted { best!.interrupted = true; break }  // keep the better of it and the finished ones
    }
    if count > 1 {
      best!.starts = starts
      if !best!.interrupted { observer?.startChosen(winner, of: starts) }
    }
    return best!
  }

  /// Runs round r from `p` and records its best iterate in `p`.
  func runRound(_ r: Int, _ p: inout RunProgress) throws {
    var round = try RoundRun(self, round: r, values: p.values)
    observer?.roundStarted(r, of: roundCount, program: round.stage)
    try round.optimize(&p.globalStep, inverter: self, startImages: &p.startImages)
    var report = round.report()
    report.metrics = [:]
    p.record(round, report)
    observer?.roundFinished(report, image: p.roundImages.last!)
  }
}

/// What one start of a run reached in its first round (report.json's `restarts`).
public struct StartReport: Codable, Sendable {
  public var seed: UInt64
  public var bestDataLoss: Float
  public var validationError: Double?
}

/// The state of a run between rounds: the inputs the next round starts from and what every
/// round so far produced.
struct RunProgress {
  var values: [String: [Float]]
  var reports: [RoundReport] = []
  var roundImages: [HostTensor<Float>] = []
  var roundPredictions: [HostTensor<Float>] = []
  var roundStates: [InversionState] = []
  var startImages: [HostTensor<Float>] = []
  var starts: [StartReport] = []
  var globalStep = 0
  var interrupted = false

  /// How good the last round's best iterate is (lower is better).
  var score: Double { reports.last.map { $0.validationError ?? Double($0.bestDataLoss) } ?? .infinity }

  /// Takes a finished round's best iterate and the next round's start.
  mutating func record(_ round: RoundRun, _ report: RoundReport) {
    let stage = round.stage
    for (k, v) in stage.variables.enumerated() { values[v.name] = round.bestVars[k] }
    var saved: [String: HostTensor<Float>] = [:]
    for (k, v) in values { if let i = stage.graph.input(named: k) { saved[k] = HostTensor(shape: i.shape, values: v) } }
    roundStates.append(InversionState(round: report.round, values: saved))
    for n in stage.nextState { values[n] = round.bestNext[n] }
    reports.append(report)
    roundImages.append(round.bestImage!)
    roundPredictions.append(round.bestPrediction!)
    interrupted = interrupted || round.interrupted
  }

  /// The result: the round with the lowest validation error (the last round without a split).
  func result() throws -> InversionResult {
    guard !reports.isEmpty else { throw InversionError("interrupted before the first round finished") }
    var chosen = reports.count - 1, why = "the last round run (no validation split)"
    let errors = reports.compactMap(\.validationError)
    if errors.count == reports.count, let low = errors.min() {
      chosen = errors.firstIndex(of: low)!
      why = "round \(chosen + 1): lowest validation error " + String(format: "%.6g", low) + " of "
        + errors.map { String(format: "%.6g", $0) }.joined(separator: ", ")
    }
    var result = InversionResult(image: roundImages[chosen], prediction: roundPredictions[chosen], roundImages: roundImages,
                                 roundStartImages: startImages, rounds: reports, state: roundStates[chosen],
                                 interrupted: interrupted, selectedRound: chosen, selection: why, starts: starts)
    result.generatorRoundImages = roundImages
    return result
  }
}
/// A flag a signal handler can set (one aligned 32-bit store), remembering the first signal.
public final class ManagedFlag: @unchecked Sendable {
  private var value: Int32 = 0
  private var signalNumber: Int32 = 0
  public init() {}
  public var isSet: Bool { value != 0 }
  public func set() { value = 1 }
  public func clear() { value = 0; signalNumber = 0 }
  /// Sets the flag for `signal`; only the first signal is kept.
  public func record(signal: Int32) {
    if signalNumber == 0 { signalNumber = signal }
    value = 1
  }
  /// The first signal recorded (nil when set without one, or not set).
  public var signal: Int32? { signalNumber == 0 ? nil : signalNumber }
}

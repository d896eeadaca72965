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
  /// Metrics of this round's best image (filled in by the caller, which knows the truth).
  public var metrics: [String: Double] = [:]
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
}

/// The result of an inversion.
public struct InversionResult {
  /// The best image of the last round run, and its A(x).
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
}

/// Runs ILO (or a baseline) on a problem: one compiled stage program per round, Adam with
/// the ramped schedule, projections, best-iterate tracking and layer switching (spec §2).
public final class Inverter {
  public let problem: InversionProblem
  public let settings: InversionSettings
  public let engine: Engine
  public weak var observer: InversionObserver?
  /// Compiled stage programs shared with other inversions of the same setup (`iloc batch`);
  /// nil builds each round's program afresh.
  public var programs: StageProgramCache?
  /// Set from a signal handler to stop after the current step, keeping the best so far.
  public static let interruptRequested = ManagedFlag()

  public init(problem: InversionProblem, settings: InversionSettings, engine: Engine = .jit) throws {
    try settings.validate(maxRounds: problem.generator.maxRounds)
    self.problem = problem; self.settings = settings; self.engine = engine
  }

  /// Runs every round. With restarts, the first round is run from `restarts` random starts
  /// and the start whose first round reached the lowest data loss is carried on (for CSGM and
  /// PULSE, which have one round, that is the whole run).
  public func run() throws -> InversionResult {
    let seeds = (0..<settings.restarts).map { settings.seed &+ UInt64($0) &* 0x9E37_79B9 }
    if seeds.count == 1 { return try runOnce(seed: seeds[0]) }
    var best: (loss: Float, seed: UInt64, result: InversionResult)?
    for seed in seeds {
      let r = try runOnce(seed: seed, rounds: 1)
      if r.interrupted { return r }
      if best == nil || r.rounds[0].bestDataLoss < best!.loss { best = (r.rounds[0].bestDataLoss, seed, r) }
    }
    if settings.method != .ilo || settings.rounds.count == 1 { return best!.result }
    return try runOnce(seed: best!.seed)  // deterministic: round 0 repeats exactly
  }

  func runOnce(seed: UInt64, rounds limit: Int? = nil) throws -> InversionResult {
    var values = problem.generator.initialInputs(seed: seed)
    let roundCount = min(settings.method == .ilo ? settings.rounds.count : 1, limit ?? Int.max)
    var reports: [RoundReport] = []
    var roundImages: [HostTensor<Float>] = []
    var startImages: [HostTensor<Float>] = []
    var lastImage: HostTensor<Float>?, lastPrediction: HostTensor<Float>?
    var state = InversionState(round: 0, values: [:])
    var globalStep = 0
    for r in 0..<roundCount {
      if r > 0 && Self.interruptRequested.isSet {  // stopped between rounds: keep the last round's best
        return InversionResult(image: lastImage!, prediction: lastPrediction!, roundImages: roundImages,
                               roundStartImages: startImages, rounds: reports, state: state, interrupted: true)
      }
      let (stage, reused) = try programs?.program(problem: problem, round: r, settings: settings, engine: engine)
        ?? (StageProgram(problem: problem, round: r, settings: settings, engine: engine), false)
      observer?.roundStarted(r, of: roundCount, program: stage)
      let exe = stage.executable
      for (name, _) in stage.fixed { try exe.setInput(name, values[name]!) }
      var vars = stage.variables.map { values[$0.name]! }
      var adams = vars.map { Adam(count: $0.count) }
      let centers = vars
      var spheres: [SphereProjection?] = try stage.variables.enumerated().map { k, v in
        guard settings.sphereProjection || settings.method == .pulse else { return nil }
        switch v.kind {
        case .latent(let row): return try SphereProjection(reference: vars[k], groupLength: row)
        case .noise: return try SphereProjection(reference: vars[k], groupLength: vars[k].count)
        case .state: return nil
        }
      }
      if settings.method == .csgm { spheres = spheres.map { _ in nil } }
      var balls: [L1BallProjection?] = try stage.variables.enumerated().map { k, v in
        let radii: [Float]?
        switch v.kind {
        case .latent: radii = settings.radiusLatent
        case .noise: radii = settings.radiusNoise
        case .state: radii = settings.radiusState
        }
        guard let radii else { return nil }
        return try L1BallProjection(radius: try RoundRadii(radii, rounds: roundCount, name: "radius")[r], groupLength: vars[k].count)
      }
      let length = settings.method == .ilo ? settings.rounds[r] : settings.rounds[0]
      var detector: FlatteningDetector
      switch length {
      case .fixed(let n): detector = try FlatteningDetector(fixedSteps: n)
      case .auto(let w, let th, let lo, let hi): detector = try FlatteningDetector(window: w, threshold: th, minSteps: lo, maxSteps: hi)
      }
      let total: Int = { if case .fixed(let n) = length { return n }; if case .auto(_, _, _, let hi) = length { return hi }; return 1 }()
      let schedule: LearningRateSchedule = settings.schedule ?? (settings.method == .pulse ? .pulseOneCycle : (settings.method == .csgm ? .constant : .iloRamp))
      let lr0 = settings.method == .pulse && settings.learningRates == [0.1] ? 0.4 : settings.learningRate(r)
      var noiseBuffers = stage.runtimeInputs.map { [Float](repeating: 0, count: $0.shape.elementCount) }

      var bestLoss = Float.infinity, bestStep = 0
      var bestVars = vars, bestImage: HostTensor<Float>?, bestPrediction: HostTensor<Float>?
      var bestNext: [String: [Float]] = [:], bestTerms: [String: Float] = [:]
      var reason = ""
      let start = DispatchTime.now().uptimeNanoseconds
      var t = 0
      var interrupted = false
      while true {
        // every round runs one step, so an interrupted run always has a best iterate to keep
        if Self.interruptRequested.isSet && t > 0 { interrupted = true; reason = "interrupted"; break }
        for (k, v) in stage.variables.enumerated() { try exe.setInput(v.name, vars[k]) }
        if let noise = problem.forward as? NoiseAddition {
          for (k, ri) in stage.runtimeInputs.enumerated() {
            noise.fill(&noiseBuffers[k], step: globalStep)
            try exe.setInput(ri.name, noiseBuffers[k])
          }
        }
        try exe.run()
        if t == 0 { startImages.append(try exe.output("image")) }
        let objective = try exe.output("objective").values[0]
        let data = try stage.dataLoss()
        guard objective.isFinite && data.isFinite else {
          if bestImage == nil { throw InversionError("the loss became \(objective) at round \(r) step \(t) before any finite step (try a smaller --lr)") }
          reason = "stopped: the loss became \(objective) at step \(t); keeping the best iterate"
          break
        }
        if data < bestLoss {
          bestLoss = data; bestStep = t; bestVars = vars
          bestImage = try exe.output("image"); bestPrediction = try exe.output("prediction")
          for n in stage.nextState { bestNext[n] = try exe.output("next." + n).values }
          bestTerms = try stage.lossTerms()
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        observer?.step(r, t, dataLoss: data, objective: objective, stepsPerSecond: Double(t + 1) / max(elapsed, 1e-9))
        if let why = detector.record(loss: data) { reason = why.description; t += 1; globalStep += 1; break }
        // Adam step, then projections.
        let lr = schedule.learningRate(base: lr0, step: t, total: total)
        for k in vars.indices {
          let grad = try exe.output("grad:" + stage.variables[k].name).values
          adams[k].update(&vars[k], gradient: grad, learningRate: lr)
          spheres[k]?.project(&vars[k])
          balls[k]?.project(&vars[k], center: centers[k])
        }
        t += 1; globalStep += 1
      }
      let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      guard let image = bestImage, let prediction = bestPrediction else {
        throw InversionError("interrupted before the first step of round \(r) finished")
      }
      var report = RoundReport(round: r, steps: t, seconds: seconds, compileMilliseconds: reused ? 0 : stage.compileMilliseconds,
                               kernels: stage.stats?.kernels, cacheHits: stage.stats?.cacheHits, cacheMisses: stage.stats?.cacheMisses,
                               bestStep: bestStep, bestDataLoss: bestLoss, terms: bestTerms, switchReason: reason,
                               stepsPerSecond: Double(t) / max(seconds, 1e-9))
      // The state that reproduces this round's best image, then the next round's start.
      for (k, v) in stage.variables.enumerated() { values[v.name] = bestVars[k] }
      var saved: [String: HostTensor<Float>] = [:]
      for (k, v) in values { if let i = stage.graph.input(named: k) { saved[k] = HostTensor(shape: i.shape, values: v) } }
      state = InversionState(round: r, values: saved)
      for n in stage.nextState { values[n] = bestNext[n] }
      report.metrics = [:]
      reports.append(report)
      roundImages.append(image)
      lastImage = image; lastPrediction = prediction
      observer?.roundFinished(report, image: image)
      if interrupted {
        return InversionResult(image: image, prediction: prediction, roundImages: roundImages, roundStartImages: startImages, rounds: reports, state: state, interrupted: true)
      }
    }
    return InversionResult(image: lastImage!, prediction: lastPrediction!, roundImages: roundImages, roundStartImages: startImages, rounds: reports, state: state, interrupted: false)
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

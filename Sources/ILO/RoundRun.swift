import Dispatch
import Foundation
import GraphIR
import Inversion
import Runtime

/// One ILO round in progress: its compiled stage program, the optimized variables with their
/// Adam states and projections, when to stop, and the best iterate so far (spec §2).
struct RoundRun {
  let round: Int
  let stage: StageProgram
  var vars: [[Float]]
  var adams: [Adam]
  let centers: [[Float]]
  var spheres: [SphereProjection?]
  var balls: [L1BallProjection?]
  var detector: FlatteningDetector
  let schedule: LearningRateSchedule
  let baseRate: Float
  let total: Int
  var noiseBuffers: [[Float]]
  /// False when the stage program came compiled from the inverter's program cache (`iloc batch`).
  let compiledNow: Bool

  var steps = 0
  var reason = ""
  var interrupted = false
  var seconds = 0.0
  // the best iterate: by validation error with a split, else by data loss
  var bestScore = Double.infinity, bestLoss = Float.infinity, bestStep = 0
  var bestValidation: Double?
  var bestVars: [[Float]]
  var bestImage: HostTensor<Float>?, bestPrediction: HostTensor<Float>?
  var bestNext: [String: [Float]] = [:], bestTerms: [String: Float] = [:]

  init(_ inv: Inverter, round r: Int, values: [String: [Float]]) throws {
    let settings = inv.settings
    round = r
    let (program, reused) = try inv.programs?.program(problem: inv.problem, round: r, settings: settings, engine: inv.engine)
      ?? (StageProgram(problem: inv.problem, round: r, settings: settings, engine: inv.engine), false)
    stage = program
    compiledNow = !reused
    for (name, _) in stage.fixed { try stage.executable.setInput(name, values[name]!) }
    vars = stage.variables.map { values[$0.name]! }
    adams = vars.map { Adam(count: $0.count) }
    centers = vars
    bestVars = vars
    spheres = try Self.spheres(stage, vars, settings)
    balls = try Self.balls(stage, vars, settings, round: r, rounds: inv.roundCount, task: inv.problem.forward.task)
    let length = settings.method == .ilo ? settings.rounds[r] : settings.rounds[0]
    (detector, total) = try Self.detector(length)
    let own: LearningRateSchedule = settings.method == .pulse ? .pulseOneCycle : (settings.method == .csgm ? .constant : .iloRamp)
    schedule = settings.schedule ?? own
    let defaultRate = settings.learningRates.isEmpty || settings.learningRates == [0.1]
    baseRate = settings.method == .pulse && defaultRate ? 0.4 : settings.learningRate(r)
    noiseBuffers = stage.runtimeInputs.map { [Float](repeating: 0, count: $0.shape.elementCount) }
  }

  /// Sphere projections of latent rows and noises (PULSE always; CSGM never).
  static func spheres(_ stage: StageProgram, _ vars: [[Float]], _ s: InversionSettings) throws -> [SphereProjection?] {
    try stage.variables.enumerated().map { k, v in
      guard (s.sphereProjection || s.method == .pulse) && s.method != .csgm else { return nil }
      switch v.kind {
      case .latent(let row): return try SphereProjection(reference: vars[k], groupLength: row)
      case .noise: return try SphereProjection(reference: vars[k], groupLength: vars[k].count)
      case .state: return nil
      }
    }
  }

  /// The l1 balls around the round's start, where radii are set for the variable's kind; the
  /// last round's feature map gets the per-element radius (`lastRoundRadius(for:)`) where no
  /// radii are given for states.
  static func balls(
    _ stage: StageProgram, _ vars: [[Float]], _ s: InversionSettings, round r: Int, rounds: Int, task: Task
  ) throws -> [L1BallProjection?] {
    func given(_ radii: [Float]?) throws -> Float? {
      try radii.map { try RoundRadii($0, rounds: rounds, name: "radius")[r] }
    }
    return try stage.variables.enumerated().map { k, v in
      let n = vars[k].count
      let radius: Float?
      switch v.kind {
      case .latent: radius = try given(s.radiusLatent)
      case .noise: radius = try given(s.radiusNoise)
      case .state: radius = try s.stateRadius(round: r, rounds: rounds, task: task, elements: n)
      }
      return try radius.map { try L1BallProjection(radius: $0, groupLength: n) }
    }
  }

  /// The round's stopping rule and its step budget. An automatic round ignores its step 0 (the
  /// previous round's best) and takes at least `autoMinimumSteps` steps.
  static func detector(_ length: RoundLength) throws -> (FlatteningDetector, Int) {
    switch length {
    case .fixed(let n): return (try FlatteningDetector(fixedSteps: n), n)
    case .auto(let w, let th, let lo, let hi):
      let least = Swift.max(lo, Swift.min(InversionSettings.autoMinimumSteps, hi))
      return (try FlatteningDetector(window: w, threshold: th, minSteps: least, maxSteps: hi, ignoredSteps: 1), hi)
    }
  }

  /// Steps until the detector, a non-finite loss or a stop signal ends the round.
  mutating func optimize(_ globalStep: inout Int, inverter: Inverter, startImages: inout [HostTensor<Float>]) throws {
    let exe = stage.executable
    let start = DispatchTime.now().uptimeNanoseconds
    defer { seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
    while true {
      // every round runs one step, so an interrupted run always has a best iterate to keep
      if Inverter.interruptRequested.isSet && steps > 0 { interrupted = true; reason = "interrupted"; break }
      try evaluate(globalStep: globalStep, noise: inverter.problem.forward as? NoiseAddition)
      if steps == 0 { startImages.append(try exe.output("image")) }
      let objective = try exe.output("objective").values[0], data = try stage.dataLoss()
      guard objective.isFinite && data.isFinite else {
        if bestImage == nil {
          throw InversionError(
            "the loss became \(objective) at round \(round) step \(steps) before any finite step (try a smaller --lr)")
        }
        reason = "stopped: the loss became \(objective) at step \(steps); keeping the best iterate"
        break
      }
      try keepIfBest(data: data, inverter.observer)
      let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      inverter.observer?.step(round, steps, dataLoss: data, objective: objective,
                              stepsPerSecond: Double(steps + 1) / max(elapsed, 1e-9))
      steps += 1; globalStep += 1
      if let why = detector.record(loss: data) { reason = why.description; break }
      try update(learningRate: schedule.learningRate(base: baseRate, step: steps - 1, total: total))
    }
    if bestImage == nil { throw InversionError("interrupted before the first step of round \(round) finished") }
  }

  /// Runs the program at the current variables (and this step's noise draw).
  mutating func evaluate(globalStep: Int, noise: NoiseAddition?) throws {
    let exe = stage.executable
    for (k, v) in stage.variables.enumerated() { try exe.setInput(v.name, vars[k]) }
    if let noise {
      for (k, ri) in stage.runtimeInputs.enumerated() {
        noise.fill(&noiseBuffers[k], step: globalStep)
        try exe.setInput(ri.name, noiseBuffers[k])
      }
    }
    try exe.run()
  }

  /// Keeps this step as the round's best iterate when it scores lower than any before.
  mutating func keepIfBest(data: Float, _ observer: InversionObserver?) throws {
    let validation = try stage.validationError()
    if let v = validation { observer?.validated(round, steps, error: v) }
    let score = validation ?? Double(data)
    guard score < bestScore else { return }
    let exe = stage.executable
    bestScore = score; bestLoss = data; bestStep = steps; bestVars = vars; bestValidation = validation
    bestImage = try exe.output("image"); bestPrediction = try exe.output("prediction")
    for n in stage.nextState { bestNext[n] = try exe.output("next." + n).values }
    bestTerms = try stage.lossTerms()
  }

  /// One Adam step on every variable, then its projections.
  mutating func update(learningRate lr: Float) throws {
    for k in vars.indices {
      let grad = try stage.executable.output("grad:" + stage.variables[k].name).values
      adams[k].update(&vars[k], gradient: grad, learningRate: lr)
      spheres[k]?.project(&vars[k])
      balls[k]?.project(&vars[k], center: centers[k])
    }
  }

  /// The round's line of the report.
  func report() -> RoundReport {
    var r = RoundReport(round: round, steps: steps, seconds: seconds, compileMilliseconds: compiledNow ? stage.compileMilliseconds : 0,
                        kernels: stage.stats?.kernels, cacheHits: stage.stats?.cacheHits,
                        cacheMisses: stage.stats?.cacheMisses, bestStep: bestStep, bestDataLoss: bestLoss,
                        terms: bestTerms, switchReason: reason, stepsPerSecond: Double(steps) / max(seconds, 1e-9))
    r.validationError = bestValidation
    r.arenaBytes = stage.stats?.peakBytes
    r.scratchBytes = stage.stats?.scratchBytes
    return r
  }
}

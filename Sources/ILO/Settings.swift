import Foundation
import GraphIR
import Inversion

extension LearningRateSchedule: Codable {}

/// Which inversion algorithm runs (spec §4): ILO, or a latent-only baseline on the same engine.
public enum Method: String, Codable, Sendable, CaseIterable {
  /// Intermediate Layer Optimization: rounds over the generator's blocks.
  case ilo
  /// CSGM (Bora et al.): latent-only Adam with a constant rate, optional ||z||^2 prior, restarts.
  case csgm
  /// PULSE: latent-only, sphere projection, GeoCross, one-cycle schedule.
  case pulse
}

/// When a round ends.
public enum RoundLength: Codable, Sendable, Equatable {
  /// Exactly this many steps.
  case fixed(Int)
  /// When the best data loss improved by less than `threshold` (relative) over `window`
  /// steps, after at least `minSteps`, and at most `maxSteps`.
  case auto(window: Int, threshold: Double, minSteps: Int, maxSteps: Int)
}

/// Everything that shapes an inversion besides the model, the task and the observation.
public struct InversionSettings: Codable, Sendable {
  public var method: Method = .ilo
  /// One entry per round.
  public var rounds: [RoundLength] = Self.defaultSteps.map { .fixed($0) }
  /// Per-round base learning rate (1 value or one per round; empty: `defaultLearningRates`).
  public var learningRates: [Float] = []
  /// Per-round loss weights (1 value or one per round).
  public var lossWeights: [LossWeightsRecord] = [LossWeightsRecord()]
  /// Sphere projection of latent rows and noises after each step.
  public var sphereProjection = true
  /// l1-ball radii around each round's start, 1 value or one per round (nil: none, but for the
  /// state of the last round, `lastRoundRadius`).
  public var radiusState: [Float]?
  public var radiusLatent: [Float]?
  public var radiusNoise: [Float]?
  /// The l1 radius of the last round's feature map per element (the ball's radius is this
  /// times the map's element count), used where `radiusState` is not given; nil: the task's
  /// default (`defaultLastRoundRadius`), 0: no ball.
  public var lastRoundRadius: Float?
  public var seed: UInt64 = 42
  /// `--compat reference`: reproduce the published code (GeoCross only in round 0, the RGB skip
  /// of discarded blocks dropped, BDS(1) = the reference's 4-tap filter).
  public var compatReference = false
  /// CSGM: weight of ||z||^2 and the number of random restarts (the best total loss wins).
  public var latentPrior: Float = 0
  /// The learning-rate schedule (nil: the method's own: ILO's ramp, PULSE's one-cycle, CSGM's constant).
  public var schedule: LearningRateSchedule?
  /// Random starts of the first round, the best of which is carried on (nil: the task's
  /// default, `defaultRestarts`).
  public var restarts: Int?
  /// The validation split (nil: none; every measurement is fitted and the last round's best
  /// data-loss iterate is the result).
  public var validation: ValidationSettings?
  /// The data-consistency step on the result (`DataConsistency`); nil: the task's default
  /// (on for every noise-free linear task, off for denoising).
  public var dataConsistency: Bool?
  /// The result is the mean of the images of rounds `meanFirstRound`...R (at least two of them)
  /// instead of one selected round; nil: the task's default (super-resolution only).
  public var meanOfRounds: Bool?
  /// The first round (1-based) of that mean; nil: the default (`defaultMeanFirstRound`).
  public var meanFirstRound: Int?
  /// How many independent runs (from different seeds) are averaged into the result; nil: the
  /// task's default (`defaultEnsembleSize`).
  public var ensemble: Int?

  public init() {}

  /// The runs ILO averages by default, on every task: the mean of plausible answers
  /// approximates the posterior mean, the answer with the least expected squared error; two
  /// runs gained 0.7-1.2 dB on every task measured (docs/quality.md). The baselines run as
  /// published (one run) unless asked.
  public static let defaultEnsembleSize = 2

  public func ensembleSize(for task: Task) -> Int { ensemble ?? (method == .ilo ? Self.defaultEnsembleSize : 1) }

  /// ILO's first round by default runs from three random starts and carries on the one whose
  /// first round fit best (lowest validation error, else data loss): a run from a poor start
  /// ends in a poorer basin whatever its later rounds do, and one poor run pulls an ensemble's
  /// mean below its better run. Measured on the project's faces (docs/quality.md, "Restarts"):
  /// +0.2 dB for denoising, +0.35-0.7 dB for compressed sensing, for about 40 % more steps.
  /// One start for super-resolution, where the held-out low-resolution pixels that pick the
  /// start judge only what the observation shows (-0.14 dB with three), and for inpainting
  /// (+0.03 dB, not worth the steps). The baselines run as published unless asked.
  public static func defaultRestarts(for task: Task) -> Int {
    switch task {
    case .superres, .inpaint: 1
    case .denoise, .csCirculant, .csGaussian, .colorize: 3
    }
  }

  public func restartCount(for task: Task) -> Int { restarts ?? (method == .ilo ? Self.defaultRestarts(for: task) : 1) }

  /// These settings with the task's defaults for the number of starts and the last round's
  /// ball written in (the `Inverter` keeps its settings so, and `iloc compile` writes them so
  /// into an artifact's manifest).
  public func resolved(for task: Task) -> InversionSettings {
    var s = self
    s.restarts = restartCount(for: task)
    s.lastRoundRadius = radiusState == nil ? lastRoundRadius(for: task) : 0  // given radii replace it
    s.meanFirstRound = meanFirstRound ?? Self.defaultMeanFirstRound
    return s
  }

  /// ILO's last round by default keeps its feature map inside an l1 ball of 0.0015 per element
  /// around its start for denoising (ILO's own answer to overfitting, spec §2): the last round
  /// optimizes the map closest to the pixels, which has the freedom to fit the noise, and the
  /// held-out pixels cannot see a round fit noise on the pixels it fitted. Measured on the
  /// project's faces (docs/quality.md, "The last round's l1 ball"): +0.13 dB (DCGAN) and
  /// +0.08 dB (StyleGAN2), and the result is never below an earlier round. None for the other
  /// tasks, whose observations carry no noise to fit.
  public static func defaultLastRoundRadius(for task: Task) -> Float {
    task == .denoise ? 0.0015 : 0
  }

  /// The last round's radius per element for `task` (0: no ball); the baselines have no rounds.
  public func lastRoundRadius(for task: Task) -> Float {
    lastRoundRadius ?? (method == .ilo ? Self.defaultLastRoundRadius(for: task) : 0)
  }

  /// The radius of the l1 ball around round `r`'s feature map of `elements` values (nil: none):
  /// `radiusState` where given, else in the last round `lastRoundRadius(for:)` per element.
  public func stateRadius(round r: Int, rounds: Int, task: Task, elements: Int) throws -> Float? {
    if let radiusState { return try RoundRadii(radiusState, rounds: rounds, name: "--radius-state")[r] }
    let perElement = lastRoundRadius(for: task)
    guard r == rounds - 1 && r > 0 && perElement > 0 else { return nil }
    return Swift.min(perElement * Float(elements), .greatestFiniteMagnitude)
  }

  /// Whether the result is a mean of rounds for `task` (docs/quality.md: +0.3 dB over the best
  /// single round in 4x super-resolution, where the rounds differ only in invented detail;
  /// inpainting's and compressed sensing's later rounds are much better than the earlier ones,
  /// so there one round is kept).
  public func meanOfRoundsApplies(to task: Task) -> Bool {
    method == .ilo && (meanOfRounds ?? (task == .superres))
  }

  /// The mean of rounds starts at the first round by default: the first round's image (the
  /// latents' alone, made consistent) invents the least detail, and with it in the mean the
  /// result scored as well or better on every measure on the project's faces (docs/quality.md,
  /// "The mean of every round": super-resolution, +0.07 dB with the DCGAN, +0.14 dB with the
  /// StyleGAN2, whose result was then within 0.01 dB of its best round on each of 17 faces).
  /// Artifacts compiled before the setting existed keep rounds 2 and later
  /// (`ArtifactManifest.runSettings`).
  public static let defaultMeanFirstRound = 1
  /// The mean's first round in settings recorded before `meanFirstRound` existed (artifact
  /// manifests, saved states): rounds 2 and later, as they ran then.
  public static let legacyMeanFirstRound = 2

  /// The rounds (0-based) whose images are averaged into the result for `task` out of `count`
  /// rounds, nil when one round is kept (the mean needs at least two rounds).
  public func meanRounds(for task: Task, count: Int) -> Range<Int>? {
    let first = (meanFirstRound ?? Self.defaultMeanFirstRound) - 1
    guard meanOfRoundsApplies(to: task), count >= 3, first >= 0, first < count - 1 else { return nil }
    return first..<count
  }

  /// Whether the result gets the data-consistency step for `task`.
  /// By default ILO's only: the baselines run as published unless asked.
  public func consistencyApplies(to task: Task) -> Bool {
    dataConsistency ?? (method == .ilo && DataConsistency.appliesByDefault(to: task))
  }

  /// Steps per round by default: five rounds, down to the 32x32 feature maps of a 64x64
  /// generator (fewer when the generator has fewer blocks).
  public static let defaultSteps = [50, 50, 50, 50, 50]

  /// The default base learning rate of each of `rounds` rounds: 0.1 for round 0 (latents), then
  /// 0.01, 0.01, 0.003, 0.003 for the feature maps of rounds 1-4 (and 0.003 beyond). Adam moves
  /// every element by about the rate per step whatever its scale, and a feature map has many
  /// more elements than a latent, so at 0.1 the first steps of a late round throw the image far
  /// off (measured on the evaluation faces: docs/quality.md).
  public static func defaultLearningRates(rounds: Int) -> [Float] {
    let rates: [Float] = [0.1, 0.01, 0.01, 0.003, 0.003]
    return (0..<rounds).map { $0 < rates.count ? rates[$0] : rates.last! }
  }

  /// The validation split a task gets by default (docs/quality.md): 10 % held out for denoising,
  /// where fitting every measurement ends up fitting the noise, and for super-resolution, where
  /// it keeps the result within 0.01 dB of the best round and lowers LPIPS for 0.06 dB of PSNR;
  /// none for inpainting and compressed sensing, where the held-out measurements are worth
  /// more as data than as a stopping rule.
  public static func defaultValidation(for task: Task) -> ValidationSettings? {
    task == .denoise || task == .superres ? ValidationSettings() : nil
  }

  /// The fewest steps an automatically switched round takes (capped by its budget): a new
  /// layer's loss first rises and then falls, so flatness is judged on no shorter a stretch.
  public static let autoMinimumSteps = 20

  public func learningRate(_ r: Int) -> Float {
    if learningRates.isEmpty { return Self.defaultLearningRates(rounds: r + 1)[r] }
    return learningRates.count == 1 ? learningRates[0] : learningRates[r]
  }
  public func weights(_ r: Int) -> LossWeights { (lossWeights.count == 1 ? lossWeights[0] : lossWeights[r]).weights }

  /// Checks list lengths against the number of rounds (one line per problem).
  public func validate(maxRounds: Int) throws {
    let n = rounds.count
    guard n >= 1 else { throw InversionError("at least one round is needed") }
    guard n <= maxRounds else { throw InversionError("\(n) rounds requested but the generator has only \(maxRounds) blocks") }
    func check<T>(_ v: [T]?, _ name: String) throws {
      guard let v else { return }
      guard v.count == 1 || v.count == n else { throw InversionError("\(name) has \(v.count) values but there are \(n) rounds (give 1 or \(n))") }
    }
    if !learningRates.isEmpty { try check(learningRates, "--lr") }
    try check(lossWeights, "loss weights")
    for (name, r) in [("--radius-state", radiusState), ("--radius-latent", radiusLatent), ("--radius-noise", radiusNoise)] {
      try check(r, name)
      if let r { _ = try RoundRadii(r, rounds: n, name: name) }
    }
    for lr in learningRates where !(lr.isFinite && lr > 0) { throw InversionError("--lr must be positive and finite, got \(lr)") }
    for case .fixed(let s) in rounds where s < 1 { throw InversionError("a round needs at least 1 step, got \(s)") }
    guard (restarts ?? 1) >= 1 else { throw InversionError("--restarts must be at least 1") }
    if let k = meanFirstRound, n >= 3, k > n - 1 {
      throw InversionError("--mean-from-round must leave at least two rounds to average (1...\(n - 1)), got \(k)")
    }
    if let e = ensemble, !(1...64).contains(e) { throw InversionError("--ensemble must be in 1...64, got \(e)") }
    if let v = validation, !(v.fraction.isFinite && v.fraction > 0 && v.fraction < 1) {
      throw InversionError("--validation must be in (0, 1) or 0 for none, got \(v.fraction)")
    }
    try validateValues()
  }

  /// Checks every number that needs no model (loss weights, the prior, switching windows and
  /// thresholds): finite and in range, so a bad flag fails before the first step, not when
  /// the report is written.
  public func validateValues() throws {
    func finite(_ v: Float, _ name: String, positive: Bool = false) throws {
      guard v.isFinite && (positive ? v > 0 : v >= 0) else {
        throw InversionError("\(name) must be finite and \(positive ? "positive" : "non-negative"), got \(v)")
      }
    }
    try finite(latentPrior, "--latent-prior")
    if let k = meanFirstRound, k < 1 { throw InversionError("--mean-from-round must be at least 1, got \(k)") }
    if let r = lastRoundRadius {
      try finite(r, "--last-round-radius")
      if r > 0 && radiusState != nil {
        throw InversionError("--radius-state and --last-round-radius both set the last round's ball: give one")
      }
    }
    for w in lossWeights {
      try finite(w.mse, "--mse")
      try finite(w.lpips, "--lpips")
      try finite(w.geoCross, "--geocross")
      try finite(w.deadZone, "--dead-zone")
      try finite(w.deadZoneAlpha, "the dead-zone alpha", positive: true)
    }
    for case .auto(let window, let threshold, let lo, let hi) in rounds {
      _ = try FlatteningDetector(window: window, threshold: threshold, minSteps: lo, maxSteps: hi)
    }
  }
}

/// Codable loss weights (mirrors `LossWeights`).
public struct LossWeightsRecord: Codable, Sendable, Equatable {
  public var mse: Float = 1
  public var lpips: Float = 0
  public var geoCross: Float = 0.01
  public var deadZone: Float = 0
  public var deadZoneAlpha: Float = 0.1
  public init(mse: Float = 1, lpips: Float = 0, geoCross: Float = 0.01, deadZone: Float = 0, deadZoneAlpha: Float = 0.1) {
    self.mse = mse; self.lpips = lpips; self.geoCross = geoCross; self.deadZone = deadZone; self.deadZoneAlpha = deadZoneAlpha
  }
  public var weights: LossWeights {
    LossWeights(mse: mse, perceptual: lpips, geoCross: geoCross, deadZone: deadZone, deadZoneAlpha: deadZoneAlpha)
  }
}

/// The held-out validation split (`Holdout`): which fraction of the measurements, drawn with
/// which seed.
public struct ValidationSettings: Codable, Sendable, Equatable {
  public var fraction: Double = 0.1
  public var seed: UInt64 = 0x5EED
  public init(fraction: Double = 0.1, seed: UInt64 = 0x5EED) { self.fraction = fraction; self.seed = seed }
}

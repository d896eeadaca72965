import ArgumentParser
import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime

/// The flags that shape an inversion besides the model and the task (shared by `invert` and
/// `compile`, so that an artifact is compiled for exactly the graphs `invert` builds).
struct InversionOptions: ParsableArguments {
  @Option(help: "Method: ilo, csgm (latent-only Adam) or pulse (latent-only, sphere, GeoCross, one-cycle).")
  var method: Method = .ilo
  @Option(help: "Steps per round, comma separated (one round per value; default 50 in each of 5 rounds, or as many as the generator has blocks).")
  var steps: String?
  @Flag(help: "Switch layers when the loss flattens instead of after fixed step counts (--steps gives each round's maximum).")
  var auto = false
  @Option(help: "Flattening: relative improvement threshold over the window.")
  var flatThreshold = 1e-3
  @Option(help: "Flattening: window in steps.")
  var flatWindow = 10
  @Option(help: "Learning-rate schedule: ilo (ramp), pulse (one-cycle) or constant; default: the method's own.")
  var schedule: LearningRateSchedule?
  @Option(parsing: .unconditional,
          help: "Base learning rate per round (one value or one per round; default 0.1 for round 1, then 0.01, 0.01, 0.003, 0.003).")
  var lr: String?
  @Option(help: "Weight of the MSE term.") var mse: Float = 1
  @Option(help: "Weight of the LPIPS term (needs --lpips-backbone).") var lpips: Float = 0
  @Option(help: "Weight of GeoCross.") var geocross: Float = 0.01
  @Option(help: "Weight of the dead-zone L1 term.") var deadZone: Float = 0
  @Option(help: "l1-ball radius around each round's start for h (one or one per round; replaces --last-round-radius).")
  var radiusState: String?
  @Option(help: "l1-ball radius for the latents.") var radiusLatent: String?
  @Option(help: "l1-ball radius for the noises.") var radiusNoise: String?
  @Option(parsing: .unconditional, help: ArgumentHelp(
    "l1-ball radius of the last round's feature map per element (the ball's radius is this times the map's size), "
      + "where --radius-state is not given; 0: none. Default: 0.0015 for ilo on denoise, 0 otherwise."))
  var lastRoundRadius: Float?
  @Flag(help: "Disable the sphere projection of latents and noises.") var noProject = false
  @Option(help: "Random seed of the initial latents and noises.") var seed: UInt64 = 42
  @Option(help: "'reference' reproduces the published code's behaviour (skip dropped, GeoCross only in round 0, BDS(1) filter).")
  var compat: String?
  @Option(help: ArgumentHelp(
    "LPIPS backbone weights for the loss and metric: torchvision VGG16, AlexNet or SqueezeNet 1.1 "
      + "(recognised by their keys), or the Caffe-trained SqueezeNet 1.1 of ../shared/weights/."))
  var lpipsBackbone: String?
  @Option(help: ArgumentHelp(
    "Fraction of the measurements held out of the loss as a validation set that selects the step and "
      + "the round (0: none; fit everything, keep the last round)."))
  var validation: Double?
  @Option(help: "Seed of the validation split.") var validationSeed: UInt64 = 0x5EED
  @Option(help: ArgumentHelp(
    "Data consistency of the result: on replaces the part of the image the observation determines by what "
      + "the observation says (known pixels, luma, low frequencies, measurements), keeping the generator's "
      + "answer for the rest; off returns the generator's image. Default: on for ilo on every task but denoise, off for the baselines."))
  var consistency: OnOff?
  @Option(help: ArgumentHelp(
    "on: the result is the mean of the images of the rounds (from --mean-from-round on) instead of one round; "
      + "off: one round. Default: on for superres only."))
  var meanOfRounds: OnOff?
  @Option(help: ArgumentHelp("The first round (1-based) of the mean of rounds. Default: 1 (every round)."))
  var meanFromRound: Int?
  @Option(help: ArgumentHelp(
    "Independent runs from different seeds whose results are averaged (the mean of plausible answers has the "
      + "least expected squared error). Default: 2 for ilo, 1 for the baselines."))
  var ensemble: Int?
  @Option(help: "CSGM: weight of ||z||^2.") var latentPrior: Float = 0
  @Option(help: ArgumentHelp(
    "Random starts of the first round; the one that fits best (validation error, else data loss) is carried on. "
      + "Default: 3 for ilo on denoise, cs-* and colorize, 1 otherwise and for the baselines."))
  var restarts: Int?
  @Option(help: "StyleGAN2: samples for fitting the latent proxy when the model file has none.") var fitSamples = 20000
  @Option(help: ArgumentHelp("StyleGAN2: the latent proxy to use instead of the model's: ILO's/PULSE's "
                              + "gaussian_fit.pt ({'mean', 'std'}) or a converted model."))
  var latentProxy: String?
  @Option(name: .customLong("class"), help: "StyleGAN2: the class of a conditional generator (0 <= N < class count).")
  var classIndex: Int?

  /// The `--latent-proxy` file's proxy, if given.
  func givenLatentProxy() throws -> LatentProxy? {
    try latentProxy.map { try LatentProxy.load(URL(fileURLWithPath: $0)) }
  }

  func parseList<T>(_ s: String, _ name: String, _ f: (Substring) -> T?) throws -> [T] {
    let v = s.split(separator: ",").map { f($0.trimmingCharacters(in: .whitespaces)[...]) }
    guard !v.isEmpty, v.allSatisfy({ $0 != nil }) else { throw ValidationError("\(name): cannot read '\(s)'") }
    return v.map { $0! }
  }

  func settings() throws -> InversionSettings {
    var s = InversionSettings()
    s.method = method
    let st = try steps.map { try parseList($0, "--steps") { Int($0) } } ?? InversionSettings.defaultSteps
    s.rounds = st.map { auto ? .auto(window: flatWindow, threshold: flatThreshold, minSteps: min(flatWindow, $0), maxSteps: $0) : .fixed($0) }
    if method != .ilo { s.rounds = [s.rounds[0]] }
    s.learningRates = try lr.map { try parseList($0, "--lr") { Float($0) } } ?? []
    s.lossWeights = [LossWeightsRecord(mse: mse, lpips: lpips, geoCross: method == .csgm ? 0 : geocross, deadZone: deadZone)]
    s.sphereProjection = !noProject
    s.radiusState = try radiusState.map { try parseList($0, "--radius-state") { Float($0) } }
    s.radiusLatent = try radiusLatent.map { try parseList($0, "--radius-latent") { Float($0) } }
    s.radiusNoise = try radiusNoise.map { try parseList($0, "--radius-noise") { Float($0) } }
    s.lastRoundRadius = lastRoundRadius
    s.seed = seed
    if let c = compat { guard c == "reference" else { throw ValidationError("--compat takes 'reference'") }; s.compatReference = true }
    s.latentPrior = latentPrior
    s.schedule = schedule
    s.restarts = restarts
    if let v = validation { s.validation = v == 0 ? nil : ValidationSettings(fraction: v, seed: validationSeed) }
    s.dataConsistency = consistency.map { $0 == .on }
    s.meanOfRounds = meanOfRounds.map { $0 == .on }
    s.meanFirstRound = meanFromRound
    s.ensemble = ensemble
    return s
  }

  /// The settings for `task` on a generator with `maxRounds` blocks: the task's default
  /// validation split unless --validation is given, and without --steps as many default rounds
  /// as the generator has. (First-round starts and the last round's ball stay nil here, the task's
  /// defaults: `iloc batch` calls this once for rows of every task; the `Inverter` resolves them.)
  func settings(task: Task, maxRounds: Int) throws -> InversionSettings {
    var s = try settings()
    if validation == nil {
      s.validation = InversionSettings.defaultValidation(for: task).map { ValidationSettings(fraction: $0.fraction, seed: validationSeed) }
    }
    if steps == nil && s.rounds.count > maxRounds { s.rounds = Array(s.rounds.prefix(maxRounds)) }
    return s
  }

}

/// A switch flag's value.
enum OnOff: String, ExpressibleByArgument, CaseIterable {
  case on, off
}

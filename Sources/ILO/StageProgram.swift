import Foundation
import GraphIR
import Inversion
import Models
import Runtime

/// The perceptual loss network, when its weights are available.
public struct PerceptualLoss {
  public var lpips: LPIPS
  public var weights: StateDict
  public init(lpips: LPIPS, weights: StateDict) { self.lpips = lpips; self.weights = weights }
}

/// What is being inverted: the generator, the task's forward operator and the observation.
public struct InversionProblem {
  public var generator: InvertibleGenerator
  public var forward: any ForwardOperator
  /// y, the observation in the operator's output space (e.g. [1, 3, S/f, S/f] for superres).
  public var observation: HostTensor<Float>
  /// The inpainting mask, used by LPIPS' "fill" comparison.
  public var mask: InpaintMask?
  public var perceptual: PerceptualLoss?
  public init(generator: InvertibleGenerator, forward: any ForwardOperator, observation: HostTensor<Float>, mask: InpaintMask? = nil, perceptual: PerceptualLoss? = nil) {
    self.generator = generator; self.forward = forward; self.observation = observation; self.mask = mask; self.perceptual = perceptual
  }
}

/// One round's compiled forward + loss + backward program, and the names it exposes.
/// Outputs: `image`, `prediction` (A(x)), the `loss*` terms, `objective` (what is
/// differentiated), `next.<input>` (the state the next round starts from) and
/// `grad:<variable>` for every variable.
public final class StageProgram {
  public let round: Int
  public let graph: Graph
  public let variables: [RoundVariable]
  public let fixed: [(name: String, shape: Shape)]
  public let nextState: [String]
  public let runtimeInputs: [(name: String, shape: Shape)]
  public let weights: LossWeights
  public let usesLPIPS: Bool
  /// The validation split of the observation (nil: none), and the output it is measured on.
  public let holdout: Holdout?
  public let validationOutput: String
  public let executable: Executable
  public let compileMilliseconds: Double
  /// Building the round's forward + loss graph and differentiating it.
  public let graphMilliseconds: Double
  public let stats: ProgramStats?

  public init(problem: InversionProblem, round r: Int, settings: InversionSettings, engine: Engine) throws {
    round = r
    let graphStart = DispatchTime.now().uptimeNanoseconds
    let g = Graph("ilo.round\(r)")
    let rg = try problem.generator.buildRound(r, in: g, keepSkip: !settings.compatReference)
    let prediction = problem.forward.apply(rg.image)
    try g.check()
    let y = g.input("observation", problem.observation.shape)
    let split = try Self.holdout(problem, settings)
    let trainWeights = split.map { g.constant($0.lossWeights, problem.observation.shape) }
    var w = settings.weights(r)
    var lpipsWeights: WeightInputs?
    let imageLike = prediction.rank == 4 && prediction.shape[1] == 3 && prediction.shape[2] >= 16
    if w.perceptual > 0 && (problem.perceptual == nil || !imageLike) { w.perceptual = 0 }
    usesLPIPS = w.perceptual > 0
    if settings.compatReference && r > 0 { w.geoCross = 0 }  // the reference slices the batch axis: inactive after round 0
    if settings.method == .csgm { w.geoCross = 0 }
    let perceptual: (() throws -> Tensor)? = usesLPIPS ? {
      let p = WeightInputs(graph: g, prefix: "lpips.")
      lpipsWeights = p
      var compared = prediction, reference = y
      if let m = problem.mask, prediction.shape == rg.image.shape {
        // "fill": the generated image against the observed pixels, completed by itself in the holes
        compared = rg.image
        reference = y + (1 - m.constant(in: g)) * rg.image
      }
      if let t = split {  // held-out pixels: the compared image's own, so LPIPS sees nothing of them
        let keep = g.constant(t.trainMask, problem.observation.shape)
        reference = reference * keep + compared * (1 - keep)
      }
      let d = problem.perceptual!.lpips.distance(compared, reference, weights: p).total
      return mean(d)
    } : nil
    let terms = try buildInversionLoss(prediction: prediction, observation: y, latents: rg.latents, weights: w,
                                       perceptual: perceptual, elementWeights: trainWeights)
    var objective = terms.total
    if settings.latentPrior > 0, let z = g.input(named: "z") { objective = objective + sum(square(z)) * settings.latentPrior }
    g.output("objective", objective)
    g.output("image", rg.image)
    g.output("prediction", prediction)
    for (name, v) in rg.nextState { g.output("next." + name, v) }
    // the compiler's forward rewrites (modulation scales off the per-sample weights), then autodiff
    let dg = try differentiate(g, loss: "objective", wrt: rg.variables.map(\.name))
    graph = dg
    variables = rg.variables
    fixed = rg.fixed
    nextState = rg.nextState.map(\.name)
    runtimeInputs = problem.forward.runtimeInputs(batch: 1, size: problem.generator.imageSize)
    weights = w
    holdout = split
    observationValues = problem.observation.values
    validationOutput = problem.forward is NoiseAddition ? "image" : "prediction"

    let t0 = DispatchTime.now().uptimeNanoseconds
    graphMilliseconds = Double(t0 - graphStart) / 1e6
    // weights and the observation are bound once per round: work on them alone is hoisted
    var options = ProgramOptions()
    let fixedNames = Set(rg.fixed.map(\.name))
    options.staticInputs = Set(dg.inputs.map(\.name).filter {
      rg.weights.isWeight(inputName: $0) || $0.hasPrefix("lpips.") || $0 == "observation" || fixedNames.contains($0)
    })
    executable = try makeExecutable(dg, engine: engine, options: options)
    compileMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
    stats = (executable as? Program)?.stats
    // Bind what stays fixed for the whole round: weights and the observation.
    for (k, v) in try rg.weights.bind(problem.generator.stateDict) { try executable.setInput(k, v.values) }
    if let p = lpipsWeights, let pl = problem.perceptual {
      for (k, v) in try p.bind(pl.weights) { try executable.setInput(k, v.values) }
    }
    try executable.setInput("observation", problem.observation.values)
  }

  private let observationValues: [Float]

  /// The validation split `settings` asks for on this problem (the same in every round, for
  /// the inverter, `render` and compiled artifacts alike).
  public static func holdout(_ problem: InversionProblem, _ settings: InversionSettings) throws -> Holdout? {
    guard let v = settings.validation else { return nil }
    return try Holdout(observationShape: problem.observation.shape, fraction: v.fraction, seed: v.seed,
                       observed: problem.mask?.values)
  }

  /// The mean squared error on the held-out measurements at the last run (nil without a split).
  public func validationError() throws -> Double? {
    guard let h = holdout else { return nil }
    return h.error(try executable.output(validationOutput).values, observationValues)
  }

  /// The data part of the loss (what "best iterate" minimizes): the weighted MSE, LPIPS
  /// and dead-zone terms, without the regularizers.
  public func dataLoss() throws -> Float {
    var total: Float = 0
    if weights.mse > 0 { total += weights.mse * (try executable.output(LossOutput.mse).values[0]) }
    if weights.perceptual > 0 { total += weights.perceptual * (try executable.output(LossOutput.perceptual).values[0]) }
    if weights.deadZone > 0 { total += weights.deadZone * (try executable.output(LossOutput.deadZone).values[0]) }
    return total
  }

  /// Every loss term output, by name.
  public func lossTerms() throws -> [String: Float] {
    var out: [String: Float] = [:]
    for o in graph.outputs where o.name.hasPrefix("loss") || o.name == "objective" {
      out[o.name] = try executable.output(o.name).values[0]
    }
    return out
  }
}

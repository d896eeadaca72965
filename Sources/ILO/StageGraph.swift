import Foundation
import GraphIR
import Inversion
import Models
import Runtime

/// One round's forward + loss + backward graph, before it is compiled: what `StageProgram`
/// compiles and runs, and what benchmarks (`iloc bench ilo-step-*`) and `iloc profile --round`
/// compile as it is. Outputs: `image`, `prediction` (A(x)), the `loss*` terms, `objective`
/// (what is differentiated), `next.<input>` and `grad:<variable>` for every variable.
public struct StageGraph {
  public let round: Int
  /// The differentiated graph.
  public let graph: Graph
  public let variables: [RoundVariable]
  public let fixed: [(name: String, shape: Shape)]
  public let nextState: [String]
  public let runtimeInputs: [(name: String, shape: Shape)]
  public let weights: LossWeights
  public let usesLPIPS: Bool
  public let holdout: Holdout?
  /// Inputs bound once per round (generator and LPIPS weights, the observation, fixed
  /// inputs): the compiler hoists work on them alone out of every step.
  public let staticInputs: Set<String>
  let generatorWeights: WeightInputs
  let lpipsWeights: WeightInputs?

  public init(problem: InversionProblem, round r: Int, settings: InversionSettings) throws {
    round = r
    let g = Graph("ilo.round\(r)")
    let rg = try problem.generator.buildRound(r, in: g, keepSkip: !settings.compatReference)
    let prediction = problem.forward.apply(rg.image)
    try g.check()
    let y = g.input("observation", problem.observation.shape)
    let split = try StageProgram.holdout(problem, settings)
    let trainWeights = split.map { g.constant($0.lossWeights, problem.observation.shape) }
    var w = settings.weights(r)
    let imageLike = prediction.rank == 4 && prediction.shape[1] == 3 && prediction.shape[2] >= 16
    if w.perceptual > 0 && (problem.perceptual == nil || !imageLike) { w.perceptual = 0 }
    usesLPIPS = w.perceptual > 0
    if settings.compatReference && r > 0 { w.geoCross = 0 }  // the reference slices the batch axis: inactive after round 0
    if settings.method == .csgm { w.geoCross = 0 }
    let lpipsInputs = usesLPIPS ? WeightInputs(graph: g, prefix: "lpips.") : nil
    let perceptual: (() throws -> Tensor)? = lpipsInputs.map { p in
      { try Self.perceptualTerm(problem, image: rg.image, prediction: prediction, observation: y, split: split, weights: p) }
    }
    let terms = try buildInversionLoss(prediction: prediction, observation: y, latents: rg.latents, weights: w,
                                       perceptual: perceptual, elementWeights: trainWeights)
    var objective = terms.total
    if settings.latentPrior > 0, let z = g.input(named: "z") { objective = objective + sum(square(z)) * settings.latentPrior }
    g.output("objective", objective)
    g.output("image", rg.image)
    g.output("prediction", prediction)
    for (name, v) in rg.nextState { g.output("next." + name, v) }
    graph = try differentiate(g, loss: "objective", wrt: rg.variables.map(\.name))
    variables = rg.variables
    fixed = rg.fixed
    nextState = rg.nextState.map(\.name)
    runtimeInputs = problem.forward.runtimeInputs(batch: 1, size: problem.generator.imageSize)
    weights = w
    holdout = split
    generatorWeights = rg.weights
    lpipsWeights = lpipsInputs
    let fixedNames = Set(rg.fixed.map(\.name))
    staticInputs = Set(graph.inputs.map(\.name).filter {
      rg.weights.isWeight(inputName: $0) || $0.hasPrefix("lpips.") || $0 == "observation" || fixedNames.contains($0)
    })
  }

  /// The program options of a stage: static inputs hoisted.
  public var options: ProgramOptions {
    var o = ProgramOptions()
    o.staticInputs = staticInputs
    return o
  }

  /// Values of the inputs bound once per round: generator weights, LPIPS weights, observation.
  public func boundInputs(_ problem: InversionProblem) throws -> [String: [Float]] {
    var out: [String: [Float]] = [:]
    for (k, v) in try generatorWeights.bind(problem.generator.stateDict) { out[k] = v.values }
    if let p = lpipsWeights, let pl = problem.perceptual {
      for (k, v) in try p.bind(pl.weights) { out[k] = v.values }
    }
    out["observation"] = problem.observation.values
    return out
  }

  /// The LPIPS term (spec §2 step 2, reference-code §B): with an inpainting mask, "fill" (the
  /// generated image against the observed pixels completed by itself in the holes); held-out
  /// pixels replaced by the compared image's own; both images bicubically downsampled to the
  /// perceptual loss's resolution (256) when larger, as the reference does at 1024.
  static func perceptualTerm(_ problem: InversionProblem, image: Tensor, prediction: Tensor, observation y: Tensor,
                             split: Holdout?, weights p: WeightInputs) throws -> Tensor {
    let g = image.graph
    var compared = prediction, reference = y
    if let m = problem.mask, prediction.shape == image.shape {
      compared = image
      reference = y + (1 - m.constant(in: g)) * image
    }
    if let t = split {  // held-out pixels: the compared image's own, so LPIPS sees nothing of them
      let keep = g.constant(t.trainMask, problem.observation.shape)
      reference = reference * keep + compared * (1 - keep)
    }
    let pl = problem.perceptual!
    let side = compared.shape[2], target = pl.resolution
    if side > target, side % target == 0, compared.shape[3] == side {
      let bds = try BicubicDownsampler(factor: side / target)
      compared = bds.apply(compared)
      reference = bds.apply(reference)
    }
    return mean(pl.lpips.distance(compared, reference, weights: p).total)
  }
}

import Foundation
import GraphIR
import Inversion
import Models
import Runtime

/// The perceptual loss network, when its weights are available.
public struct PerceptualLoss {
  public var lpips: LPIPS
  public var weights: StateDict
  /// Images larger than this (a multiple of it) are compared after bicubic downsampling to
  /// it, as the reference compares 1024-pixel images at 256 (spec §1).
  public var resolution: Int
  public init(lpips: LPIPS, weights: StateDict, resolution: Int = 256) {
    self.lpips = lpips; self.weights = weights; self.resolution = resolution
  }
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
@dynamicMemberLookup
public final class StageProgram {
  /// The round's graph and what it exposes (`round`, `graph`, `variables`, `fixed`, `nextState`,
  /// `runtimeInputs`, `weights`, `usesLPIPS`, `holdout`: read through as the program's own).
  public let stage: StageGraph
  /// The output the validation split is measured on.
  public let validationOutput: String
  public let executable: Executable
  public let compileMilliseconds: Double
  /// Building the round's forward + loss graph and differentiating it.
  public let graphMilliseconds: Double
  public let stats: ProgramStats?

  public init(problem: InversionProblem, round r: Int, settings: InversionSettings, engine: Engine) throws {
    let graphStart = DispatchTime.now().uptimeNanoseconds
    let stage = try StageGraph(problem: problem, round: r, settings: settings)
    self.stage = stage
    observationValues = problem.observation.values
    validationOutput = problem.forward is NoiseAddition ? "image" : "prediction"

    let t0 = DispatchTime.now().uptimeNanoseconds
    graphMilliseconds = Double(t0 - graphStart) / 1e6
    // weights and the observation are bound once per round: work on them alone is hoisted
    executable = try makeExecutable(stage.graph, engine: engine, options: stage.options)
    compileMilliseconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
    stats = (executable as? Program)?.stats
    // Bind what stays fixed for the whole round: weights and the observation.
    for (k, v) in try stage.boundInputs(problem) { try executable.setInput(k, v) }
  }

  private let observationValues: [Float]

  public subscript<T>(dynamicMember path: KeyPath<StageGraph, T>) -> T { stage[keyPath: path] }

  /// The validation split `settings` asks for on this problem (the same in every round, for
  /// the inverter, `render` and compiled artifacts alike).
  public static func holdout(_ problem: InversionProblem, _ settings: InversionSettings) throws -> Holdout? {
    guard let v = settings.validation else { return nil }
    return try Holdout(observationShape: problem.observation.shape, fraction: v.fraction, seed: v.seed,
                       observed: problem.mask?.values)
  }

  /// The mean squared error on the held-out measurements at the last run (nil without a split).
  public func validationError() throws -> Double? {
    guard let h = stage.holdout else { return nil }
    return h.error(try executable.output(validationOutput).values, observationValues)
  }

  /// The data part of the loss (what "best iterate" minimizes): the weighted MSE, LPIPS
  /// and dead-zone terms, without the regularizers.
  public func dataLoss() throws -> Float {
    var total: Float = 0
    let weights = stage.weights
    if weights.mse > 0 { total += weights.mse * (try executable.output(LossOutput.mse).values[0]) }
    if weights.perceptual > 0 { total += weights.perceptual * (try executable.output(LossOutput.perceptual).values[0]) }
    if weights.deadZone > 0 { total += weights.deadZone * (try executable.output(LossOutput.deadZone).values[0]) }
    return total
  }

  /// Every loss term output, by name.
  public func lossTerms() throws -> [String: Float] {
    var out: [String: Float] = [:]
    for o in stage.graph.outputs where o.name.hasPrefix("loss") || o.name == "objective" {
      out[o.name] = try executable.output(o.name).values[0]
    }
    return out
  }
}

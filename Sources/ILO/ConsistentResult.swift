import GraphIR
import Inversion
import Runtime

/// The last stage of a run: the data-consistency step on every round's image
/// (`DataConsistency`, noise-free linear tasks), then the answer: one round, or the mean of
/// the rounds (from `meanFirstRound` on).
///
/// Why a mean (super-resolution's default): after the step the rounds agree on everything the
/// observation determines and differ only in what the generator invents in the null space
/// (detail a 4x downsampling cannot see); their mean keeps what they agree on and averages the
/// rest out. On the project's faces it scores above every single round, which the validation
/// split cannot pick reliably: held-out low-resolution pixels judge the range of A, not the
/// invented detail (docs/quality.md).
///
/// One round is chosen, with a validation split and the step, by the held-out error of each
/// round's image made consistent with the training measurements only (data neither the loss
/// nor the step saw); without the step, by the validation error of the rounds' best iterates;
/// without a split, the last round is kept.
extension Inverter {
  func finishedResult(_ progress: RunProgress) throws -> InversionResult {
    var result = try progress.result()
    let task = problem.forward.task
    let step = settings.consistencyApplies(to: task) ? try consistencyStep() : nil
    let raw = progress.roundImages
    var chosen = [result.selectedRound]
    if let step, let split = try StageProgram.holdout(problem, settings) {
      chosen = [try chooseRound(raw, step, split, &result)]
    }
    if let rounds = settings.meanRounds(for: task, count: raw.count) {
      chosen = Array(rounds)
      result.selection = "the mean of rounds \(rounds.lowerBound + 1)-\(raw.count) (super-resolution's default; "
        + "--mean-of-rounds off for one round)"
    }
    let images = try step.map { s in try raw.map { try s.project($0) } } ?? raw
    result.roundImages = images
    result.image = Self.mean(chosen.map { images[$0] })
    result.selectedRound = chosen.last!
    result.state = progress.roundStates[chosen.last!]
    if chosen.count > 1 { result.combinedRounds = chosen }
    result.prediction = try step?.apply(result.image) ?? Self.mean(chosen.map { progress.roundPredictions[$0] })
    if let step {
      result.generatorImage = Self.mean(chosen.map { raw[$0] })
      result.generatorRoundImages = raw
      result.consistency = try step.report(before: result.generatorImage!, after: result.image)
    }
    return result
  }

  /// The round whose image, made consistent with the training measurements only, has the
  /// lowest error on the held-out ones; records each round's error and the reason in `result`.
  func chooseRound(_ raw: [HostTensor<Float>], _ step: DataConsistency, _ split: Holdout,
                   _ result: inout InversionResult) throws -> Int {
    let errors = try raw.map { image in
      let trained = try step.project(image, keep: split.trainMask)
      return split.error(try step.apply(trained).values, problem.observation.values)
    }
    for k in raw.indices { result.rounds[k].consistentValidationError = errors[k] }
    let best = errors.indices.min { errors[$0] < errors[$1] }!
    result.selection = "round \(best + 1): lowest validation error after data consistency "
      + String(format: "%.6g", errors[best]) + " of " + errors.map { String(format: "%.6g", $0) }.joined(separator: ", ")
    return best
  }

  /// The data-consistency step of this problem, built (compiled) once per inverter and shared by
  /// every run of an ensemble.
  func consistencyStep() throws -> DataConsistency {
    if let step = consistency { return step }
    let step = try DataConsistency(problem.forward, observation: problem.observation, size: problem.generator.imageSize)
    consistency = step
    return step
  }

  /// The element-wise mean of equally shaped images.
  static func mean(_ images: [HostTensor<Float>]) -> HostTensor<Float> {
    guard images.count > 1 else { return images[0] }
    var sum = [Double](repeating: 0, count: images[0].count)
    for img in images { for i in sum.indices { sum[i] += Double(img.values[i]) } }
    return HostTensor(shape: images[0].shape, values: sum.map { Float($0 / Double(images.count)) })
  }
}

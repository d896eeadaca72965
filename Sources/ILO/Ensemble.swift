import Inversion
import Runtime

/// What one run of an ensemble reached (report.json's `members`).
public struct MemberReport: Codable, Sendable {
  public var seed: UInt64
  public var selectedRound: Int
  public var selection: String
  /// The data loss (the fit to the observation, without the regularizer) of the run's selected
  /// round at its best step (its last round when its answer combines rounds): how well this
  /// run explains the measurements.
  public var dataLoss: Double?
  /// Each start of this run's first round (nil with one start), as report.json's `restarts`
  /// gives them for the first run.
  public var starts: [StartReport]?
  /// Metrics of this run's own result (filled in by the caller, which knows the truth).
  public var metrics: [String: Double] = [:]
}

/// An ensemble: `members` complete, independent runs from different seeds, averaged.
///
/// Why: where the observation leaves much of the image open (4x super-resolution sees one
/// pixel in sixteen), each run invents different detail; the answer with the least expected
/// squared error is the mean of the plausible answers (the posterior mean), and averaging a
/// few runs approaches it. Each run is data-consistent, and so is their mean (the observation
/// is a linear constraint). On the project's faces two runs gained 0.4 dB over one and made
/// the result far less dependent on the seed (docs/quality.md).
extension Inverter {
  func runEnsemble(_ members: Int) throws -> InversionResult {
    var runs: [InversionResult] = [], seeds: [UInt64] = [], interrupted = false
    for k in 0..<members {
      let seed = Self.memberSeed(settings.seed, k)
      observer?.memberStarted(k, of: members, seed: seed)
      let run = try runOnce(seed: seed)
      interrupted = interrupted || run.interrupted
      if run.interrupted && k > 0 { break }  // an unfinished run would pull the mean down
      runs.append(run); seeds.append(seed)
      if interrupted || Self.interruptRequested.isSet { interrupted = true; break }
    }
    var result = runs[0]
    result.members = zip(runs, seeds).map {
      MemberReport(seed: $1, selectedRound: $0.selectedRound + 1, selection: $0.selection,
                   dataLoss: Self.selectedDataLoss($0), starts: $0.starts.isEmpty ? nil : $0.starts)
    }
    result.memberImages = runs.map(\.image)
    result.interrupted = interrupted
    guard runs.count > 1 else { return result }
    result.image = Self.mean(runs.map(\.image))
    result.prediction = Self.mean(runs.map(\.prediction))  // A is linear
    let roundCounts = Set(runs.map(\.roundImages.count))
    if roundCounts.count == 1 {
      result.ensembleRoundImages = (0..<roundCounts.first!).map { r in Self.mean(runs.map { $0.roundImages[r] }) }
    }
    if runs.allSatisfy({ $0.generatorImage != nil }) {
      result.generatorImage = Self.mean(runs.map { $0.generatorImage! })
      result.consistency = try consistencyStep().report(before: result.generatorImage!, after: result.image)
    }
    result.selection = "the mean of \(runs.count) runs (seeds \(seeds.map(String.init).joined(separator: ", "))); "
      + "each run: " + runs.map(\.selection).joined(separator: " | ")
    return result
  }

  /// The data loss of the round a run selected (its last round if the index is not a round's).
  static func selectedDataLoss(_ run: InversionResult) -> Double? {
    let r = run.rounds.indices.contains(run.selectedRound) ? run.rounds[run.selectedRound] : run.rounds.last
    return r.map { Double($0.bestDataLoss) }
  }

  /// The seed of run k: the settings' seed for the first, well-separated ones after it.
  static func memberSeed(_ seed: UInt64, _ k: Int) -> UInt64 { seed &+ UInt64(k) &* 0xD1B5_4A32_D192_ED03 }
}

/// Decides when an ILO round ends (spec §2 step 6): after a fixed number of steps, or
/// automatically when the loss has flattened, i.e. the best loss so far improved by less than
/// a relative `threshold` over the last `window` steps:
///   (best[t − W] − best[t]) / |best[t − W]| < threshold,
/// checked once at least `minSteps` steps (and more than W) have been taken, with `maxSteps` as
/// a hard budget. `record` returns why the round ends, or nil to continue. The best-loss history
/// is a ring buffer allocated once.
///
/// The first `ignoredSteps` losses do not enter the best loss: an ILO round's step 0 evaluates
/// the previous round's best iterate, and the loss jumps up once a new layer starts moving, so a
/// best that included step 0 would not improve for many steps and end the round before it
/// started. Flatness is then measured from the round's own trajectory.
public struct FlatteningDetector: Sendable {
  public let window: Int
  public let threshold: Double
  public let minSteps: Int
  public let maxSteps: Int
  /// Leading losses left out of the best loss (1 in ILO rounds: the carried-over start).
  public let ignoredSteps: Int
  /// Steps recorded so far in this round.
  public private(set) var steps = 0
  public private(set) var best = Double.infinity
  private var history: [Double]

  /// Automatic switching. window ≥ 1, threshold ≥ 0, 1 ≤ minSteps ≤ maxSteps.
  public init(window: Int, threshold: Double, minSteps: Int, maxSteps: Int, ignoredSteps: Int = 0) throws {
    guard window >= 1 else { throw InversionError("switching: window must be at least 1 step, got \(window)") }
    guard threshold.isFinite, threshold >= 0 else { throw InversionError("switching: threshold must be finite and non-negative, got \(threshold)") }
    guard minSteps >= 1, minSteps <= maxSteps else {
      throw InversionError("switching: need 1 <= min steps (\(minSteps)) <= max steps (\(maxSteps))")
    }
    guard ignoredSteps >= 0 else { throw InversionError("switching: ignored steps must be non-negative") }
    self.window = window; self.threshold = threshold; self.minSteps = minSteps; self.maxSteps = maxSteps
    self.ignoredSteps = ignoredSteps
    history = [Double](repeating: .infinity, count: window + 1)
  }

  /// A fixed step count (never detects flattening).
  public init(fixedSteps: Int) throws {
    guard fixedSteps >= 1 else { throw InversionError("switching: a round needs at least 1 step, got \(fixedSteps)") }
    try self.init(window: 1, threshold: 0, minSteps: fixedSteps, maxSteps: fixedSteps)
  }

  public var isFixed: Bool { threshold == 0 && minSteps == maxSteps }

  /// Starts a new round.
  public mutating func reset() {
    steps = 0; best = .infinity
    history.withUnsafeMutableBufferPointer { $0.update(repeating: .infinity) }
  }

  /// Records the loss of the step just taken; returns the reason to switch now, or nil.
  public mutating func record(loss: Float) -> SwitchReason? {
    if loss.isFinite && steps >= ignoredSteps { best = Swift.min(best, Double(loss)) }
    history[steps % (window + 1)] = best
    steps += 1
    if !isFixed, steps >= minSteps, steps > window + ignoredSteps {
      let before = history[(steps - 1 - window) % (window + 1)]
      if before.isFinite {
        let rel = before == 0 ? 0 : (before - best) / Swift.abs(before)
        if rel < threshold {
          return .flattened(step: steps, relativeImprovement: rel, window: window, threshold: threshold)
        }
      }
    }
    if steps >= maxSteps { return isFixed ? .fixedSteps(steps) : .budgetExhausted(steps: steps) }
    return nil
  }
}

/// Why a round ended (reported per round).
public enum SwitchReason: Equatable, Sendable, CustomStringConvertible {
  case fixedSteps(Int)
  case flattened(step: Int, relativeImprovement: Double, window: Int, threshold: Double)
  case budgetExhausted(steps: Int)

  public var description: String {
    switch self {
    case .fixedSteps(let n): return "fixed budget of \(n) steps done"
    case .flattened(let s, let rel, let w, let th):
      return "loss flattened after \(s) steps: best loss improved \(percent(rel)) over the last \(w) steps (threshold \(percent(th)))"
    case .budgetExhausted(let n): return "step budget of \(n) reached before the loss flattened"
    }
  }
}

private func percent(_ x: Double) -> String {
  let v = (x * 100 * 1000).rounded() / 1000
  return "\(v)%"
}

import Foundation

/// Learning-rate schedules, as multipliers of the base rate at step t of T (t = 0..T−1; step t
/// uses the rate computed before its update).
public enum LearningRateSchedule: String, Equatable, Sendable, CaseIterable {
  /// The base rate at every step.
  case constant
  /// ILO's ramp (reference-code §A, from StyleGAN's projector), with p = t/T:
  /// `(0.5 − 0.5·cos(π·min(1, (1−p)/0.75))) · min(1, p/0.05)`: 0 at t = 0, linear ramp-up over
  /// the first 5 %, flat until 25 %, then a cosine decay toward 0 at p = 1.
  /// (The reference's `lr_same_pace` variant is this with t and T summed over all rounds.)
  case iloRamp = "ilo"
  /// PULSE's `linear1cycledrop` (reference-code §E): a triangle from 0.1 up to 1 at 45 % and back
  /// to 0.1 at 90 % of the steps, `(9·(1 − 2·|t/(0.9T) − ½|) + 1)/10`, then a linear drop from
  /// 0.1 to 0.001 over the last 10 %.
  case pulseOneCycle = "pulse"

  public func multiplier(step t: Int, total T: Int) -> Double {
    guard T > 0 else { return 0 }
    let (x, n) = (Double(t), Double(T))
    switch self {
    case .constant: return 1
    case .iloRamp:
      let p = x / n
      let down = 0.5 - 0.5 * cos(Double.pi * Swift.min(1, (1 - p) / 0.75))
      return down * Swift.min(1, p / 0.05)
    case .pulseOneCycle:
      if x < 0.9 * n { return (9 * (1 - Swift.abs(x / (0.9 * n) - 0.5) * 2) + 1) / 10 }
      return 0.1 + (x - 0.9 * n) / (0.1 * n) * (0.001 - 0.1)
    }
  }

  public func learningRate(base: Float, step t: Int, total T: Int) -> Float {
    Float(Double(base) * multiplier(step: t, total: T))
  }
}

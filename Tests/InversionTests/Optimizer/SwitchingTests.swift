import Foundation
import Testing
@testable import Inversion

@Suite struct BestIterateTests {
  @Test func keepsTheLowestFiniteLossAndItsState() {
    var best = BestIterate(sizes: [2, 1])
    let losses: [Float] = [3, 2, .nan, 2.5, 1, .infinity, 1]
    var improved: [Int] = []
    for (t, l) in losses.enumerated() where best.offer(loss: l, step: t) {
      improved.append(t)
      best.capture(0, from: [Float(t), -Float(t)])
      best.capture(1, from: [l])
    }
    #expect(improved == [0, 1, 4])
    #expect(best.loss == 1 && best.step == 4 && best.snapshots == [[4, -4], [1]])
    best.reset()
    #expect(best.step == nil && best.offer(loss: 9, step: 0))
  }
}

@Suite struct FlatteningDetectorTests {
  /// Runs a detector on a loss curve until it asks to switch.
  static func run(_ d: FlatteningDetector, _ curve: (Int) -> Float) -> SwitchReason {
    var d = d
    var t = 0
    while true {
      if let r = d.record(loss: curve(t)) { return r }
      t += 1
    }
  }

  @Test func switchesWhenTheBestLossStopsImproving() throws {
    // Decreasing until t = 30, rising afterwards: the best is constant from step 31 on, so the
    // improvement over W = 10 steps is 0 once t − W ≥ 30, i.e. after 41 steps.
    let d = try FlatteningDetector(window: 10, threshold: 1e-3, minSteps: 5, maxSteps: 500)
    let r = Self.run(d) { t in t <= 30 ? Float(100 - 3 * t) : Float(10 + t) }
    #expect(r == .flattened(step: 41, relativeImprovement: 0, window: 10, threshold: 1e-3))
    #expect(r.description.contains("flattened after 41 steps"))
  }

  @Test func exponentialPlateauSwitchesAtThePredictedStep() throws {
    // L(t) = 1 + e^{−t/10}: first step count s > W with (L(s−1−W) − L(s−1))/L(s−1−W) < 1e-3.
    let curve: (Int) -> Float = { 1 + Float(Foundation.exp(-Double($0) / 10)) }
    let (w, th) = (20, 1e-3)
    var expected = 0
    for s in (w + 1)... {
      let (a, b) = (Double(curve(s - 1 - w)), Double(curve(s - 1)))
      if (a - b) / a < th { expected = s; break }
    }
    let r = Self.run(try FlatteningDetector(window: w, threshold: th, minSteps: 1, maxSteps: 1000), curve)
    guard case .flattened(let step, let rel, _, _) = r else { Issue.record("\(r)"); return }
    #expect(step == expected && rel < th && expected > 60)
  }

  @Test func budgetAndMinimumSteps() throws {
    let steady = try FlatteningDetector(window: 5, threshold: 1e-4, minSteps: 1, maxSteps: 80)
    #expect(Self.run(steady) { Float(1000 - $0) } == .budgetExhausted(steps: 80))
    // A flat curve would switch after W + 1 steps, but not before minSteps.
    let patient = try FlatteningDetector(window: 5, threshold: 1e-4, minSteps: 50, maxSteps: 80)
    guard case .flattened(let s, _, _, _) = Self.run(patient, { _ in 1 }) else { Issue.record("no flattening"); return }
    #expect(s == 50)
    let fixed = try FlatteningDetector(fixedSteps: 25)
    #expect(Self.run(fixed) { _ in 1 } == .fixedSteps(25))
    // NaN losses do not reset the best loss.
    let nan = try FlatteningDetector(window: 3, threshold: 1e-3, minSteps: 1, maxSteps: 100)
    guard case .flattened(let s2, _, _, _) = Self.run(nan, { $0 < 5 ? Float(10 - $0) : .nan }) else { Issue.record("no flattening"); return }
    #expect(s2 == 8)
  }

  @Test func resetStartsANewRound() throws {
    var d = try FlatteningDetector(window: 2, threshold: 0.5, minSteps: 1, maxSteps: 10)
    #expect(d.record(loss: 1) == nil && d.record(loss: 1) == nil)
    #expect(d.record(loss: 1) != nil)
    d.reset()
    #expect(d.steps == 0 && d.record(loss: 5) == nil)
  }

  @Test func invalidSettings() {
    #expect(throws: InversionError.self) { try FlatteningDetector(window: 0, threshold: 0.1, minSteps: 1, maxSteps: 2) }
    #expect(throws: InversionError.self) { try FlatteningDetector(window: 2, threshold: -1, minSteps: 1, maxSteps: 2) }
    #expect(throws: InversionError.self) { try FlatteningDetector(window: 2, threshold: 0.1, minSteps: 3, maxSteps: 2) }
    #expect(throws: InversionError.self) { try FlatteningDetector(fixedSteps: 0) }
  }
}

@Suite struct RoundStartTests {
  /// An ILO round starts at the previous round's best (step 0), then the loss jumps up when the
  /// new layer moves and falls slowly. Ignoring step 0, the round runs on while it improves.
  @Test func theCarriedOverStartDoesNotEndTheRound() throws {
    let curve: (Int) -> Float = { $0 == 0 ? 0.1 : 1 * Float(Foundation.pow(0.98, Double($0))) }
    let measured = try FlatteningDetector(window: 10, threshold: 1e-3, minSteps: 20, maxSteps: 60, ignoredSteps: 1)
    #expect(FlatteningDetectorTests.run(measured, curve) == .budgetExhausted(steps: 60))
    // with step 0 in the best loss, the round would end at the first check
    let carried = try FlatteningDetector(window: 10, threshold: 1e-3, minSteps: 10, maxSteps: 60)
    guard case .flattened(let s, _, _, _) = FlatteningDetectorTests.run(carried, curve) else { Issue.record("no stop"); return }
    #expect(s == 11)
  }
}

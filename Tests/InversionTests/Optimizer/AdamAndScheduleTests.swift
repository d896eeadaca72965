import Foundation
import Testing
@testable import Inversion

@Suite struct AdamTests {
  /// Two steps worked by hand: p0 = 1, g = 0.5 then −0.2, lr 0.1.
  /// Step 1: m = 0.05, v = 0.00025, p = 1 − (0.1/0.1)·0.05/(√(0.00025/0.001) + 1e-8) = 0.900000002.
  /// Step 2: m = 0.025, v = 0.00028975, denominator √(v/0.001999) + 1e-8 = 0.3807196887,
  /// p = 0.900000002 − (0.1/0.19)·0.025/0.3807196887 = 0.8654394181.
  @Test func twoStepsByHand() {
    var adam = Adam(count: 1)
    var p: [Float] = [1]
    adam.update(&p, gradient: [0.5], learningRate: 0.1)
    #expect(Swift.abs(Double(p[0]) - 0.900000002) < 1e-7)
    #expect(Swift.abs(Double(adam.firstMoment[0]) - 0.05) < 1e-8 && Swift.abs(Double(adam.secondMoment[0]) - 0.00025) < 1e-10)
    adam.update(&p, gradient: [-0.2], learningRate: 0.1)
    #expect(Swift.abs(Double(p[0]) - 0.8654394181) < 1e-6)
    #expect(adam.step == 2)
    adam.reset()
    #expect(adam.step == 0 && adam.firstMoment == [0] && adam.secondMoment == [0])
  }

  /// Against torch.optim.Adam (float32) with a learning rate changed between steps.
  @Test func matchesPyTorch() {
    let c = Goldens.shared.adam
    var adam = Adam(count: c.initial.count)
    var p = c.initial
    for (k, (g, lr)) in zip(c.grads, c.lrs).enumerated() {
      adam.update(&p, gradient: g, learningRate: lr)
      #expect(relativeError(p, c.params[k]) < 1e-7, "step \(k)")
    }
  }

  @Test func zeroLearningRateStillUpdatesTheMoments() {
    var adam = Adam(count: 2)
    var p: [Float] = [1, 2]
    adam.update(&p, gradient: [1, -1], learningRate: 0)
    #expect(p == [1, 2] && adam.firstMoment.map { Swift.abs($0) }.allSatisfy { Swift.abs($0 - 0.1) < 1e-7 })
  }
}

@Suite struct ScheduleTests {
  @Test func iloRampValues() {
    let s = LearningRateSchedule.iloRamp
    let expected: [(Int, Double)] = [
      (0, 0), (1, 0.2), (5, 1), (25, 1), (50, 0.75),  // 0.5 − 0.5·cos(2π/3)
      (99, sin(Double.pi / 150) * sin(Double.pi / 150)),  // 0.5 − 0.5·cos(π/75)
    ]
    for (t, m) in expected { #expect(Swift.abs(s.multiplier(step: t, total: 100) - m) < 1e-12, "t = \(t)") }
    #expect(Swift.abs(Double(s.learningRate(base: 0.1, step: 50, total: 100)) - 0.075) < 1e-8)
    // Monotone: up over [0, 5 %], flat to 25 %, down after.
    let v = (0..<200).map { s.multiplier(step: $0, total: 200) }
    #expect(zip(v, v.dropFirst()).prefix(10).allSatisfy { $0 < $1 })
    #expect(v[10...50].allSatisfy { $0 == 1 })
    #expect(zip(v[50...], v[51...]).allSatisfy { $0 > $1 })
  }

  @Test func pulseOneCycleValues() {
    let s = LearningRateSchedule.pulseOneCycle
    for (t, m) in [(0, 0.1), (18, 0.46), (45, 1.0), (72, 0.46), (90, 0.1), (95, 0.0505), (99, 0.1 - 0.9 * 0.099)] {
      #expect(Swift.abs(s.multiplier(step: t, total: 100) - m) < 1e-12, "t = \(t)")
    }
    #expect(LearningRateSchedule.constant.multiplier(step: 7, total: 10) == 1)
  }
}

import Foundation
import GraphIR
import ILO
import Inversion
import Runtime
import Testing

/// The data-consistency step against closed forms computed here in double precision, and the
/// result rules built on it (the consistent validation choice, the mean of rounds, ensembles).
@Suite struct DataConsistencyTests {
  /// Deterministic values in [-a, a].
  static func values(_ n: Int, seed: UInt64, amplitude a: Double = 0.3) -> [Float] {
    var state = seed
    return (0..<n).map { _ in
      state = state &* 6364136223846793005 &+ 1442695040888963407
      return Float((Double(state >> 11) / Double(1 << 53) * 2 - 1) * a)
    }
  }

  /// Solves M u = b (M n x n, row-major) by Gaussian elimination with partial pivoting.
  static func solve(_ m: [Double], _ b: [Double]) -> [Double] {
    let n = b.count
    var a = m, x = b
    for c in 0..<n {
      let p = (c..<n).max { Swift.abs(a[$0 * n + c]) < Swift.abs(a[$1 * n + c]) }!
      for j in 0..<n { a.swapAt(c * n + j, p * n + j) }
      x.swapAt(c, p)
      for r in (c + 1)..<n {
        let f = a[r * n + c] / a[c * n + c]
        for j in c..<n { a[r * n + j] -= f * a[c * n + j] }
        x[r] -= f * x[c]
      }
    }
    for c in stride(from: n - 1, through: 0, by: -1) {
      var s = x[c]
      for j in (c + 1)..<n { s -= a[c * n + j] * x[j] }
      x[c] = s / a[c * n + c]
    }
    return x
  }

  /// The 1-D bicubic downsampling matrix (S/f x S) written from the operator's definition:
  /// Keys cubic (a = -0.5) taps at (i - 2f + 0.5)/f, normalized, stride f, reflect padding ⌊3f/2⌋.
  static func downsampling(size s: Int, factor f: Int) -> [[Double]] {
    func cubic(_ x: Double) -> Double {
      let t = Swift.abs(x), a = -0.5
      if t <= 1 { return (a + 2) * t * t * t - (a + 3) * t * t + 1 }
      return t < 2 ? a * t * t * t - 5 * a * t * t + 8 * a * t - 4 * a : 0
    }
    let taps = (0..<4 * f).map { cubic((Double($0 - 2 * f) + 0.5) / Double(f)) }
    let total = taps.reduce(0, +)
    var d = [[Double]](repeating: [Double](repeating: 0, count: s), count: s / f)
    for o in 0..<s / f {
      for (t, w) in taps.enumerated() {
        var i = o * f + t - 3 * f / 2
        if i < 0 { i = -i }
        if i >= s { i = 2 * (s - 1) - i }
        d[o][i] += w / total
      }
    }
    return d
  }

  @Test func superResolutionMatchesTheSeparablePseudoInverse() throws {
    let (s, f) = (16, 4), n = s / f
    let op = try BicubicDownsampler(factor: f)
    let x = HostTensor(shape: [1, 3, s, s], values: Self.values(3 * s * s, seed: 1))
    let y = HostTensor(shape: [1, 3, n, n], values: Self.values(3 * n * n, seed: 2))
    let got = try DataConsistency(op, observation: y, size: s).project(x)
    // x' = x + D⁺ (Y − D X Dᵀ) D⁺ᵀ per channel, D⁺ = Dᵀ (D Dᵀ)⁻¹
    let d = Self.downsampling(size: s, factor: f)
    let ddt = (0..<n * n).map { k in (0..<s).reduce(0.0) { $0 + d[k / n][$1] * d[k % n][$1] } }
    let pinv = (0..<s).map { i in  // row i of D⁺: solve (D Dᵀ) v = D[:, i] (D Dᵀ is symmetric)
      Self.solve(ddt, (0..<n).map { d[$0][i] })
    }
    for c in 0..<3 {
      func xv(_ i: Int, _ j: Int) -> Double { Double(x.values[(c * s + i) * s + j]) }
      var r = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
      for a in 0..<n { for b in 0..<n {
        var dx = 0.0
        for i in 0..<s { for j in 0..<s { dx += d[a][i] * xv(i, j) * d[b][j] } }
        r[a][b] = Double(y.values[(c * n + a) * n + b]) - dx
      } }
      for i in 0..<s { for j in 0..<s {
        var corr = 0.0
        for a in 0..<n { for b in 0..<n { corr += pinv[i][a] * r[a][b] * pinv[j][b] } }
        let v = Double(got.values[(c * s + i) * s + j])
        #expect(Swift.abs(v - (xv(i, j) + corr)) < 1e-4, "channel \(c) pixel (\(i), \(j))")
      } }
    }
  }

  @Test func colorizationReplacesTheLuma() throws {
    let s = 8
    let x = HostTensor(shape: [1, 3, s, s], values: Self.values(3 * s * s, seed: 3))
    let gray = Self.values(s * s, seed: 4)
    let y = HostTensor(shape: [1, 3, s, s], values: gray + gray + gray)
    let got = try DataConsistency(Colorizer(), observation: y, size: s).project(x)
    let w = Colorizer.weights.map(Double.init), norm = w.reduce(0) { $0 + $1 * $1 }
    for p in 0..<s * s {
      let luma = (0..<3).reduce(0.0) { $0 + w[$1] * Double(x.values[$1 * s * s + p]) }
      for c in 0..<3 {
        let expected = Double(x.values[c * s * s + p]) + w[c] * (Double(gray[p]) - luma) / norm
        #expect(Swift.abs(Double(got.values[c * s * s + p]) - expected) < 1e-5)
      }
    }
  }

  @Test func gaussianSensingIsTheMinimumNormCorrection() throws {
    let s = 4, m = 20, len = 3 * s * s
    let op = try GaussianSensing(imageSize: s, measurements: m, seed: 5)
    let x = HostTensor(shape: [1, 3, s, s], values: Self.values(len, seed: 6, amplitude: 0.2))
    let y = HostTensor(shape: [1, m], values: Self.values(m, seed: 7, amplitude: 0.2))
    let got = try DataConsistency(op, observation: y, size: s).project(x)
    let a = (0..<m).map { i in (0..<len).map { Double(op.entry(i, $0)) } }
    let r = (0..<m).map { i in Double(y.values[i]) - (0..<len).reduce(0.0) { $0 + a[i][$1] * Double(x.values[$1]) } }
    let aat = (0..<m * m).map { k in (0..<len).reduce(0.0) { $0 + a[k / m][$1] * a[k % m][$1] } }
    let u = Self.solve(aat, r)
    for j in 0..<len {
      let expected = Double(x.values[j]) + (0..<m).reduce(0.0) { $0 + a[$1][j] * u[$1] }
      #expect(Swift.abs(Double(got.values[j]) - expected) < 1e-4, "element \(j)")
    }
  }

  @Test func aKeepMaskLeavesTheOtherMeasurementsOut() throws {
    let s = 8
    let mask = try InpaintMask(keepProbability: 0.5, seed: 2, height: s, width: s)
    let x = HostTensor(shape: [1, 3, s, s], values: Self.values(3 * s * s, seed: 8))
    let y = HostTensor(shape: [1, 3, s, s], values: Self.values(3 * s * s, seed: 9).enumerated().map {
      $1 * mask.values[$0 % (s * s)]
    })
    let keep = (0..<3 * s * s).map { Float(($0 / 3) % 2) }
    let got = try DataConsistency(mask, observation: y, size: s).project(x, keep: keep)
    for i in 0..<3 * s * s {
      let pasted = mask.values[i % (s * s)] == 1 && keep[i] == 1
      #expect(Swift.abs(got.values[i] - (pasted ? y.values[i] : x.values[i])) < 1e-6, "element \(i)")
    }
  }

  @Test func denoisingHasNoConsistencyStep() throws {
    let y = HostTensor<Float>(zeros: [1, 3, 8, 8])
    #expect(throws: InversionError.self) { try DataConsistency(try NoiseAddition(sigma: 0.1, seed: 1), observation: y, size: 8) }
  }
}

/// The result rules: with the step and a split, the round with the lowest held-out error after
/// the step; the mean of the feature-map rounds; an ensemble of runs.
@Suite struct ResultRuleTests {
  static func settings() -> InversionSettings {
    var s = InversionSettings()
    s.rounds = [.fixed(4), .fixed(3), .fixed(3)]
    s.ensemble = 1
    return s
  }

  @Test func theConsistentValidationErrorChoosesTheRound() throws {
    var s = Self.settings()
    s.validation = ValidationSettings(fraction: 0.2, seed: 3)
    let p = try InversionMechanicsTests.problem(try TestModels.styleGAN2())
    let (r, _) = try QualityTests.run(p, s)
    let errors = r.rounds.map { $0.consistentValidationError! }
    #expect(r.selectedRound == errors.firstIndex(of: errors.min()!)!)
    #expect(r.image.values == r.roundImages[r.selectedRound].values)
    #expect(r.selection.contains("after data consistency"))
    // observed pixels are the observation's (where it lies in the image range: the step clips)
    let mask = (p.forward as! InpaintMask).values, y = p.observation.values
    let off = r.image.values.indices.filter { mask[$0 % 1024] == 1 && Swift.abs(y[$0]) <= 1 && Swift.abs(r.image.values[$0] - y[$0]) > 1e-5 }
    #expect(off.isEmpty, "\(off.count) observed values differ")
  }

  @Test func theMeanOfRoundsAveragesEveryRoundOrFromTheGivenOne() throws {
    var s = Self.settings()
    s.meanOfRounds = true
    let p = try InversionMechanicsTests.problem(try TestModels.styleGAN2())
    let (all, _) = try QualityTests.run(p, s)
    #expect(all.combinedRounds == [0, 1, 2])
    #expect(all.selection.hasPrefix("the mean of rounds 1-3"))
    for i in all.image.values.indices {
      let mean = all.roundImages.reduce(Float(0)) { $0 + $1.values[i] } / 3
      #expect(Swift.abs(all.image.values[i] - mean) < 1e-6)
    }
    s.meanFirstRound = 2
    let (r, _) = try QualityTests.run(p, s)
    #expect(r.combinedRounds == [1, 2])
    #expect(r.roundImages.map(\.values) == all.roundImages.map(\.values))  // the same rounds, averaged otherwise
    for i in r.image.values.indices {
      #expect(Swift.abs(r.image.values[i] - (r.roundImages[1].values[i] + r.roundImages[2].values[i]) / 2) < 1e-6)
    }
  }

  @Test func theMeansFirstRoundIsResolvedAndChecked() throws {
    var s = Self.settings()
    #expect(s.resolved(for: .superres).meanFirstRound == 1)
    #expect(s.meanRounds(for: .superres, count: 3) == 0..<3)
    #expect(s.meanRounds(for: .inpaint, count: 3) == nil)  // one round elsewhere unless asked
    #expect(s.meanRounds(for: .superres, count: 2) == nil)  // a mean needs two feature-map rounds
    s.meanFirstRound = 3
    #expect(throws: InversionError.self) { try s.validate(maxRounds: 5) }  // 3 rounds: 1...2
    s.meanFirstRound = 0
    #expect(throws: InversionError.self) { try s.validateValues() }
    s.meanFirstRound = 2
    try s.validate(maxRounds: 5)
    #expect(s.resolved(for: .superres).meanFirstRound == 2)
  }

  @Test func anEnsembleAveragesIndependentRuns() throws {
    var s = Self.settings()
    s.rounds = [.fixed(3), .fixed(2)]
    let p = try InversionMechanicsTests.problem(try TestModels.styleGAN2())
    let (single, _) = try QualityTests.run(p, s)
    s.ensemble = 3
    let (r, rec) = try QualityTests.run(p, s)
    #expect(rec.steps == 3 * (3 + 2))
    #expect(r.members.count == 3 && Set(r.members.map(\.seed)).count == 3)
    #expect(r.memberImages[0].values == single.image.values)  // the first run is the single run
    #expect(r.memberImages[1].values != single.image.values)
    // each member reports its own fit: the first one's is the single run's last-round loss
    #expect(r.members[0].dataLoss == single.rounds.last.map { Double($0.bestDataLoss) })
    #expect(r.members.allSatisfy { ($0.dataLoss ?? -1) >= 0 } && r.members[1].dataLoss != r.members[0].dataLoss)
    for i in r.image.values.indices {
      let mean = r.memberImages.reduce(Float(0)) { $0 + $1.values[i] } / 3
      #expect(Swift.abs(r.image.values[i] - mean) < 1e-6)
    }
    #expect(r.selection.hasPrefix("the mean of 3 runs"))
  }
}

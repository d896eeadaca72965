import Foundation
import GraphIR
import Testing
@testable import Inversion

@Suite struct SphereProjectionTests {
  @Test func restoresRoundStartNorms() throws {
    let start: [Float] = [3, 4, 0, 0, 1, 1, 1, 1, 1, 2, 2, 0]
    let sphere = try SphereProjection(reference: start, groupLength: 4)
    #expect(relativeError(sphere.radii, [5, 2, 3].map { ($0 * $0 + 1e-9).squareRoot() }) < 1e-7)
    var x: [Float] = [1, 1, 1, 1, 0, 0, 0, 5, -4, 0, 3, 0]
    let before = x
    sphere.project(&x)
    for k in 0..<3 {
      let g = x[4 * k..<4 * k + 4].map(Double.init), b = before[4 * k..<4 * k + 4].map(Double.init)
      let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot(), normB = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
      #expect(Swift.abs(norm - Double(sphere.radii[k])) < 1e-6)
      #expect(relativeError(g.map { $0 / norm }, b.map { $0 / normB }) < 1e-6)  // direction kept
    }
    #expect(throws: InversionError.self) { try SphereProjection(reference: start, groupLength: 5) }
  }
}

@Suite struct L1BallProjectionTests {
  /// θ with Σ max(|d| − θ, 0) = ε, by bisection in Double (an independent root finder).
  static func bisectionTheta(_ d: [Double], _ eps: Double) -> Double {
    var (lo, hi) = (0.0, d.map { Swift.abs($0) }.max()!)
    for _ in 0..<200 {
      let mid = (lo + hi) / 2
      if d.reduce(0, { $0 + Swift.max(Swift.abs($1) - mid, 0) }) > eps { lo = mid } else { hi = mid }
    }
    return (lo + hi) / 2
  }

  /// Duchi et al.'s sort-based θ as reference-code §A describes it.
  static func sortTheta(_ d: [Double], _ eps: Double) -> Double {
    let mu = d.map { Swift.abs($0) }.sorted(by: >)
    var c = 0.0, rho = 0, crho = 0.0
    for (j, m) in mu.enumerated() {
      c += m
      if m * Double(j + 1) > c - eps { rho = j + 1; crho = c }
    }
    return (crho - eps) / Double(rho)
  }

  /// The exact projection by brute force over the faces of the ball: for each support S and
  /// sign pattern s, the closest point of {Σ sᵢxᵢ = ε, xᵢ = 0 off S} is xₛ = vₛ − λs with
  /// λ = (Σ sᵢvᵢ − ε)/|S|; keep it when sᵢxᵢ ≥ 0; the answer is the nearest kept point.
  static func bruteForce(_ v: [Double], _ eps: Double) -> [Double] {
    if v.reduce(0, { $0 + Swift.abs($1) }) <= eps { return v }
    var best: [Double] = [], bestDist = Double.infinity
    var code = [Int](repeating: 0, count: v.count)  // 0: off the support, 1: +, 2: −
    func visit(_ i: Int) {
      if i == v.count {
        let s = code.map { $0 == 0 ? 0.0 : ($0 == 1 ? 1 : -1) }
        let k = s.filter { $0 != 0 }.count
        guard k > 0 else { return }
        let lambda = (zip(s, v).reduce(0) { $0 + $1.0 * $1.1 } - eps) / Double(k)
        let x = zip(s, v).map { $0.0 == 0 ? 0 : $0.1 - lambda * $0.0 }
        guard zip(s, x).allSatisfy({ $0.0 * $0.1 >= -1e-12 }) else { return }
        let dist = zip(x, v).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        if dist < bestDist { bestDist = dist; best = x }
        return
      }
      for c in 0..<3 { code[i] = c; visit(i + 1) }
    }
    visit(0)
    return best
  }

  @Test func smallVectorsMatchBruteForce() throws {
    var rng = SplitMix64(seed: 21)
    for trial in 0..<60 {
      let n = 1 + trial % 5
      let v = (0..<n).map { _ in Float(rng.normal() * 2) }
      let eps = Float(0.1 + 2 * rng.uniform())
      var p = L1BallProjection(try: eps, n)
      var x = v
      p.project(&x, center: [Float](repeating: 0, count: n))
      let truth = Self.bruteForce(v.map(Double.init), Double(eps))
      #expect(zip(x, truth).allSatisfy { Swift.abs(Double($0) - $1) < 1e-5 }, "v = \(v), eps = \(eps)")
    }
  }

  @Test func ballIdempotenceAndKKT() throws {
    var rng = SplitMix64(seed: 8)
    let (groups, n) = (3, 500)
    let center = (0..<groups * n).map { _ in Float(rng.normal()) }
    let v = center.map { $0 + Float(rng.normal() * 0.5) }
    let eps: Float = 40
    var p = try L1BallProjection(radius: eps, groupLength: n)
    var x = v
    p.project(&x, center: center)
    for k in 0..<groups {
      let r = k * n..<(k + 1) * n
      let d = r.map { Double(v[$0]) - Double(center[$0]) }
      let l1 = r.reduce(0.0) { $0 + Swift.abs(Double(x[$1]) - Double(center[$1])) }
      #expect(Swift.abs(l1 - Double(eps)) < 1e-3)  // on the boundary (it started outside)
      let theta = Self.bisectionTheta(d, Double(eps))
      #expect(Swift.abs(theta - Self.sortTheta(d, Double(eps))) < 1e-9)
      for (j, i) in r.enumerated() {
        let soft = (d[j] < 0 ? -1.0 : 1.0) * Swift.max(Swift.abs(d[j]) - theta, 0)
        #expect(Swift.abs(Double(x[i]) - (Double(center[i]) + soft)) < 1e-5)
      }
    }
    var twice = x
    p.project(&twice, center: center)
    #expect(relativeError(twice, x) < 1e-6)
    // Inside the ball: unchanged, bit for bit.
    var inside = center.enumerated().map { $0.element + ($0.offset % 50 == 0 ? 0.1 : 0) }
    let copy = inside
    p.project(&inside, center: center)
    #expect(inside == copy)
  }

  @Test func thresholdEqualsDuchiSortFormula() {
    var rng = SplitMix64(seed: 3)
    for _ in 0..<20 {
      let d = (0..<200).map { _ in rng.normal() }
      var a = d.map { Swift.abs($0) }
      let theta = a.withUnsafeMutableBufferPointer { L1BallProjection.threshold($0, radius: 25) }
      #expect(Swift.abs(theta - Self.sortTheta(d, 25)) < 1e-12)
    }
  }

  @Test func radiiValidation() throws {
    for bad: Float in [0, -1, .infinity, .nan] {
      #expect(throws: InversionError.self) { try L1BallProjection(radius: bad, groupLength: 4) }
    }
    let r = try RoundRadii([100, 1000, 6000, 6000], rounds: 4, name: "--radius-latent")
    #expect(r[0] == 100 && r[3] == 6000)
    #expect(try RoundRadii([5], rounds: 3, name: "x")[2] == 5)
    do {
      _ = try RoundRadii([100, 1000, 6000], rounds: 4, name: "--radius-latent")
      Issue.record("accepted 3 radii for 4 rounds")
    } catch {
      #expect("\(error)" == "--radius-latent has 3 values but there are 4 rounds (give 1 or 4)")
    }
    #expect(throws: InversionError.self) { try RoundRadii([1, -2], rounds: 2, name: "r") }
    #expect(throws: InversionError.self) { try RoundRadii([1, .nan], rounds: 2, name: "r") }
  }
}

extension L1BallProjection {
  init(try radius: Float, _ n: Int) { self = try! L1BallProjection(radius: radius, groupLength: n) }
}

/// Projection onto an l1 ball around a center (Duchi, Shalev-Shwartz, Singer, Chandra 2008;
/// reference-code §A): per group (a batch element's flattened tensor), with d = v − c,
/// if ‖d‖₁ ≤ ε nothing changes, else `v ← c + sign(d)·max(|d| − θ, 0)` with the θ > 0 for which
/// the result has l1 norm ε.
///
/// θ is found exactly without sorting by Michelot's active-set iteration (the fixed point of
/// θ = (Σ_{|dᵢ|>θ} |dᵢ| − ε)/#{|dᵢ| > θ}; each pass drops the entries ≤ θ, θ only grows), which
/// gives the same θ as Duchi's sort-based formula in expected near-linear time and in a scratch
/// buffer allocated once. Sums are in Double.
public struct L1BallProjection: Sendable {
  public let radius: Float
  public let groupLength: Int
  private var scratch: [Double]

  public init(radius: Float, groupLength: Int) throws {
    guard radius.isFinite, radius > 0 else { throw InversionError("l1 projection: radius must be positive and finite, got \(radius)") }
    guard groupLength > 0 else { throw InversionError("l1 projection: group length must be positive") }
    self.radius = radius; self.groupLength = groupLength
    scratch = [Double](repeating: 0, count: groupLength)
  }

  /// The threshold θ for the magnitudes `a` (all ≥ 0) and radius ε, or 0 when Σa ≤ ε.
  /// `a` is overwritten (used as the active set).
  static func threshold(_ a: UnsafeMutableBufferPointer<Double>, radius eps: Double) -> Double {
    var n = a.count
    var sum = 0.0
    for i in 0..<n { sum += a[i] }
    if sum <= eps { return 0 }
    var theta = (sum - eps) / Double(n)
    while true {
      var k = 0
      sum = 0
      for i in 0..<n where a[i] > theta { a[k] = a[i]; sum += a[i]; k += 1 }
      if k == 0 { return theta }  // only reachable through rounding
      let next = (sum - eps) / Double(k)
      if k == n || next <= theta { return Swift.max(next, theta) }
      n = k
      theta = next
    }
  }

  /// Projects each group of `values` onto the ball of radius ε around the same group of `center`.
  public mutating func project(_ values: UnsafeMutableBufferPointer<Float>, center: UnsafeBufferPointer<Float>) {
    precondition(values.count == center.count && values.count % groupLength == 0, "l1 projection: buffer sizes")
    let eps = Double(radius), n = groupLength
    scratch.withUnsafeMutableBufferPointer { a in
      for start in stride(from: 0, to: values.count, by: n) {
        for i in 0..<n { a[i] = Swift.abs(Double(values[start + i]) - Double(center[start + i])) }
        let theta = Self.threshold(a, radius: eps)
        if theta == 0 { continue }
        for i in start..<start + n {
          let d = Double(values[i]) - Double(center[i])
          let m = Swift.max(Swift.abs(d) - theta, 0)
          values[i] = Float(Double(center[i]) + (d < 0 ? -m : m))
        }
      }
    }
  }

  public mutating func project(_ values: inout [Float], center: [Float]) {
    center.withUnsafeBufferPointer { c in values.withUnsafeMutableBufferPointer { project($0, center: c) } }
  }
}

/// Per-round projection radii (e.g. `--radius-latent 100,1000,6000`), validated when read: one
/// value (used in every round) or exactly one per round, each positive and finite. The
/// reference indexes a 3-element list with a 4-round default and crashes (reference-code §H.5).
public struct RoundRadii: Equatable, Sendable {
  public let values: [Float]
  public let rounds: Int

  public init(_ values: [Float], rounds: Int, name: String) throws {
    guard rounds > 0 else { throw InversionError("\(name): there must be at least one round") }
    guard values.count == 1 || values.count == rounds else {
      throw InversionError("\(name) has \(values.count) values but there are \(rounds) rounds (give 1 or \(rounds))")
    }
    if let bad = values.first(where: { !$0.isFinite || $0 <= 0 }) {
      throw InversionError("\(name): radii must be positive and finite, got \(bad)")
    }
    self.values = values; self.rounds = rounds
  }

  public subscript(round: Int) -> Float { values.count == 1 ? values[0] : values[round] }
}

import GraphIR
import Foundation

/// Seeded randomness for operator data and noise, built on GraphIR's `SplitMix64`, with
/// fixed, documented formulas so masks, measurement matrices and noise draws are the same on
/// every machine and in every release.
public enum SeededStreams {
  /// The SplitMix64 output mixer (a bijection on 64-bit words with good avalanche).
  @inlinable public static func mix(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// The seed of sub-stream `index` of `seed`: `mix(seed ^ mix(index + 0x632BE59BD9B4E019))`.
  /// Sub-streams start at unrelated (hashed) states, so they do not overlap in practice, unlike
  /// seeds `seed + k` whose SplitMix64 sequences are shifts of one another.
  @inlinable public static func subSeed(_ seed: UInt64, _ index: UInt64) -> UInt64 {
    mix(seed ^ mix(index &+ 0x632B_E59B_D9B4_E019))
  }

  /// A generator for sub-stream `index` of `seed`.
  public static func generator(_ seed: UInt64, _ index: UInt64) -> SplitMix64 {
    SplitMix64(seed: subSeed(seed, index))
  }

  /// Fills `out` with N(0, 1) draws: Box–Muller on pairs of uniforms, using both the cosine and
  /// the sine output (element 2k gets r·cos θ, 2k+1 gets r·sin θ; an odd tail uses only cos).
  /// Uniforms are `rng.uniform()` (53 bits); u1 is clamped to 2^-60 so log never sees 0.
  public static func fillNormals(_ out: UnsafeMutableBufferPointer<Float>, _ rng: inout SplitMix64) {
    var i = 0
    let n = out.count
    while i < n {
      let u1 = Swift.max(rng.uniform(), 0x1.0p-60), u2 = rng.uniform()
      let r = (-2 * Foundation.log(u1)).squareRoot(), t = 2 * Double.pi * u2
      out[i] = Float(r * Foundation.cos(t))
      if i + 1 < n { out[i + 1] = Float(r * Foundation.sin(t)) }
      i += 2
    }
  }

  /// `n` N(0, 1) draws from `rng` (see `fillNormals`).
  public static func normals(_ n: Int, _ rng: inout SplitMix64) -> [Float] {
    var v = [Float](repeating: 0, count: n)
    v.withUnsafeMutableBufferPointer { fillNormals($0, &rng) }
    return v
  }

  /// A uniform integer in `0..<n` by the multiply-high method (bias below n/2^64, negligible).
  @inlinable public static func index(below n: Int, _ rng: inout SplitMix64) -> Int {
    Int(rng.next().multipliedFullWidth(by: UInt64(n)).high)
  }

  /// `m` distinct indices of `0..<n`, sorted ascending (a partial Fisher–Yates shuffle: step k
  /// swaps position k with a uniform position in k..<n; the first m positions are kept).
  public static func distinctIndices(_ m: Int, of n: Int, _ rng: inout SplitMix64) -> [Int] {
    precondition(m >= 0 && m <= n)
    var p = [Int32](unsafeUninitializedCapacity: n) { b, c in
      for i in 0..<n { b[i] = Int32(truncatingIfNeeded: i) }
      c = n
    }
    for k in 0..<m { p.swapAt(k, k + index(below: n - k, &rng)) }
    return p[0..<m].map { Int($0) }.sorted()
  }

  /// `n` Rademacher signs (±1, each with probability ½, from the top bit of each draw).
  public static func signs(_ n: Int, _ rng: inout SplitMix64) -> [Float] {
    (0..<n).map { _ in rng.next() >> 63 == 0 ? 1 : -1 }
  }
}

/// A small, seeded, platform-independent random generator (SplitMix64), so that masks,
/// measurement matrices, initial latents and test data are reproducible bit for bit from a
/// seed on every machine (Swift's SystemRandomNumberGenerator is not seedable).
public struct SplitMix64: RandomNumberGenerator, Sendable {
  public var state: UInt64
  public init(seed: UInt64) { state = seed }
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in [0, 1) with 53 random bits.
  public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }
  /// Standard normal (Box-Muller; one draw per call, deterministic).
  public mutating func normal() -> Double {
    let u1 = Swift.max(uniform(), 0x1.0p-60), u2 = uniform()
    return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
  }
  public mutating func normals(_ n: Int) -> [Double] { (0..<n).map { _ in normal() } }
}

import RealModule
@inline(__always) private func _log(_ x: Double) -> Double { Double.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Double.cos(x) }

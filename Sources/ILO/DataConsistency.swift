import Foundation
import GraphIR
import Inversion
import Runtime

/// The data-consistency step of a noise-free linear task: the image closest to the
/// generator's answer x that reproduces the observation exactly,
///
///     x' = x + Aᵀ (A Aᵀ)⁻¹ (y − A x),
///
/// i.e. the observed part of the image (the range of Aᵀ) is taken from y and the part A cannot
/// see (its null space) from the generator. For inpainting that pastes the known pixels back,
/// for colorization it replaces the luma, for super-resolution it puts back the low
/// frequencies the generator missed (the range/null-space split of back-projection methods).
/// A generator fits the observation only approximately, so this is worth up to about a dB on
/// faces unlike its training set (docs/quality.md). It is off for denoising (y is noisy: it
/// would return the noisy image) and for any task whose operator draws fresh data every step.
///
/// (A Aᵀ)⁻¹ r is found by conjugate gradients in double precision, with A and Aᵀ run by one
/// compiled program (Aᵀ from the operator's VJP), so every linear operator is covered without
/// an operator-specific inverse. The answer is clipped to the image range [-1, 1].
public final class DataConsistency {
  public let forward: any ForwardOperator
  let observation: HostTensor<Float>
  let size: Int
  let program: Program

  /// The most conjugate-gradient iterations, and the relative residual at which they stop.
  public static let maxIterations = 200
  public static let tolerance = 1e-6

  /// The tasks the step applies to by default: the noise-free linear ones.
  public static func appliesByDefault(to task: Task) -> Bool { task != .denoise }

  /// The step for `op` and its observation y, or an error when the operator is not a
  /// deterministic linear map of the image (denoising, operators with runtime inputs).
  public init(_ op: any ForwardOperator, observation y: HostTensor<Float>, size: Int) throws {
    guard op.task != .denoise, op.runtimeInputs(batch: 1, size: size).isEmpty else {
      throw InversionError("data consistency needs a noise-free linear operator; \(op.task.rawValue) is not one")
    }
    forward = op; observation = y; self.size = size
    let g = Graph("consistency")
    let x = g.input("x", [1, 3, size, size])
    let v = g.input("v", y.shape)
    let ax = op.apply(x)
    g.output("ax", ax)
    let atv = try appendGradients(of: sum(ax * v), wrt: [x])[0]
    g.output("atv", atv)
    g.output("aatv", op.apply(atv))
    program = try Program(g)
  }

  /// What one projection did (report.json's `consistency`).
  public struct Report: Codable, Sendable, Equatable {
    /// ‖y − A x‖ / ‖y‖ before and after (after clipping to the image range).
    public var residualBefore: Double
    public var residualAfter: Double
  }

  /// x' for an image x `[1, 3, S, S]`. With `keep` (a 0/1 mask over the observation, e.g. a
  /// validation split's training part) only the kept measurements are made consistent, so the
  /// others can judge the result.
  public func project(_ x: HostTensor<Float>, keep: [Float]? = nil) throws -> HostTensor<Float> {
    var r = zip(observation.values, try apply(x).values).map { Double($0) - Double($1) }
    if let keep { for i in r.indices { r[i] *= Double(keep[i]) } }
    let dx = try solve(r, keep: keep)
    return HostTensor(shape: x.shape, values: zip(x.values, dx).map { Float(Swift.min(1, Swift.max(-1, Double($0) + $1))) })
  }

  /// A(x).
  public func apply(_ x: HostTensor<Float>) throws -> HostTensor<Float> {
    try run(x: x, v: HostTensor(zeros: observation.shape))["ax"]!
  }

  /// ‖y − A x‖ / ‖y‖.
  public func residual(_ x: HostTensor<Float>) throws -> Double {
    relative(zip(observation.values, try apply(x).values).map { Double($0) - Double($1) })
  }

  /// The report of a step that took `before` to `after`.
  public func report(before: HostTensor<Float>, after: HostTensor<Float>) throws -> Report {
    Report(residualBefore: try residual(before), residualAfter: try residual(after))
  }

  /// Conjugate gradients on (K A Aᵀ K) u = r from u = 0 (K: the `keep` mask, or the identity);
  /// returns Aᵀ u (the image correction), accumulated from the Aᵀ p of each search direction.
  func solve(_ r: [Double], keep: [Float]?) throws -> [Double] {
    var correction = [Double](repeating: 0, count: 3 * size * size)
    var residual = r, direction = r
    var rho = dot(r, r)
    let stop = Self.tolerance * Self.tolerance * rho
    var k = 0
    let image = HostTensor<Float>(zeros: [1, 3, size, size])
    while k < Self.maxIterations, rho > stop, rho > 0 {
      let out = try run(x: image, v: HostTensor(shape: observation.shape, values: direction.map(Float.init)))
      var q = out["aatv"]!.values.map(Double.init)
      let atp = out["atv"]!.values
      if let keep { for i in q.indices { q[i] *= Double(keep[i]) } }
      let curvature = dot(direction, q)
      guard curvature > 0 else { break }
      let alpha = rho / curvature
      for i in correction.indices { correction[i] += alpha * Double(atp[i]) }
      for i in residual.indices { residual[i] -= alpha * q[i] }
      let next = dot(residual, residual)
      for i in direction.indices { direction[i] = residual[i] + next / rho * direction[i] }
      rho = next
      k += 1
    }
    return correction
  }

  func run(x: HostTensor<Float>, v: HostTensor<Float>) throws -> [String: HostTensor<Float>] {
    try program.run(inputs: ["x": x, "v": v])
  }

  func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

  func relative(_ r: [Double]) -> Double {
    let y = observation.values.reduce(0.0) { $0 + Double($1) * Double($1) }
    return y > 0 ? (dot(r, r) / y).squareRoot() : dot(r, r).squareRoot()
  }
}

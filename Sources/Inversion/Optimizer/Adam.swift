import Foundation

/// Adam (Kingma & Ba 2015) on one flat Float buffer, computed like PyTorch's `torch.optim.Adam`
/// (single-tensor path, no weight decay, no amsgrad): with t the 1-based step,
///   m ← m + (1−β1)(g − m),  v ← β2·v + (1−β2)·g²,
///   p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε),
/// bias corrections in Double, everything else in Float. ILO makes a fresh Adam per round
/// (`reset()`); the runtime keeps one per optimized variable and steps them together.
/// The moments are allocated once; `update` allocates nothing.
public struct Adam: Sendable {
  /// Hyper-parameters in Double, rounded to Float where PyTorch rounds its Python scalars.
  public let beta1: Double
  public let beta2: Double
  public let epsilon: Double
  /// The number of updates done since the last reset.
  public private(set) var step = 0
  public private(set) var firstMoment: [Float]
  public private(set) var secondMoment: [Float]

  public init(count: Int, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
    self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
    firstMoment = [Float](repeating: 0, count: count)
    secondMoment = firstMoment
  }

  public var count: Int { firstMoment.count }

  /// Zeroes the moments and the step count (a fresh optimizer, same buffers).
  public mutating func reset() {
    step = 0
    firstMoment.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    secondMoment.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
  }

  /// One Adam update of `params` (in place) from `gradient` with learning rate `lr`.
  public mutating func update(_ params: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>, learningRate lr: Float) {
    precondition(params.count == count && gradient.count == count, "Adam: buffer sizes differ from \(count)")
    step += 1
    let t = Double(step)
    let stepSize = Float(Double(lr) / (1 - Foundation.pow(beta1, t)))
    let bc2Sqrt = Float((1 - Foundation.pow(beta2, t)).squareRoot())
    let (b1, b2, eps, oneMinusB2) = (Float(1 - beta1), Float(beta2), Float(epsilon), Float(1 - beta2))
    firstMoment.withUnsafeMutableBufferPointer { m in
      secondMoment.withUnsafeMutableBufferPointer { v in
        for i in 0..<params.count {
          let g = gradient[i]
          let mi = m[i] + b1 * (g - m[i])
          let vi = b2 * v[i] + oneMinusB2 * (g * g)
          m[i] = mi; v[i] = vi
          params[i] -= stepSize * (mi / (vi.squareRoot() / bc2Sqrt + eps))
        }
      }
    }
  }

  /// `update` on arrays.
  public mutating func update(_ params: inout [Float], gradient: [Float], learningRate lr: Float) {
    gradient.withUnsafeBufferPointer { g in params.withUnsafeMutableBufferPointer { update($0, gradient: g, learningRate: lr) } }
  }
}

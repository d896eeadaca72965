import GraphIR

/// A validation split of the observed measurements: a seeded random fraction of them is held
/// out of the loss, and the error of A(x) on those alone says when the optimization starts to
/// fit the noise (or the generator's artifacts) instead of the image. ILO selects the step and
/// the round with the lowest validation error; the loss never sees a held-out value.
///
/// The unit held out is what one measurement means for the task: a pixel (all three channels
/// together) when A(x) is an image `[B, 3, H, W]` (inpainting, denoising, colorization, the
/// low-resolution pixels of super-resolution), one value otherwise (compressed sensing). For
/// inpainting only observed pixels can be held out. Unit k is held out when the k-th
/// `uniform()` of `SplitMix64(seed)` is below the fraction; at least one unit is held out and
/// at least one is kept.
public struct Holdout: Equatable, Sendable {
  public let fraction: Double
  public let seed: UInt64
  /// 1 where the loss sees the measurement, 0 where it is held out (or never observed), in the
  /// observation's element order.
  public let trainMask: [Float]
  /// Element indices of the held-out measurements.
  public let heldOut: [Int]

  /// - observationShape: the shape of y = A(x).
  /// - observed: for inpainting, the 0/1 mask `[H, W]` of observed pixels (holes are never
  ///   held out); nil when every measurement is observed.
  public init(observationShape s: [Int], fraction: Double, seed: UInt64, observed: [Float]? = nil) throws {
    guard fraction.isFinite, fraction > 0, fraction < 1 else {
      throw InversionError("validation: the held-out fraction must be in (0, 1), got \(fraction)")
    }
    let count = s.reduce(1, *)
    let image = s.count == 4 && s[1] == 3
    let units = image ? s[0] * s[2] * s[3] : count
    var rng = SplitMix64(seed: seed)
    let isEligible = (0..<units).map { u in observed.map { $0[u % $0.count] != 0 } ?? true }
    var held = isEligible.map { rng.uniform() < fraction && $0 }
    let eligible = (0..<units).filter { isEligible[$0] }
    guard eligible.count >= 2 else {
      throw InversionError("validation: too few observed measurements to hold some out")
    }
    if !eligible.contains(where: { held[$0] }) { held[eligible[0]] = true }
    if eligible.allSatisfy({ held[$0] }) { held[eligible[0]] = false }
    var mask = [Float](repeating: 1, count: count)
    var out: [Int] = []
    for i in 0..<count {
      let u = image ? Self.pixel(i, s) : i
      if held[u] { mask[i] = 0; out.append(i) }
    }
    self.fraction = fraction; self.seed = seed; trainMask = mask; heldOut = out
  }

  /// The pixel index (batch, y, x) of element i of an image tensor `[B, 3, H, W]`.
  static func pixel(_ i: Int, _ s: [Int]) -> Int {
    let plane = s[2] * s[3]
    return (i / (3 * plane)) * plane + i % plane
  }

  /// The weights of the training loss: 0 on held-out elements, and N / N_train elsewhere so that
  /// a mean over all N elements is the mean over the training elements.
  public var lossWeights: [Float] {
    let scale = Float(trainMask.count) / Float(trainMask.count - heldOut.count)
    return trainMask.map { $0 * scale }
  }

  /// The mean squared error of `prediction` against `observation` over the held-out elements.
  public func error(_ prediction: [Float], _ observation: [Float]) -> Double {
    var s = 0.0
    for i in heldOut {
      let d = Double(prediction[i]) - Double(observation[i])
      s += d * d
    }
    return s / Double(heldOut.count)
  }
}

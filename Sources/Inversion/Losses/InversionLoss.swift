import GraphIR

/// The weights of the inversion loss (spec §2 step 2). Defaults are the reference's:
/// mse 1, LPIPS 1 (set 0 when no LPIPS network is loaded), GeoCross 0.01, dead zone off (α 0.1).
public struct LossWeights: Equatable, Sendable {
  public var mse: Float
  public var perceptual: Float
  public var geoCross: Float
  public var deadZone: Float
  public var deadZoneAlpha: Float
  public init(mse: Float = 1, perceptual: Float = 1, geoCross: Float = 0.01, deadZone: Float = 0, deadZoneAlpha: Float = 0.1) {
    self.mse = mse; self.perceptual = perceptual; self.geoCross = geoCross; self.deadZone = deadZone; self.deadZoneAlpha = deadZoneAlpha
  }
}

/// The loss of one ILO step as graph values. Each term is unweighted (what a progress line
/// prints); `total` is the weighted sum. A term whose weight is 0 is not built (nil).
public struct LossTerms {
  public var total: Tensor
  public var mse: Tensor?
  public var perceptual: Tensor?
  public var geoCross: Tensor?
  public var deadZone: Tensor?
}

/// Output names under which `buildInversionLoss` registers the loss and its terms.
public enum LossOutput {
  public static let total = "loss"
  public static let mse = "loss.mse"
  public static let perceptual = "loss.lpips"
  public static let geoCross = "loss.geocross"
  public static let deadZone = "loss.deadzone"
}

/// Builds `mse·MSE(A(x), y) + pe·LPIPS + geo·GeoCross(z) + dz·DeadZoneL1(A(x), y)` and
/// registers it and each built term as graph outputs (`LossOutput` names).
///
/// - `prediction`: A(x); `observation`: y, of the same shape (no silent broadcasting).
/// - `latents`: the z rows in use, `[B, R, D]` (GeoCross acts on the rows that feed the blocks
///   still being run, in every round: spec §2's deliberate difference); nil skips the term.
/// - `perceptual`: builds the scalar LPIPS term (LPIPS lives with the models); only called
///   when its weight is non-zero.
/// - `elementWeights`: per-element weights of the MSE and dead-zone means, the shape of the
///   observation (`Holdout.lossWeights`: 0 on held-out measurements); nil weighs all equally.
/// Throws a one-line error for negative or non-finite weights, mismatched shapes, a missing
/// LPIPS closure, or all weights zero.
public func buildInversionLoss(
  prediction: Tensor, observation: Tensor, latents: Tensor?, weights w: LossWeights,
  perceptual: (() throws -> Tensor)? = nil, elementWeights: Tensor? = nil
) throws -> LossTerms {
  let g = prediction.graph
  for (name, v) in [("mse", w.mse), ("lpips", w.perceptual), ("geocross", w.geoCross), ("dead-zone", w.deadZone), ("dead-zone alpha", w.deadZoneAlpha)] {
    guard v.isFinite, v >= 0 else { throw InversionError("loss: the \(name) weight must be finite and non-negative, got \(v)") }
  }
  guard prediction.shape == observation.shape else {
    throw InversionError("loss: A(x) has shape \(prediction.shape.shapeText) but the observation has \(observation.shape.shapeText)")
  }
  var parts: [Tensor] = []
  var terms = LossTerms(total: prediction)
  func add(_ weight: Float, _ name: String, _ term: Tensor) throws -> Tensor {
    guard term.shape.elementCount == 1 else { throw InversionError("loss: the \(name) term must be a scalar, got \(term.shape.shapeText)") }
    let t = reshape(term, [])
    g.output(name, t)
    parts.append(weight == 1 ? t : t * weight)
    return t
  }
  func weighted(_ t: Tensor) -> Tensor { elementWeights.map { mean(t * $0) } ?? mean(t) }
  if w.mse != 0 { terms.mse = try add(w.mse, LossOutput.mse, weighted(square(prediction - observation))) }
  if w.perceptual != 0 {
    guard let perceptual else { throw InversionError("loss: an LPIPS weight of \(w.perceptual) needs an LPIPS network") }
    terms.perceptual = try add(w.perceptual, LossOutput.perceptual, perceptual())
  }
  if w.geoCross != 0, let z = latents {
    guard z.rank == 3, z.shape[1] >= 1 else { throw InversionError("loss: GeoCross needs latents [B, R, D], got \(z.shape.shapeText)") }
    terms.geoCross = try add(w.geoCross, LossOutput.geoCross, geoCross(z))
  }
  if w.deadZone != 0 {
    let dz = relu(abs(prediction - observation) - w.deadZoneAlpha)
    terms.deadZone = try add(w.deadZone, LossOutput.deadZone, weighted(dz))
  }
  guard var total = parts.first else { throw InversionError("loss: every loss weight is zero") }
  for p in parts.dropFirst() { total = total + p }
  try g.check()
  terms.total = total
  g.output(LossOutput.total, total)
  return terms
}

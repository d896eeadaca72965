/// Loss terms used by inversion, written in the DSL so they differentiate and fuse like the
/// rest of the graph.

/// Mean squared error over all elements.
public func mseLoss(_ a: Tensor, _ b: Tensor) -> Tensor { mean(square(a - b)) }

/// Dead-zone L1: mean of `max(0, |a - b| - alpha)`, ignoring residuals up to alpha.
public func deadZoneL1(_ a: Tensor, _ b: Tensor, alpha: Float) -> Tensor {
  mean(relu(abs(a - b) - alpha))
}

/// GeoCross (PULSE): the mean squared geodesic distance between the rows of `x` [B, R, D]
/// seen as points on a sphere, `mean_b mean_ij (D * (2 atan2(|xi - xj|, |xi + xj|))^2) / 8`,
/// with 1e-9 inside each norm so the diagonal stays differentiable.
public func geoCross(_ x: Tensor) -> Tensor {
  let (b, r, d) = (x.shape[0], x.shape[1], x.shape[2])
  let xi = reshape(x, [b, r, 1, d]), xj = reshape(x, [b, 1, r, d])
  let a = sqrt(sum(square(xi - xj), axes: [3]) + 1e-9)
  let c = sqrt(sum(square(xi + xj), axes: [3]) + 1e-9)
  let dist = 2 * atan2(a, c)
  return mean(square(dist)) * (Float(d) / 8)
}

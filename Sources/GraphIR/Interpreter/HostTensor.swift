@_exported import RealModule

/// A dense row-major tensor on the host, the interpreter's value type.
public struct HostTensor<T: Real & BinaryFloatingPoint>: Equatable, Sendable where T: Sendable {
  public var shape: Shape
  public var values: [T]
  public init(shape: Shape, values: [T]) {
    precondition(values.count == shape.elementCount, "\(values.count) values for shape \(shape.shapeText)")
    self.shape = shape; self.values = values
  }
  public init(zeros shape: Shape) { self.init(shape: shape, values: [T](repeating: 0, count: shape.elementCount)) }
  public init(scalar v: T) { self.init(shape: [], values: [v]) }
  public var count: Int { values.count }

  /// Converts the element type (e.g. Float fixtures to Double for gradient checks).
  public func converted<U>(to: U.Type = U.self) -> HostTensor<U> {
    HostTensor<U>(shape: shape, values: values.map { U($0) })
  }
}

/// Tolerance checks in the spirit of swift-numerics' `isApproximatelyEqual`.
extension HostTensor {
  /// max_i |a_i - b_i| / max(max_i |b_i|, tiny): relative to the reference's scale.
  public func maxRelativeDifference(to ref: HostTensor) -> T {
    precondition(shape == ref.shape, "shapes \(shape.shapeText) and \(ref.shape.shapeText)")
    var scale: T = 0, diff: T = 0
    for (a, b) in zip(values, ref.values) {
      scale = Swift.max(scale, Swift.abs(b))
      let d = Swift.abs(a - b)
      if d.isNaN { return .nan }
      diff = Swift.max(diff, d)
    }
    return diff / Swift.max(scale, T.leastNormalMagnitude)
  }
}

/// Shapes are plain `[Int]` arrays, row-major (the last axis varies fastest), as in PyTorch.
/// These helpers are the few shape computations every layer of iloc shares.
public typealias Shape = [Int]

extension Array where Element == Int {
  /// Number of elements of a tensor with this shape (1 for a scalar `[]`).
  @inlinable public var elementCount: Int { reduce(1, *) }

  /// Row-major strides, in elements.
  @inlinable public var rowMajorStrides: [Int] {
    var s = [Int](repeating: 1, count: count)
    var acc = 1
    for i in stride(from: count - 1, through: 0, by: -1) { s[i] = acc; acc *= self[i] }
    return s
  }

  /// `[1, 3, 8, 8]` style text used in error messages and dumps.
  public var shapeText: String { "[" + map(String.init).joined(separator: ", ") + "]" }
}

/// NumPy broadcasting of two shapes, or nil when they are incompatible.
public func broadcastShapes(_ a: Shape, _ b: Shape) -> Shape? {
  let n = Swift.max(a.count, b.count)
  var out = [Int](repeating: 1, count: n)
  for i in 0..<n {
    let da = i < n - a.count ? 1 : a[i - (n - a.count)]
    let db = i < n - b.count ? 1 : b[i - (n - b.count)]
    if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
  }
  return out
}

/// Normalizes a possibly negative axis against a rank; nil when out of range.
@inlinable func normalizeAxis(_ axis: Int, rank: Int) -> Int? {
  let a = axis < 0 ? axis + rank : axis
  return (a >= 0 && a < rank) ? a : nil
}

/// The element type a tensor had in its file.
public enum TensorDType: String, Sendable, CaseIterable {
  case float32, float16, bfloat16, float64
  case int64, int32, int16, int8, uint8, bool

  /// Bytes per element on disk.
  public var byteCount: Int {
    switch self {
    case .float64, .int64: return 8
    case .float32, .int32: return 4
    case .float16, .bfloat16, .int16: return 2
    case .int8, .uint8, .bool: return 1
    }
  }

  /// float16 or bfloat16: kept in that width when written to safetensors.
  public var isHalfWidth: Bool { self == .float16 || self == .bfloat16 }

  /// Whether values are integers (kept exactly in `TensorData.integerValues`).
  public var isInteger: Bool {
    switch self {
    case .float32, .float16, .bfloat16, .float64: return false
    default: return true
    }
  }
}

/// A dense tensor loaded from a weight file, as Float32 in row-major (C) order.
///
/// Every dtype is converted to `Float` in `values` (float64 is rounded; float16 and bfloat16
/// are exact). Integer and bool tensors also keep their exact values in `integerValues`, since
/// `Float` is exact only up to 2^24. A 0-d (scalar) tensor has `shape == []` and one value.
public struct TensorData: Equatable, Sendable {
  public var shape: [Int]
  public var values: [Float]
  /// The dtype the tensor had in the file.
  public var dtype: TensorDType
  /// Exact values for integer and bool tensors (`nil` for floating-point ones).
  public var integerValues: [Int64]?

  /// A Float32 tensor. `values.count` should equal the product of `shape`.
  public init(shape: [Int], values: [Float]) {
    self.init(shape: shape, values: values, dtype: .float32, integerValues: nil)
  }

  init(shape: [Int], values: [Float], dtype: TensorDType, integerValues: [Int64]?) {
    self.shape = shape
    self.values = values
    self.dtype = dtype
    self.integerValues = integerValues
  }

  /// Number of elements (1 for a scalar).
  public var count: Int { shape.reduce(1, *) }
}

/// The element count of `shape`, or `nil` if a dimension is negative or the product overflows.
func elementCount(_ shape: [Int]) -> Int? {
  var n = 1
  for d in shape {
    guard d >= 0 else { return nil }
    let (p, overflow) = n.multipliedReportingOverflow(by: d)
    if overflow { return nil }
    n = p
  }
  return n
}

/// Decodes little-endian elements `indices` of `raw` (a storage of `dtype` elements) into a
/// tensor of `shape`. The caller has checked every index lies inside `raw`.
func decodeTensor(
  _ raw: UnsafeRawBufferPointer, dtype: TensorDType, shape: [Int], indices: ElementIndices
) -> TensorData {
  let n = indices.count
  var values = [Float](repeating: 0, count: n)
  var integers: [Int64]? = dtype.isInteger ? [Int64](repeating: 0, count: n) : nil

  if dtype == .float32, case .contiguous(let start, _) = indices {
    // The common case: one copy.
    values.withUnsafeMutableBytes { dst in
      dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start * 4..<(start + n) * 4]))
    }
    return TensorData(shape: shape, values: values, dtype: dtype, integerValues: nil)
  }

  let size = dtype.byteCount
  func bits(_ element: Int) -> UInt64 {
    var v: UInt64 = 0
    let base = element * size
    for b in 0..<size { v |= UInt64(raw[base + b]) << (8 * UInt64(b)) }
    return v
  }
  for (i, element) in indices.enumerated() {
    let u = bits(element)
    switch dtype {
    case .float32: values[i] = Float(bitPattern: UInt32(truncatingIfNeeded: u))
    case .float64: values[i] = Float(Double(bitPattern: u))
    case .float16: values[i] = floatFromHalf(UInt16(truncatingIfNeeded: u))
    case .bfloat16: values[i] = Float(bitPattern: UInt32(truncatingIfNeeded: u) << 16)
    case .int64: integers![i] = Int64(bitPattern: u)
    case .int32: integers![i] = Int64(Int32(truncatingIfNeeded: u))
    case .int16: integers![i] = Int64(Int16(truncatingIfNeeded: u))
    case .int8: integers![i] = Int64(Int8(truncatingIfNeeded: u))
    case .uint8: integers![i] = Int64(u)
    case .bool: integers![i] = u != 0 ? 1 : 0
    }
    if let ints = integers { values[i] = Float(ints[i]) }
  }
  return TensorData(shape: shape, values: values, dtype: dtype, integerValues: integers)
}

/// IEEE half-precision bits to Float (exact; handles subnormals, infinities and NaN).
func floatFromHalf(_ h: UInt16) -> Float {
  let sign = UInt32(h >> 15) << 31
  let exponent = UInt32(h >> 10) & 0x1F
  let mantissa = UInt32(h) & 0x3FF
  if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
  if exponent == 0 {
    // Zero or subnormal: mantissa * 2^-24.
    let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)
    return sign != 0 ? -magnitude : magnitude
  }
  return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
}

/// The storage elements a strided view reads, in row-major order of the view.
enum ElementIndices: Sequence {
  /// `count` consecutive elements from `start`.
  case contiguous(start: Int, count: Int)
  /// Arbitrary elements (a non-contiguous view).
  case gathered([Int])

  var count: Int {
    switch self {
    case .contiguous(_, let n): return n
    case .gathered(let list): return list.count
    }
  }

  func makeIterator() -> AnyIterator<Int> {
    switch self {
    case .contiguous(let start, let n): return AnyIterator((start..<start + n).makeIterator())
    case .gathered(let list): return AnyIterator(list.makeIterator())
    }
  }

  /// The elements read by a view with `offset`, `shape`, `stride` (all in elements) of a
  /// storage holding `storageCount` elements. Throws if the view is malformed (negative
  /// values, overflow) or reads outside the storage, before allocating anything.
  static func view(offset: Int, shape: [Int], stride: [Int], storageCount: Int) throws
    -> ElementIndices
  {
    let described = "offset \(offset), size \(describeShape(shape)), stride \(describeShape(stride))"
    guard offset >= 0, shape.count == stride.count, let n = elementCount(shape),
      stride.allSatisfy({ $0 >= 0 })
    else { throw WeightError("invalid view (\(described))") }
    if n == 0 { return .contiguous(start: offset, count: 0) }
    var last = offset
    for (d, s) in zip(shape, stride) {
      let (span, o1) = (d - 1).multipliedReportingOverflow(by: s)
      let (sum, o2) = last.addingReportingOverflow(span)
      guard !o1, !o2 else { throw WeightError("invalid view (\(described))") }
      last = sum
    }
    guard last < storageCount else {
      throw WeightError(
        "view (\(described)) reads element \(last) of a storage with \(storageCount) elements")
    }
    // Overlapping views (stride 0, as `expand` makes) may have more elements than their
    // storage; refuse absurd ones rather than allocate them.
    guard n <= Swift.max(storageCount, 1 << 24) else {
      throw WeightError("view (\(described)) has \(n) elements, its storage only \(storageCount)")
    }
    // Row-major contiguous iff each stride equals the product of the sizes after it
    // (dimensions of size 1 may have any stride).
    var expected = 1
    var contiguous = true
    for (d, s) in zip(shape, stride).reversed() {
      if d != 1 && s != expected { contiguous = false }
      expected *= d
    }
    if contiguous { return .contiguous(start: offset, count: n) }
    var list = [Int](repeating: 0, count: n)
    var index = [Int](repeating: 0, count: shape.count)
    var element = offset
    for i in 0..<n {
      list[i] = element
      // Odometer increment over the view's dimensions, last fastest.
      var axis = shape.count - 1
      while axis >= 0 {
        index[axis] += 1
        // Wrapping arithmetic: intermediate values may leave Int's range (a size-1 axis may
        // have any stride), but every element actually read was checked above.
        element &+= stride[axis]
        if index[axis] < shape[axis] { break }
        element &-= stride[axis] &* shape[axis]
        index[axis] = 0
        axis -= 1
      }
    }
    return .gathered(list)
  }
}

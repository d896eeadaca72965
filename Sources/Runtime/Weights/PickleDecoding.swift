import Foundation

/// Public entry points for readers of pickle-based formats outside this module (NVIDIA network
/// pickles): decoding a whole pickle file, and NumPy arrays inside a decoded tree. As with
/// `TorchCheckpoint`, nothing is ever executed: calls stay inert `.object`s.
public enum PickleDecoding {
  /// Decodes the first pickle of `data` (protocols 2-5). One-line `WeightError`s prefixed with
  /// `name` for malformed or truncated input.
  public static func load(_ data: Data, name: String) throws -> PickleValue {
    try withErrorContext(name) {
      try data.withUnsafeBytes { raw in
        var unpickler = Unpickler(raw)
        return try unpickler.load()
      }
    }
  }

  /// True when the file begins like a pickle stream (PROTO opcode, protocol 2-5) that is not
  /// a legacy `torch.save` file (those start with torch's magic number as a LONG1).
  public static func isPlainPickle(_ url: URL) -> Bool {
    guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
    defer { try? handle.close() }
    guard let head = try? handle.read(upToCount: 4), head.count == 4 else { return false }
    let h = [UInt8](head)
    return h[0] == 0x80 && (2...5).contains(h[1]) && !(h[2] == 0x8A && h[3] == 0x0A)
  }

  /// The array a NumPy pickle rebuilds: `numpy.core.multiarray._reconstruct(ndarray, (0,), b)`
  /// (numpy 2 writes `numpy._core.multiarray`) with the BUILD state `(version, shape, dtype,
  /// is_fortran, raw bytes)`, `dtype` being `numpy.dtype(code, align, copy)` with its own state
  /// `(3, byte order, ...)`. Little-endian float16/32/64 and integer arrays, C or Fortran order.
  /// Returns nil when `value` is not an ndarray rebuild; throws naming `key` when it is malformed.
  public static func numpyArray(_ value: PickleValue, key: String) throws -> TensorData? {
    guard case .object(let object) = value,
      ["numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct"].contains(object.qualifiedName ?? "")
    else { return nil }
    guard let state = object.state?.elements, state.count == 5,
      let shape = state[1].elements?.compactMap(\.intValue), shape.count == state[1].elements?.count,
      shape.allSatisfy({ $0 >= 0 }), case .object(let dtypeObject) = state[2]
    else { throw WeightError("array '\(key)': malformed numpy array state") }
    let dtype = try numpyDType(dtypeObject, key: key)
    let raw: [UInt8]
    switch state[4] {
    case .bytes(let b): raw = b
    case .string(let s): raw = Array(s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })  // Python 2 latin-1
    default: throw WeightError("array '\(key)': numpy array data is not bytes")
    }
    guard let count = elementCount(shape), raw.count == count * dtype.byteCount else {
      throw WeightError(
        "array '\(key)': \(raw.count) data bytes for shape \(describeShape(shape)) of \(dtype.rawValue)")
    }
    let fortran = state[3].intValue == 1
    let indices: ElementIndices = fortran && shape.count > 1
      ? try ElementIndices.view(offset: 0, shape: shape, stride: fortranStrides(shape), storageCount: count)
      : .contiguous(start: 0, count: count)
    return raw.withUnsafeBytes { decodeTensor($0, dtype: dtype, shape: shape, indices: indices) }
  }

  /// The tensor dtype of a pickled `numpy.dtype('f4', False, True)` with state `(3, '<', ...)`.
  private static func numpyDType(_ object: PickleObject, key: String) throws -> TensorDType {
    guard object.qualifiedName == "numpy.dtype", let code = object.args.first?.stringValue else {
      throw WeightError("array '\(key)': malformed numpy dtype")
    }
    let order = object.state?.elements?.dropFirst().first?.stringValue ?? "|"
    let codes: [String: TensorDType] = [
      "f2": .float16, "f4": .float32, "f8": .float64, "i8": .int64, "i4": .int32, "i2": .int16,
      "i1": .int8, "u1": .uint8, "b1": .bool,
    ]
    guard let dtype = codes[code], order != ">" || dtype.byteCount == 1 else {
      throw WeightError("array '\(key)': unsupported numpy dtype '\(order)\(code)'")
    }
    return dtype
  }

  private static func fortranStrides(_ shape: [Int]) -> [Int] {
    var strides: [Int] = [], step = 1
    for d in shape { strides.append(step); step *= Swift.max(d, 1) }
    return strides
  }
}

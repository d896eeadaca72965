import GraphIR
import Runtime

/// Copies tensors from a source layout (a network pickle's names and shapes) to the reference
/// port's layout, checking every source shape on the way so that errors name the source
/// variable: `ffhq.pkl: tensor 'synthesis.b8.conv0.weight' has shape [3, 3], expected [...]`.
struct LayoutMapper {
  /// How a tensor's values are rearranged.
  enum Transform {
    case copy
    /// [a, b] -> [b, a] (TensorFlow dense kernels).
    case transpose
    /// [kh, kw, in, out] -> [out, in, kh, kw] (TensorFlow conv kernels), optionally flipped in
    /// both spatial axes (TensorFlow's upsampling convolution runs the flipped kernel).
    case hwioToOIHW(flip: Bool)
  }

  let source: StateDict
  private(set) var target: [String: TensorData] = [:]

  init(source: StateDict) { self.source = source }

  /// The source tensor `key`, which must have `shape`.
  func require(_ key: String, _ shape: [Int]) throws -> TensorData {
    do { return try source.require(key, shape: shape) } catch let e as WeightError { throw ModelError(e.message) }
  }

  /// The shape of source tensor `key` if it has rank `rank` (for reading channel counts).
  func shape(of key: String, rank: Int) throws -> [Int] {
    guard let t = source[key] else { throw ModelError("\(source.source): missing tensor '\(key)'") }
    guard t.shape.count == rank else {
      throw ModelError("\(source.source): tensor '\(key)' has shape \(t.shape.shapeText), expected rank \(rank)")
    }
    return t.shape
  }

  /// Maps source `from` (shape `shape`) to target `to` with shape `targetShape`:
  /// `value · scale + add` after `transform`.
  mutating func map(_ from: String, _ shape: [Int], to: String, _ targetShape: [Int],
                    _ transform: Transform = .copy, scale: Double = 1, add: Double = 0) throws {
    let t = try require(from, shape)
    var values = t.values
    switch transform {
    case .copy: break
    case .transpose: values = Self.permute(values, shape, [1, 0])
    case .hwioToOIHW(let flip):
      var s = shape
      if flip { values = Self.flipSpatial(values, shape); s = shape }
      values = Self.permute(values, s, [3, 2, 0, 1])
    }
    if scale != 1 || add != 0 { values = values.map { Float(Double($0) * scale + add) } }
    target[to] = TensorData(shape: targetShape, values: values)
  }

  /// The target tensors as a state dict named after the source file.
  var stateDict: StateDict { StateDict(source: source.source, tensors: target) }

  /// Row-major permutation of axes: result axis i is source axis `perm[i]`.
  static func permute(_ values: [Float], _ shape: [Int], _ perm: [Int]) -> [Float] {
    let rank = shape.count
    var strides = [Int](repeating: 1, count: rank)
    for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
    let outShape = perm.map { shape[$0] }, outStrides = perm.map { strides[$0] }
    var out = [Float](), index = [Int](repeating: 0, count: rank)
    out.reserveCapacity(values.count)
    for _ in 0..<values.count {
      out.append(values[zip(index, outStrides).reduce(0) { $0 + $1.0 * $1.1 }])
      var d = rank - 1
      while d >= 0 { index[d] += 1; if index[d] < outShape[d] { break }; index[d] = 0; d -= 1 }
    }
    return out
  }

  /// Reverses axes 0 and 1 of a [kh, kw, ...] tensor.
  static func flipSpatial(_ values: [Float], _ shape: [Int]) -> [Float] {
    let (kh, kw) = (shape[0], shape[1]), inner = values.count / Swift.max(kh * kw, 1)
    var out = values
    for y in 0..<kh {
      for x in 0..<kw {
        let src = (y * kw + x) * inner, dst = ((kh - 1 - y) * kw + (kw - 1 - x)) * inner
        out[dst..<dst + inner] = values[src..<src + inner]
      }
    }
    return out
  }
}

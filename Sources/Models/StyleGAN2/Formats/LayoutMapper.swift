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
    var values: [Float]
    switch transform {
    case .copy: values = t.values
    case .transpose: values = Self.oihw(t.values, kh: 1, kw: 1, cin: shape[0], cout: shape[1], flip: false)
    case .hwioToOIHW(let flip):
      values = Self.oihw(t.values, kh: shape[0], kw: shape[1], cin: shape[2], cout: shape[3], flip: flip)
    }
    if scale != 1 || add != 0 { values = values.map { Float(Double($0) * scale + add) } }
    target[to] = TensorData(shape: targetShape, values: values)
  }

  /// The target tensors as a state dict named after the source file.
  var stateDict: StateDict { StateDict(source: source.source, tensors: target) }

  /// [kh, kw, in, out] -> [out, in, kh, kw], optionally reversing both spatial axes (with
  /// kh = kw = 1 this is the transpose of an [in, out] matrix).
  static func oihw(_ v: [Float], kh: Int, kw: Int, cin: Int, cout: Int, flip: Bool) -> [Float] {
    var out = [Float](repeating: 0, count: v.count)
    v.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<kh {
          for x in 0..<kw {
            let (ty, tx) = flip ? (kh - 1 - y, kw - 1 - x) : (y, x)
            for i in 0..<cin {
              let from = ((y * kw + x) * cin + i) * cout
              for o in 0..<cout { dst[((o * cin + i) * kh + ty) * kw + tx] = src[from + o] }
            }
          }
        }
      }
    }
    return out
  }
}

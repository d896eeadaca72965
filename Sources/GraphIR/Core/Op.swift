/// The op set of GraphIR.
///
/// Each op family lives in its own file under `Ops/` with its three definitions side by side:
/// the shape rule, the VJP rule (written in IR ops), and the interpreter semantics. This enum
/// and its small dispatch switches are the registry that ties them together.
public enum Op: Hashable, Sendable {
  /// A named runtime input (data or parameter) of a fixed shape, bound by name when the graph runs.
  case input(String, shape: Shape)
  /// A constant tensor embedded in the graph.
  case constant(Constant)
  /// Elementwise unary math.
  case unary(UnaryOp)
  /// `x > 0 ? x : slope * x`.
  case leakyRelu(slope: Float)
  /// Elementwise binary math on operands of equal shape (the DSL inserts broadcasts).
  case binary(BinaryOp)
  /// `select(c, a, b)`: `c != 0 ? a : b`, all three of equal shape.
  case select
  /// Reduction over `axes` (removed from the shape).
  case reduce(ReduceOp, axes: [Int])
  /// Same elements, new shape (row-major order kept).
  case reshape(Shape)
  /// Axis permutation: output axis i is input axis `perm[i]`.
  case transpose([Int])
  /// Repeats size-1 axes to the target shape (same rank).
  case broadcast(Shape)
  /// `x[start..<end by step]` on every axis.
  case slice(start: [Int], end: [Int], step: [Int])
  /// Padding: `interior` zeros between elements (zero-insertion upsampling), `lo`/`hi` at the
  /// ends, filled with zeros or by reflection (reflect: no interior, `lo, hi < n`).
  case pad(lo: [Int], hi: [Int], interior: [Int], mode: PadMode)
  /// Reverses the order of elements along `axes`.
  case reverse([Int])
  /// Concatenation of all inputs along `axis`.
  case concat(axis: Int)
  /// `out[..., i, ...] = x[..., indices[i], ...]` along `axis`.
  case gather(axis: Int, indices: IndexList)
  /// The adjoint of gather: `out[..., indices[i], ...] += x[..., i, ...]`, output length `size`.
  case scatterAdd(axis: Int, indices: IndexList, size: Int)
  /// Batched matrix product `[B..., M, K] x [B..., K, N] -> [B..., M, N]`.
  case matmul
  /// 2-D convolution (cross-correlation), NCHW input, OIHW weight `[O, C/groups, kh, kw]`.
  case conv2d(ConvAttrs)
  /// Transposed convolution (the adjoint of conv2d), weight `[Cin, Cout/groups, kh, kw]`.
  case convTranspose2d(ConvAttrs)
  /// The weight gradient of conv2d: inputs `(x, gradOut)`, output of shape `weightShape`.
  case conv2dWeightGrad(ConvAttrs, weightShape: Shape)
  /// Max pooling (padding counts as -infinity).
  case maxPool2d(PoolAttrs)
  /// The input gradient of max pooling: inputs `(x, gradOut)`; ties go to the first maximum.
  case maxPool2dGrad(PoolAttrs)
  /// Unnormalized discrete Fourier transform over the second-to-last axis of `[..., n, 2]`
  /// (the last axis holds real and imaginary parts). `inverse` flips the exponent's sign.
  case fft(inverse: Bool)

  /// Short name used in dumps, op counts and error messages.
  /// A convolution or one of its adjoints (the GEMM-shaped ops with a window).
  public var isConvolution: Bool {
    switch self {
    case .conv2d, .convTranspose2d, .conv2dWeightGrad: true
    default: false
    }
  }

  public var name: String {
    switch self {
    case .input: "input"
    case .constant: "constant"
    case .unary(let u): u.rawValue
    case .leakyRelu: "leaky_relu"
    case .binary(let b): b.rawValue
    case .select: "select"
    case .reduce(let r, _): "reduce_\(r.rawValue)"
    case .reshape: "reshape"
    case .transpose: "transpose"
    case .broadcast: "broadcast"
    case .slice: "slice"
    case .pad(_, _, _, let m): m == .zero ? "pad" : "pad_reflect"
    case .reverse: "reverse"
    case .concat: "concat"
    case .gather: "gather"
    case .scatterAdd: "scatter_add"
    case .matmul: "matmul"
    case .conv2d: "conv2d"
    case .convTranspose2d: "conv_transpose2d"
    case .conv2dWeightGrad: "conv2d_weight_grad"
    case .maxPool2d: "max_pool2d"
    case .maxPool2dGrad: "max_pool2d_grad"
    case .fft(let inv): inv ? "ifft" : "fft"
    }
  }

  /// True for ops applied independently to each element (the fusion-friendly kind).
  public var isElementwise: Bool {
    switch self {
    case .unary, .leakyRelu, .binary, .select: true
    default: false
    }
  }

  /// The shape rule: the output shape for the given input shapes, or a `GraphError`.
  public func inferShape(_ s: [Shape]) throws -> Shape {
    switch self {
    case .input, .constant: return try Op.leafShape(self)
    case .unary, .leakyRelu, .binary, .select: return try Op.elementwiseShape(self, s)
    case .reduce(_, let axes): return try Op.reduceShape(self, axes, s)
    case .reshape, .transpose, .broadcast, .slice, .pad, .reverse, .concat, .gather, .scatterAdd:
      return try Op.movementShape(self, s)
    case .matmul: return try Op.matmulShape(s)
    case .conv2d, .convTranspose2d, .conv2dWeightGrad, .maxPool2d, .maxPool2dGrad:
      return try Op.convolutionShape(self, s)
    case .fft: return try Op.fftShape(self, s)
    }
  }

  /// The number of inputs the op takes, or nil when variadic.
  public var arity: Int? {
    switch self {
    case .input, .constant: 0
    case .unary, .leakyRelu, .reduce, .reshape, .transpose, .broadcast, .slice, .pad, .reverse,
      .gather, .scatterAdd, .maxPool2d, .fft: 1
    case .binary, .matmul, .conv2d, .convTranspose2d, .conv2dWeightGrad, .maxPool2dGrad: 2
    case .select: 3
    case .concat: nil
    }
  }

  static func leafShape(_ op: Op) throws -> Shape {
    switch op {
    case .constant(let c): return c.shape
    case .input(_, let shape): return shape
    default: fatalError("unreachable")
    }
  }

  /// Shared arity check used by the family shape rules.
  static func expectArity(_ op: Op, _ s: [Shape]) throws {
    if let a = op.arity, a != s.count {
      throw GraphError(op: op.name, message: "expects \(a) inputs, got \(s.count)")
    }
  }
}

/// How `pad` fills the border.
public enum PadMode: String, Hashable, Sendable { case zero, reflect }

/// Convolution attributes. Padding is `[top, bottom, left, right]`; `outputPadding` `[h, w]`
/// is added at the bottom/right of a transposed convolution's output.
public struct ConvAttrs: Hashable, Sendable, CustomStringConvertible {
  public var stride: [Int]
  public var padding: [Int]
  public var groups: Int
  public var outputPadding: [Int]
  public init(stride: [Int] = [1, 1], padding: [Int] = [0, 0, 0, 0], groups: Int = 1, outputPadding: [Int] = [0, 0]) {
    self.stride = stride; self.padding = padding; self.groups = groups; self.outputPadding = outputPadding
  }
  public var description: String {
    var s = "stride=\(stride) pad=\(padding)"
    if groups != 1 { s += " groups=\(groups)" }
    if outputPadding != [0, 0] { s += " outpad=\(outputPadding)" }
    return s
  }
}

/// Pooling attributes (symmetric padding `[h, w]`).
public struct PoolAttrs: Hashable, Sendable, CustomStringConvertible {
  public var kernel: [Int]
  public var stride: [Int]
  public var padding: [Int]
  public init(kernel: [Int], stride: [Int], padding: [Int] = [0, 0]) {
    self.kernel = kernel; self.stride = stride; self.padding = padding
  }
  public var description: String { "kernel=\(kernel) stride=\(stride) pad=\(padding)" }
}

/// A constant's data. Compared and hashed by content so CSE can merge equal constants.
public final class Constant: Hashable, @unchecked Sendable {
  public let shape: Shape
  public let values: [Float]
  /// The hash of `values`' bytes, made once: constants are immutable, and at 1024 pixels
  /// some are megabytes (masks, observations) that every CSE run would otherwise rehash
  /// element by element (about 40 ms of each warm stage build).
  private let valuesHash = Memo<Int>()

  public init(shape: Shape, values: [Float]) {
    precondition(values.count == shape.elementCount)
    self.shape = shape; self.values = values
  }
  /// The single value when every element is equal (a splat), else nil; found once (the
  /// simplification passes ask on every run).
  public var splatValue: Float? {
    splat.get {
      guard let f = values.first else { return nil }
      return values.allSatisfy { $0.bitPattern == f.bitPattern } ? f : nil
    }
  }
  private let splat = Memo<Float?>()
  public static func == (a: Constant, b: Constant) -> Bool {
    a === b || (a.shape == b.shape && a.values.elementsEqual(b.values) { $0.bitPattern == $1.bitPattern })
  }
  public func hash(into h: inout Hasher) {
    h.combine(shape)
    h.combine(valuesHash.get {
      var vh = Hasher()
      values.withUnsafeBytes { vh.combine(bytes: $0) }
      return vh.finalize()
    })
  }
}

/// An index list (for gather/scatter), compared and hashed by content.
public final class IndexList: Hashable, @unchecked Sendable {
  public let values: [Int]
  public init(_ values: [Int]) { self.values = values }
  public static func == (a: IndexList, b: IndexList) -> Bool { a === b || a.values == b.values }
  public func hash(into h: inout Hasher) { h.combine(values) }
}

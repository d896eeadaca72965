import RealModule

/// Elementwise unary ops. Semantics (`apply`) and derivative (`vjp`) sit side by side.
public enum UnaryOp: String, CaseIterable, Hashable, Sendable {
  case neg, sqrt, rsqrt, exp, log, abs, sign, tanh, sigmoid, relu, square, reciprocal, sin, cos, floor

  /// The op on one scalar; the interpreter's definition of the op.
  @inlinable public func apply<T: Real & BinaryFloatingPoint>(_ x: T) -> T {
    switch self {
    case .neg: -x
    case .sqrt: T.sqrt(x)
    case .rsqrt: 1 / T.sqrt(x)
    case .exp: T.exp(x)
    case .log: T.log(x)
    case .abs: Swift.abs(x)
    case .sign: x > 0 ? 1 : (x < 0 ? -1 : (x.isNaN ? x : 0))
    case .tanh: T.tanh(x)
    case .sigmoid: 1 / (1 + T.exp(-x))
    case .relu: x > 0 ? x : (x.isNaN ? x : 0)
    case .square: x * x
    case .reciprocal: 1 / x
    case .sin: T.sin(x)
    case .cos: T.cos(x)
    case .floor: x.rounded(.down)
    }
  }

  /// Gradient w.r.t. x, from x, y = op(x) and the output gradient g; nil means zero.
  func vjp(x: Tensor, y: Tensor, g: Tensor) -> Tensor? {
    switch self {
    case .neg: -g
    case .sqrt: g * 0.5 / y
    case .rsqrt: g * -0.5 * y * y * y
    case .exp: g * y
    case .log: g / x
    case .abs: g * GraphIR.sign(x)
    case .sign, .floor: nil
    case .tanh: g * (1 - y * y)
    case .sigmoid: g * y * (1 - y)
    case .relu: GraphIR.select(x > 0, g, GraphIR.zerosLike(g))
    case .square: g * 2 * x
    case .reciprocal: -g * y * y
    case .sin: g * GraphIR.cos(x)
    case .cos: -g * GraphIR.sin(x)
    }
  }
}

/// Elementwise binary ops on equal shapes. Comparisons return 1 or 0.
public enum BinaryOp: String, CaseIterable, Hashable, Sendable {
  case add, sub, mul, div, max, min, pow, atan2, lt, le, gt, ge, eq, ne

  @inlinable public func apply<T: Real & BinaryFloatingPoint>(_ a: T, _ b: T) -> T {
    switch self {
    case .add: a + b
    case .sub: a - b
    case .mul: a * b
    case .div: a / b
    case .max: (a >= b || a.isNaN) ? a : b
    case .min: (a <= b || a.isNaN) ? a : b
    case .pow: T.pow(a, b)
    case .atan2: T.atan2(y: a, x: b)
    case .lt: a < b ? 1 : 0
    case .le: a <= b ? 1 : 0
    case .gt: a > b ? 1 : 0
    case .ge: a >= b ? 1 : 0
    case .eq: a == b ? 1 : 0
    case .ne: a != b ? 1 : 0
    }
  }

  public var isComparison: Bool { [.lt, .le, .gt, .ge, .eq, .ne].contains(self) }
  public var isCommutative: Bool { [.add, .mul, .max, .min, .eq, .ne].contains(self) }

  /// Gradients w.r.t. (a, b), from the inputs, y = op(a, b) and the output gradient g.
  func vjp(a: Tensor, b: Tensor, y: Tensor, g: Tensor) -> (Tensor?, Tensor?) {
    switch self {
    case .add: (g, g)
    case .sub: (g, -g)
    case .mul: (g * b, g * a)
    case .div: (g / b, -g * y / b)
    case .max: (GraphIR.select(a >= b, g, GraphIR.zerosLike(g)), GraphIR.select(a >= b, GraphIR.zerosLike(g), g))
    case .min: (GraphIR.select(a <= b, g, GraphIR.zerosLike(g)), GraphIR.select(a <= b, GraphIR.zerosLike(g), g))
    case .pow: (g * b * GraphIR.pow(a, b - 1), g * y * GraphIR.log(a))
    case .atan2: (g * b / (a * a + b * b), -g * a / (a * a + b * b))  // a = y, b = x
    case .lt, .le, .gt, .ge, .eq, .ne: (nil, nil)
    }
  }
}

extension Op {
  static func elementwiseShape(_ op: Op, _ s: [Shape]) throws -> Shape {
    try expectArity(op, s)
    for t in s.dropFirst() where t != s[0] {
      throw GraphError(op: op.name, message: "operand shapes differ: " + s.map(\.shapeText).joined(separator: " vs "))
    }
    return s[0]
  }

  /// VJP rules of the elementwise family.
  static func elementwiseVJP(_ op: Op, _ x: [Tensor], _ y: Tensor, _ g: Tensor) -> [Tensor?] {
    switch op {
    case .unary(let u): return [u.vjp(x: x[0], y: y, g: g)]
    case .leakyRelu(let slope): return [GraphIR.select(x[0] > 0, g, g * slope)]
    case .binary(let b): let (ga, gb) = b.vjp(a: x[0], b: x[1], y: y, g: g); return [ga, gb]
    case .select: return [nil, GraphIR.select(x[0], g, GraphIR.zerosLike(g)), GraphIR.select(x[0], GraphIR.zerosLike(g), g)]
    default: fatalError("not elementwise: \(op)")
    }
  }
}

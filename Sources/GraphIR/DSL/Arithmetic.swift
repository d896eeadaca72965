/// The builder DSL: functions and operators that add nodes to the operands' graph, so model
/// code reads like the math: `leakyRelu(conv2d(x, w, padding: 1) + b, slope: 0.2) * sqrt(2)`.
/// Binary operands broadcast with NumPy rules; scalars (`Float`) become constants.

/// Broadcasts two values to their common shape (NumPy rules), recording an error if impossible.
func broadcastPair(_ a: Tensor, _ b: Tensor, op: String) -> (Tensor, Tensor)? {
  precondition(a.graph === b.graph, "operands of '\(op)' belong to different graphs")
  if a.shape == b.shape { return (a, b) }
  guard let s = broadcastShapes(a.shape, b.shape) else {
    _ = a.graph.fail(GraphError(op: op, message: "cannot broadcast \(a.shape.shapeText) with \(b.shape.shapeText)"))
    return nil
  }
  return (broadcast(a, to: s), broadcast(b, to: s))
}

func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
  guard let (x, y) = broadcastPair(a, b, op: op.rawValue) else { return a.graph.fail(a.graph.error!) }
  return a.graph.add(.binary(op), [x, y])
}

func unary(_ op: UnaryOp, _ x: Tensor) -> Tensor { x.graph.add(.unary(op), [x]) }

extension Tensor {
  public static func + (a: Tensor, b: Tensor) -> Tensor { binary(.add, a, b) }
  public static func - (a: Tensor, b: Tensor) -> Tensor { binary(.sub, a, b) }
  public static func * (a: Tensor, b: Tensor) -> Tensor { binary(.mul, a, b) }
  public static func / (a: Tensor, b: Tensor) -> Tensor { binary(.div, a, b) }
  public static func + (a: Tensor, b: Float) -> Tensor { a + a.graph.scalar(b) }
  public static func - (a: Tensor, b: Float) -> Tensor { a - a.graph.scalar(b) }
  public static func * (a: Tensor, b: Float) -> Tensor { a * a.graph.scalar(b) }
  public static func / (a: Tensor, b: Float) -> Tensor { a / a.graph.scalar(b) }
  public static func + (a: Float, b: Tensor) -> Tensor { b.graph.scalar(a) + b }
  public static func - (a: Float, b: Tensor) -> Tensor { b.graph.scalar(a) - b }
  public static func * (a: Float, b: Tensor) -> Tensor { b.graph.scalar(a) * b }
  public static func / (a: Float, b: Tensor) -> Tensor { b.graph.scalar(a) / b }
  public static prefix func - (a: Tensor) -> Tensor { unary(.neg, a) }
  public static func += (a: inout Tensor, b: Tensor) { a = a + b }
  public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
  /// Elementwise comparisons (1 where true, 0 elsewhere).
  public static func < (a: Tensor, b: Tensor) -> Tensor { binary(.lt, a, b) }
  public static func <= (a: Tensor, b: Tensor) -> Tensor { binary(.le, a, b) }
  public static func > (a: Tensor, b: Tensor) -> Tensor { binary(.gt, a, b) }
  public static func >= (a: Tensor, b: Tensor) -> Tensor { binary(.ge, a, b) }
  public static func < (a: Tensor, b: Float) -> Tensor { a < a.graph.scalar(b) }
  public static func <= (a: Tensor, b: Float) -> Tensor { a <= a.graph.scalar(b) }
  public static func > (a: Tensor, b: Float) -> Tensor { a > a.graph.scalar(b) }
  public static func >= (a: Tensor, b: Float) -> Tensor { a >= a.graph.scalar(b) }
}

public func sqrt(_ x: Tensor) -> Tensor { unary(.sqrt, x) }
public func rsqrt(_ x: Tensor) -> Tensor { unary(.rsqrt, x) }
public func exp(_ x: Tensor) -> Tensor { unary(.exp, x) }
public func log(_ x: Tensor) -> Tensor { unary(.log, x) }
public func abs(_ x: Tensor) -> Tensor { unary(.abs, x) }
public func sign(_ x: Tensor) -> Tensor { unary(.sign, x) }
public func tanh(_ x: Tensor) -> Tensor { unary(.tanh, x) }
public func sigmoid(_ x: Tensor) -> Tensor { unary(.sigmoid, x) }
public func relu(_ x: Tensor) -> Tensor { unary(.relu, x) }
public func square(_ x: Tensor) -> Tensor { unary(.square, x) }
public func reciprocal(_ x: Tensor) -> Tensor { unary(.reciprocal, x) }
public func sin(_ x: Tensor) -> Tensor { unary(.sin, x) }
public func cos(_ x: Tensor) -> Tensor { unary(.cos, x) }
public func floor(_ x: Tensor) -> Tensor { unary(.floor, x) }
/// `x > 0 ? x : slope * x`.
public func leakyRelu(_ x: Tensor, slope: Float) -> Tensor { x.graph.add(.leakyRelu(slope: slope), [x]) }
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.max, a, b) }
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.min, a, b) }
public func pow(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.pow, a, b) }
public func pow(_ a: Tensor, _ b: Float) -> Tensor { binary(.pow, a, a.graph.scalar(b)) }
/// The angle of the point (x, y), in (-pi, pi], as `atan2(y:x:)` in libm.
public func atan2(_ y: Tensor, _ x: Tensor) -> Tensor { binary(.atan2, y, x) }
/// Elementwise equality (1 where equal).
public func eq(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.eq, a, b) }
public func ne(_ a: Tensor, _ b: Tensor) -> Tensor { binary(.ne, a, b) }
/// `c != 0 ? a : b`, with broadcasting of all three.
public func select(_ c: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
  guard let s = broadcastShapes(c.shape, a.shape).flatMap({ broadcastShapes($0, b.shape) }) else {
    return c.graph.fail(GraphError(op: "select", message: "cannot broadcast \(c.shape.shapeText), \(a.shape.shapeText), \(b.shape.shapeText)"))
  }
  return c.graph.add(.select, [broadcast(c, to: s), broadcast(a, to: s), broadcast(b, to: s)])
}
/// A tensor of `value` with x's shape (a broadcast scalar constant).
public func full(like x: Tensor, _ value: Float) -> Tensor { broadcast(x.graph.scalar(value), to: x.shape) }
public func zerosLike(_ x: Tensor) -> Tensor { full(like: x, 0) }
public func onesLike(_ x: Tensor) -> Tensor { full(like: x, 1) }

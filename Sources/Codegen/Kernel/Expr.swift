// Expressions of the kernel IR: integer index arithmetic, float values and booleans.
//
// Three separate enums keep the IR well typed by construction: an index is always an
// `IntExpr` (64-bit signed), a value is always a `FloatExpr` (32-bit IEEE float) and a
// condition is a `BoolExpr`. Every expression is pure and evaluated eagerly, including both
// arms of a `select` (that is what keeps loops branch-free and vectorizable). Consequently a
// load must be in bounds on every iteration, even inside an unselected arm: express zero
// padding as `select(inside, buf[clamped index], 0)`, not as a guarded out-of-bounds load.

/// Integer binary operators (on 64-bit signed values).
public enum IntBinaryOp: String, Hashable, Codable, Sendable, CaseIterable {
  case add, sub, mul
  /// Division rounding toward negative infinity (Python's `//`); the divisor must be nonzero.
  case floorDiv
  /// Remainder with the sign of the divisor (Python's `%`), so `a == b * floorDiv(a, b) + mod(a, b)`.
  case mod
  case min, max
}

/// An integer (index) expression, 64-bit signed.
public indirect enum IntExpr: Hashable, Codable, Sendable {
  case const(Int)
  /// A loop variable or an integer `let`, by name.
  case variable(String)
  /// The kernel's scalar parameter number `n` (0-based), passed at call time.
  case scalar(Int)
  case binary(IntBinaryOp, IntExpr, IntExpr)
  case select(BoolExpr, IntExpr, IntExpr)
}

/// Float unary operators.
public enum FloatUnaryOp: String, Hashable, Codable, Sendable, CaseIterable {
  case neg, abs
  /// -1, +1, or the input itself for ±0 and NaN.
  case sign
  case sqrt
  /// `1 / sqrt(x)`, computed exactly as that (a square root and a division).
  case rsqrt
  /// Polynomial approximations emitted inline (see `MathEmitter`); relative error ~1e-7.
  case exp, log, tanh, sigmoid
  case floor
}

/// Float binary operators.
public enum FloatBinaryOp: String, Hashable, Codable, Sendable, CaseIterable {
  case add, sub, mul, div
  /// IEEE 754-2019 `minimum`/`maximum`: a NaN operand gives NaN (like `torch.minimum`), and
  /// -0 < +0.
  case min, max
  /// `atan2(y, x)` with all quadrants, zeros and infinities as in C's `atan2f`.
  case atan2
}

/// Comparison operators; on floats they are ordered (any NaN operand gives `false`) except
/// `ne`, which is unordered (`NaN != x` is `true`), matching Swift and C.
public enum CompareOp: String, Hashable, Codable, Sendable, CaseIterable {
  case lt, le, gt, ge, eq, ne
}

/// A float (32-bit) expression.
public indirect enum FloatExpr: Hashable, Codable, Sendable {
  case const(Float)
  /// `buffers[buffer][index]`.
  case load(buffer: Int, index: IntExpr)
  /// A float `let` or an accumulator, by name.
  case variable(String)
  case unary(FloatUnaryOp, FloatExpr)
  case binary(FloatBinaryOp, FloatExpr, FloatExpr)
  /// `a * b + c`; fused (one rounding) when the target has FMA.
  case fma(FloatExpr, FloatExpr, FloatExpr)
  case select(BoolExpr, FloatExpr, FloatExpr)
  /// Integer to float conversion (round to nearest).
  case fromInt(IntExpr)
}

/// A boolean expression (conditions for `select`).
public indirect enum BoolExpr: Hashable, Codable, Sendable {
  case const(Bool)
  case compareFloat(CompareOp, FloatExpr, FloatExpr)
  case compareInt(CompareOp, IntExpr, IntExpr)
  case and(BoolExpr, BoolExpr)
  case or(BoolExpr, BoolExpr)
  case not(BoolExpr)
}

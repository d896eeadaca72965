// Convenience constructors and operators for writing kernel IR by hand (tests, the lowering
// from the graph). They only build values of the enums; nothing here evaluates anything.
//
// `==`/`!=` are deliberately not overloaded (the types are Equatable); use `.eq`/`.ne`.
// Integer `%`/`/` are not overloaded either, because their Swift meaning truncates while the
// IR's `mod`/`floorDiv` round toward negative infinity.

extension IntExpr: ExpressibleByIntegerLiteral {
  public init(integerLiteral value: Int) { self = .const(value) }

  public static func + (a: IntExpr, b: IntExpr) -> IntExpr { .binary(.add, a, b) }
  public static func - (a: IntExpr, b: IntExpr) -> IntExpr { .binary(.sub, a, b) }
  public static func * (a: IntExpr, b: IntExpr) -> IntExpr { .binary(.mul, a, b) }
  public static prefix func - (a: IntExpr) -> IntExpr { .binary(.sub, 0, a) }
  public static func floorDiv(_ a: IntExpr, _ b: IntExpr) -> IntExpr { .binary(.floorDiv, a, b) }
  public static func mod(_ a: IntExpr, _ b: IntExpr) -> IntExpr { .binary(.mod, a, b) }
  public static func min(_ a: IntExpr, _ b: IntExpr) -> IntExpr { .binary(.min, a, b) }
  public static func max(_ a: IntExpr, _ b: IntExpr) -> IntExpr { .binary(.max, a, b) }
  /// `min(max(a, lo), hi)`.
  public static func clamp(_ a: IntExpr, _ lo: IntExpr, _ hi: IntExpr) -> IntExpr {
    .min(.max(a, lo), hi)
  }

  public static func < (a: IntExpr, b: IntExpr) -> BoolExpr { .compareInt(.lt, a, b) }
  public static func <= (a: IntExpr, b: IntExpr) -> BoolExpr { .compareInt(.le, a, b) }
  public static func > (a: IntExpr, b: IntExpr) -> BoolExpr { .compareInt(.gt, a, b) }
  public static func >= (a: IntExpr, b: IntExpr) -> BoolExpr { .compareInt(.ge, a, b) }
}

extension FloatExpr: ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
  public init(floatLiteral value: Float) { self = .const(value) }
  public init(integerLiteral value: Int) { self = .const(Float(value)) }

  public static func + (a: FloatExpr, b: FloatExpr) -> FloatExpr { .binary(.add, a, b) }
  public static func - (a: FloatExpr, b: FloatExpr) -> FloatExpr { .binary(.sub, a, b) }
  public static func * (a: FloatExpr, b: FloatExpr) -> FloatExpr { .binary(.mul, a, b) }
  public static func / (a: FloatExpr, b: FloatExpr) -> FloatExpr { .binary(.div, a, b) }
  public static prefix func - (a: FloatExpr) -> FloatExpr { .unary(.neg, a) }

  public static func min(_ a: FloatExpr, _ b: FloatExpr) -> FloatExpr { .binary(.min, a, b) }
  public static func max(_ a: FloatExpr, _ b: FloatExpr) -> FloatExpr { .binary(.max, a, b) }
  public static func atan2(_ y: FloatExpr, _ x: FloatExpr) -> FloatExpr { .binary(.atan2, y, x) }
  public static func abs(_ a: FloatExpr) -> FloatExpr { .unary(.abs, a) }
  public static func sign(_ a: FloatExpr) -> FloatExpr { .unary(.sign, a) }
  public static func sqrt(_ a: FloatExpr) -> FloatExpr { .unary(.sqrt, a) }
  public static func rsqrt(_ a: FloatExpr) -> FloatExpr { .unary(.rsqrt, a) }
  public static func exp(_ a: FloatExpr) -> FloatExpr { .unary(.exp, a) }
  public static func log(_ a: FloatExpr) -> FloatExpr { .unary(.log, a) }
  public static func tanh(_ a: FloatExpr) -> FloatExpr { .unary(.tanh, a) }
  public static func sigmoid(_ a: FloatExpr) -> FloatExpr { .unary(.sigmoid, a) }
  public static func floor(_ a: FloatExpr) -> FloatExpr { .unary(.floor, a) }

  public static func < (a: FloatExpr, b: FloatExpr) -> BoolExpr { .compareFloat(.lt, a, b) }
  public static func <= (a: FloatExpr, b: FloatExpr) -> BoolExpr { .compareFloat(.le, a, b) }
  public static func > (a: FloatExpr, b: FloatExpr) -> BoolExpr { .compareFloat(.gt, a, b) }
  public static func >= (a: FloatExpr, b: FloatExpr) -> BoolExpr { .compareFloat(.ge, a, b) }
}

extension BoolExpr {
  public static func && (a: BoolExpr, b: BoolExpr) -> BoolExpr { .and(a, b) }
  public static func || (a: BoolExpr, b: BoolExpr) -> BoolExpr { .or(a, b) }
  public static prefix func ! (a: BoolExpr) -> BoolExpr { .not(a) }
  public static func eq(_ a: FloatExpr, _ b: FloatExpr) -> BoolExpr { .compareFloat(.eq, a, b) }
  public static func ne(_ a: FloatExpr, _ b: FloatExpr) -> BoolExpr { .compareFloat(.ne, a, b) }
  public static func eq(_ a: IntExpr, _ b: IntExpr) -> BoolExpr { .compareInt(.eq, a, b) }
  public static func ne(_ a: IntExpr, _ b: IntExpr) -> BoolExpr { .compareInt(.ne, a, b) }
}

extension Stmt {
  /// `for variable in 0..<extent { body }`.
  public static func loop(_ variable: String, _ extent: Int, _ body: [Stmt]) -> Stmt {
    .loop(Loop(variable, extent, body))
  }
}

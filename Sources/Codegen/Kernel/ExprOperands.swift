// The operands of kernel IR expressions, listed in one place. Searches, collections, checks and
// rewrites of expressions visit operands through these instead of each repeating the case
// analysis of the three expression enums (and each having to be updated when a case is added).

/// An expression of any of the three kinds.
public enum ExprNode: Hashable, Sendable {
  case int(IntExpr)
  case float(FloatExpr)
  case bool(BoolExpr)

  /// The direct operands, left to right.
  public var operands: [ExprNode] {
    switch self {
    case .int(let e): return e.operands
    case .float(let e): return e.operands
    case .bool(let e): return e.operands
    }
  }

  /// Whether `predicate` holds for this expression or any expression inside it (depth first,
  /// stopping at the first match).
  public func contains(where predicate: (ExprNode) -> Bool) -> Bool {
    predicate(self) || operands.contains { $0.contains(where: predicate) }
  }

  /// Whether this expression reads any of the integer variables `names` (conditions of selects
  /// included).
  public func reads(_ names: Set<String>) -> Bool {
    contains { node in
      if case .int(.variable(let n)) = node { return names.contains(n) }
      return false
    }
  }

  /// Calls `body` on this expression and on every expression inside it, depth first, operands
  /// left to right.
  public func forEachNode(_ body: (ExprNode) -> Void) {
    body(self)
    for o in operands { o.forEachNode(body) }
  }
}

extension IntExpr {
  public var operands: [ExprNode] {
    switch self {
    case .const, .variable, .scalar: return []
    case .binary(_, let a, let b): return [.int(a), .int(b)]
    case .select(let c, let a, let b): return [.bool(c), .int(a), .int(b)]
    }
  }

  /// This expression with each direct operand replaced by what `r` makes of it.
  public func mapOperands(_ r: ExprRewriter) -> IntExpr {
    switch self {
    case .const, .variable, .scalar: return self
    case .binary(let op, let a, let b): return .binary(op, r.int(a), r.int(b))
    case .select(let c, let a, let b): return .select(r.bool(c), r.int(a), r.int(b))
    }
  }
}

extension FloatExpr {
  public var operands: [ExprNode] {
    switch self {
    case .const, .variable: return []
    case .load(_, let i), .fromInt(let i): return [.int(i)]
    case .unary(_, let a): return [.float(a)]
    case .binary(_, let a, let b): return [.float(a), .float(b)]
    case .fma(let a, let b, let c): return [.float(a), .float(b), .float(c)]
    case .select(let c, let a, let b): return [.bool(c), .float(a), .float(b)]
    }
  }

  public func mapOperands(_ r: ExprRewriter) -> FloatExpr {
    switch self {
    case .const, .variable: return self
    case .load(let b, let i): return .load(buffer: b, index: r.int(i))
    case .fromInt(let i): return .fromInt(r.int(i))
    case .unary(let op, let a): return .unary(op, r.float(a))
    case .binary(let op, let a, let b): return .binary(op, r.float(a), r.float(b))
    case .fma(let a, let b, let c): return .fma(r.float(a), r.float(b), r.float(c))
    case .select(let c, let a, let b): return .select(r.bool(c), r.float(a), r.float(b))
    }
  }
}

extension BoolExpr {
  public var operands: [ExprNode] {
    switch self {
    case .const: return []
    case .compareFloat(_, let a, let b): return [.float(a), .float(b)]
    case .compareInt(_, let a, let b): return [.int(a), .int(b)]
    case .and(let a, let b), .or(let a, let b): return [.bool(a), .bool(b)]
    case .not(let a): return [.bool(a)]
    }
  }

  public func mapOperands(_ r: ExprRewriter) -> BoolExpr {
    switch self {
    case .const: return self
    case .compareFloat(let op, let a, let b): return .compareFloat(op, r.float(a), r.float(b))
    case .compareInt(let op, let a, let b): return .compareInt(op, r.int(a), r.int(b))
    case .and(let a, let b): return .and(r.bool(a), r.bool(b))
    case .or(let a, let b): return .or(r.bool(a), r.bool(b))
    case .not(let a): return .not(r.bool(a))
    }
  }
}

/// A rewrite of expressions of each kind, for `mapOperands`. A rewrite that changes only some
/// cases handles those and hands every other expression back to `mapOperands` with itself,
/// which rebuilds the expression from rewritten operands.
public struct ExprRewriter {
  public var int: (IntExpr) -> IntExpr
  public var float: (FloatExpr) -> FloatExpr
  public var bool: (BoolExpr) -> BoolExpr

  public init(int: @escaping (IntExpr) -> IntExpr, float: @escaping (FloatExpr) -> FloatExpr,
              bool: @escaping (BoolExpr) -> BoolExpr) {
    self.int = int
    self.float = float
    self.bool = bool
  }
}

extension Stmt {
  /// The expressions this statement computes (not those of a nested loop's body).
  public var expressions: [ExprNode] {
    switch self {
    case .store(_, let i, let v): return [.int(i), .float(v)]
    case .letFloat(_, let v), .accumulate(_, let v): return [.float(v)]
    case .letInt(_, let i): return [.int(i)]
    case .accumulator, .loop: return []
    }
  }

  /// Whether `predicate` holds for an expression in this statement or, for a loop, anywhere in
  /// its body.
  public func containsExpression(where predicate: (ExprNode) -> Bool) -> Bool {
    if case .loop(let l) = self { return l.body.contains { $0.containsExpression(where: predicate) } }
    return expressions.contains { $0.contains(where: predicate) }
  }
}

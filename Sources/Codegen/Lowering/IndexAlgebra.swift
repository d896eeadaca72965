/// Smart constructors for index expressions that fold constants and use value ranges of loop
/// variables, so the indices of fused kernels come out as simple affine forms the LLVM
/// vectorizer recognizes (e.g. `floorDiv(o*4096 + i, 4096)` becomes `o`).
struct IndexAlgebra {
  /// Inclusive value ranges of loop variables.
  var ranges: [String: ClosedRange<Int>] = [:]

  func range(_ e: IntExpr) -> ClosedRange<Int>? {
    switch e {
    case .const(let v): return v...v
    case .variable(let n): return ranges[n]
    case .scalar: return nil
    case .binary(let op, let a, let b):
      guard let ra = range(a), let rb = range(b) else {
        if op == .mod, case .const(let d) = b, d > 0 { return 0...(d - 1) }
        return nil
      }
      switch op {
      case .add: return (ra.lowerBound + rb.lowerBound)...(ra.upperBound + rb.upperBound)
      case .sub: return (ra.lowerBound - rb.upperBound)...(ra.upperBound - rb.lowerBound)
      case .mul:
        let p = [ra.lowerBound * rb.lowerBound, ra.lowerBound * rb.upperBound, ra.upperBound * rb.lowerBound, ra.upperBound * rb.upperBound]
        return p.min()!...p.max()!
      case .floorDiv:
        guard rb.lowerBound == rb.upperBound, rb.lowerBound > 0 else { return nil }
        let d = rb.lowerBound
        return Self.fdiv(ra.lowerBound, d)...Self.fdiv(ra.upperBound, d)
      case .mod:
        guard rb.lowerBound == rb.upperBound, rb.lowerBound > 0 else { return nil }
        return 0...(rb.lowerBound - 1)
      case .min: return min(ra.lowerBound, rb.lowerBound)...min(ra.upperBound, rb.upperBound)
      case .max: return max(ra.lowerBound, rb.lowerBound)...max(ra.upperBound, rb.upperBound)
      }
    case .select(_, let a, let b):
      guard let ra = range(a), let rb = range(b) else { return nil }
      return min(ra.lowerBound, rb.lowerBound)...max(ra.upperBound, rb.upperBound)
    }
  }

  static func fdiv(_ a: Int, _ b: Int) -> Int { let q = a / b; return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q }
  static func fmod(_ a: Int, _ b: Int) -> Int { a - b * fdiv(a, b) }

  func add(_ a: IntExpr, _ b: IntExpr) -> IntExpr {
    switch (a, b) {
    case (.const(let x), .const(let y)): return .const(x + y)
    case (.const(0), _): return b
    case (_, .const(0)): return a
    case (.binary(.add, let p, .const(let x)), .const(let y)): return add(p, .const(x + y))
    default: return .binary(.add, a, b)
    }
  }

  func sub(_ a: IntExpr, _ b: IntExpr) -> IntExpr {
    if case .const(let y) = b { return add(a, .const(-y)) }
    if a == b { return .const(0) }
    return .binary(.sub, a, b)
  }

  func mul(_ a: IntExpr, _ k: Int) -> IntExpr {
    switch a {
    case _ where k == 0: return .const(0)
    case _ where k == 1: return a
    case .const(let x): return .const(x * k)
    case .binary(.mul, let p, .const(let x)): return mul(p, x * k)
    case .binary(.add, let p, let q): return add(mul(p, k), mul(q, k))
    default: return .binary(.mul, a, .const(k))
    }
  }

  /// Splits `e` into a sum of terms `t * m` with constant multipliers, plus a remainder.
  private func terms(_ e: IntExpr) -> [(IntExpr, Int)] {
    switch e {
    case .binary(.add, let a, let b): return terms(a) + terms(b)
    case .binary(.mul, let a, .const(let k)): return [(a, k)]
    case .const(let k): return [(.const(1), k)]
    default: return [(e, 1)]
    }
  }

  private func rebuild(_ ts: [(IntExpr, Int)]) -> IntExpr {
    var c = 0
    var out: IntExpr = .const(0)
    for (t, k) in ts {
      if case .const(1) = t { c += k } else { out = add(out, mul(t, k)) }
    }
    return add(out, .const(c))
  }

  func floorDiv(_ a: IntExpr, _ d: Int) -> IntExpr {
    precondition(d > 0)
    if d == 1 { return a }
    if case .const(let x) = a { return .const(Self.fdiv(x, d)) }
    if let r = range(a), r.lowerBound >= 0, r.upperBound < d { return .const(0) }
    // floorDiv(sum of t*m + rest, d) = sum of t*(m/d) + floorDiv(rest, d) for d | m.
    let ts = terms(a)
    let divisible = ts.filter { $0.1 % d == 0 }
    if !divisible.isEmpty {
      let rest = rebuild(ts.filter { $0.1 % d != 0 })
      return add(rebuild(divisible.map { ($0.0, $0.1 / d) }), floorDiv(rest, d))
    }
    return .binary(.floorDiv, a, .const(d))
  }

  func mod(_ a: IntExpr, _ d: Int) -> IntExpr {
    precondition(d > 0)
    if d == 1 { return .const(0) }
    if case .const(let x) = a { return .const(Self.fmod(x, d)) }
    if let r = range(a), r.lowerBound >= 0, r.upperBound < d { return a }
    let ts = terms(a)
    if ts.contains(where: { $0.1 % d == 0 }) { return mod(rebuild(ts.filter { $0.1 % d != 0 }), d) }
    return .binary(.mod, a, .const(d))
  }

  func clamp(_ a: IntExpr, _ lo: Int, _ hi: Int) -> IntExpr {
    if let r = range(a), r.lowerBound >= lo, r.upperBound <= hi { return a }
    var e = a
    if range(a).map({ $0.lowerBound < lo }) ?? true { e = .binary(.max, e, .const(lo)) }
    if range(a).map({ $0.upperBound > hi }) ?? true { e = .binary(.min, e, .const(hi)) }
    return e
  }

  /// `a < b` folded when the ranges decide it.
  func less(_ a: IntExpr, _ b: Int) -> BoolExpr {
    if let r = range(a) { if r.upperBound < b { return .const(true) }; if r.lowerBound >= b { return .const(false) } }
    return .compareInt(.lt, a, .const(b))
  }
  func atLeast(_ a: IntExpr, _ b: Int) -> BoolExpr {
    if let r = range(a) { if r.lowerBound >= b { return .const(true) }; if r.upperBound < b { return .const(false) } }
    return .compareInt(.ge, a, .const(b))
  }
  func and(_ a: BoolExpr, _ b: BoolExpr) -> BoolExpr {
    switch (a, b) {
    case (.const(true), _): return b
    case (_, .const(true)): return a
    case (.const(false), _), (_, .const(false)): return .const(false)
    default: return .and(a, b)
    }
  }

  /// `buffer[plane + iy * width + ix]`, zero outside the height x width plane: the load reads
  /// clamped coordinates (always in bounds) and a select zeroes it, both dropped where the ranges
  /// show (iy, ix) inside.
  func zeroPaddedLoad(buffer: Int, plane: IntExpr, row iy: IntExpr, column ix: IntExpr,
                      height h: Int, width w: Int) -> FloatExpr {
    let valid = and(and(atLeast(iy, 0), less(iy, h)), and(atLeast(ix, 0), less(ix, w)))
    let v: FloatExpr = .load(buffer: buffer, index: add(plane, add(mul(clamp(iy, 0, h - 1), w), clamp(ix, 0, w - 1))))
    return valid == .const(true) ? v : .select(valid, v, .const(0))
  }

  /// One loop of `variable` per (start, count) segment, each from 0 with its own range, so that
  /// `body` (given these ranges and the position `variable + start`) simplifies for its segment:
  /// the row interiors of `KernelLowering.rowSegments` lose their clamps and masks.
  func segmentLoops(_ variable: String, _ segments: [(Int, Int)],
                    _ body: (inout IndexAlgebra, IntExpr) -> [Stmt]) -> [Stmt] {
    segments.map { start, count in
      var segment = self
      segment.ranges[variable] = 0...(count - 1)
      let position = segment.add(.variable(variable), .const(start))
      return .loop(Loop(variable, count, body(&segment, position)))
    }
  }

  /// Row-major linear index of coordinates.
  func linear(_ coords: [IntExpr], _ shape: Shape) -> IntExpr {
    var e: IntExpr = .const(0)
    for (c, s) in zip(coords, shape.rowMajorStrides) { e = add(e, mul(c, s)) }
    return e
  }

  /// Coordinates of element `o * inner + i` of `shape`, where `inner` is a suffix product of
  /// the shape: outer axes from `o` alone and inner axes from `i` alone, so that coordinates
  /// of outer axes are visibly invariant in the inner loop.
  func coords(outer o: IntExpr, inner i: IntExpr, innerExtent: Int, _ shape: Shape) -> [IntExpr] {
    let st = shape.rowMajorStrides
    return shape.indices.map { k in
      if shape[k] == 1 { return .const(0) }
      if st[k] >= innerExtent && st[k] % innerExtent == 0 { return mod(floorDiv(o, st[k] / innerExtent), shape[k]) }
      return mod(floorDiv(i, st[k]), shape[k])
    }
  }

  /// Coordinates of a row-major linear index.
  func coords(_ lin: IntExpr, _ shape: Shape) -> [IntExpr] {
    let st = shape.rowMajorStrides
    return shape.indices.map { k in
      shape[k] == 1 ? .const(0) : mod(floorDiv(lin, st[k]), shape[k])
    }
  }
}

import GraphIR

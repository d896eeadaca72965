/// Elementwise loops whose body tests the parity of the loop variable, unrolled by two.
///
/// Why: a strided transposed convolution is interleaved back from its phases by zero-inserting
/// pads (`TransposedConvPhases`), which fuse into one kernel computing, for every output
/// element, four selects on `mod(i, 2)` and `mod(row, 2)` with four loads (StyleGAN2's
/// upsampling at 256: 8.5 GB/s, 7.8 ms a call). With `i = 2j` and `i = 2j + 1` bound in one
/// iteration, LLVM folds the column parities to constants, drops the dead loads and stores the
/// pair as one interleaved group. Each element is computed by the same expression as before, so
/// the bits do not change.
enum ParityUnroll {
  /// The loop `for v in 0..<n { body }` as `for v_pair in 0..<n/2 { let v = 2 v_pair; body;
  /// let v = 2 v_pair + 1; body }` (and the last element after it when n is odd), when `body`
  /// takes `mod(_, 2)` of an expression of `v`; nil otherwise.
  static func unrolled(_ loop: Loop) -> Loop? {
    let v = loop.variable, pair = v + "_pair"
    guard loop.extent >= 4, loop.body.contains(where: { testsParity($0, of: v) }) else { return nil }
    let even: IntExpr = .binary(.mul, .variable(pair), .const(2))
    let odd: IntExpr = .binary(.add, even, .const(1))
    let body = [Stmt.letInt(v, even)] + loop.body + [.letInt(v, odd)] + loop.body
    return Loop(pair, loop.extent / 2, body)
  }

  /// `loop` (an elementwise kernel's inner loop) unrolled by two when that pays, as statements.
  static func statements(_ loop: Loop) -> [Stmt] {
    guard let pairs = unrolled(loop) else { return [.loop(loop)] }
    guard loop.extent % 2 == 1 else { return [.loop(pairs)] }
    return [.loop(pairs), .letInt(loop.variable, .const(loop.extent - 1))] + loop.body
  }

  /// Whether `s` takes `mod(_, 2)` of an index expression that depends on `v`.
  static func testsParity(_ s: Stmt, of v: String) -> Bool {
    s.containsExpression { node in
      guard case .int(.binary(.mod, let a, .const(2))) = node else { return false }
      return ExprNode.int(a).reads([v])
    }
  }
}

import Testing
@testable import Codegen

/// `ExprOperands`: the one list of each expression case's operands, and the walks built on it.
@Suite struct ExprOperandsTests {
  /// A float expression that uses every case of the three expression enums, with its nodes
  /// counted by hand (`nodes`) and its loads listed in the order a depth-first walk meets them.
  static let i: IntExpr = .variable("i")
  static let index: IntExpr = .select(.compareInt(.lt, i, .scalar(0)),
                                      .binary(.floorDiv, i, .const(2)), .binary(.mod, i, .const(3)))
  static let condition: BoolExpr = .or(.not(.const(false)),
                                       .and(.compareFloat(.gt, .load(buffer: 1, index: .const(7)), .const(0)),
                                            .compareInt(.ne, i, .const(1))))
  static let everything: FloatExpr = .select(
    condition,
    .fma(.load(buffer: 1, index: index), .unary(.neg, .variable("x")), .fromInt(i)),
    .binary(.add, .const(1), .load(buffer: 2, index: .binary(.add, i, .const(5)))))
  // select 1; condition: or, not, const(false), and, compareFloat, load, const 7, const 0,
  // compareInt, i, const 1 (11); fma 1; load 1 + index (select, compareInt, i, scalar, floorDiv,
  // i, 2, mod, i, 3: 10); neg, x (2); fromInt, i (2); add, const 1, load, add, i, 5 (6).
  static let nodes = 1 + 11 + 1 + 11 + 2 + 2 + 6

  @Test func aWalkVisitsEveryNodeOnce() {
    var count = 0
    ExprNode.float(Self.everything).forEachNode { _ in count += 1 }
    #expect(count == Self.nodes)
  }

  @Test func theIdentityRewriteRebuildsTheSameExpression() {
    struct Identity {
      var r: ExprRewriter {
        ExprRewriter(int: { $0.mapOperands(self.r) }, float: { $0.mapOperands(self.r) },
                     bool: { $0.mapOperands(self.r) })
      }
    }
    #expect(Self.everything.mapOperands(Identity().r) == Self.everything)
  }

  @Test func loadsInsideConditionsAreCollected() {
    var loads: [IntExpr] = []
    KernelLowering.collectLoads(Self.everything, into: &loads)
    #expect(loads == [.const(7), Self.index, .binary(.add, Self.i, .const(5))])
  }

  @Test func substitutionReachesEveryOperand() {
    let s = Substitution(values: ["i": 4], suffix: "_1", renamed: ["x"])
    let out = s.apply(Self.everything)
    var variables: [String] = []
    ExprNode.float(out).forEachNode { node in
      if case .int(.variable(let n)) = node { variables.append(n) }
      if case .float(.variable(let n)) = node { variables.append(n) }
    }
    #expect(variables == ["x_1"])
  }

  @Test func aParityTestInsideAConditionIsFound() {
    let parity: BoolExpr = .compareInt(.eq, .binary(.mod, .binary(.add, Self.i, .const(1)), .const(2)), .const(0))
    let store = Stmt.store(buffer: 0, index: Self.i, value: .select(parity, .const(1), .const(0)))
    #expect(ParityUnroll.testsParity(.loop(Loop("j", 4, [store])), of: "i"))
    #expect(!ParityUnroll.testsParity(store, of: "j"))
  }

  @Test func theValidatorLooksInsideNestedConditions() {
    let bad: FloatExpr = .select(.and(.const(true), .compareInt(.lt, .variable("nowhere"), .const(0))),
                                 .const(1), .const(0))
    let kernel = Kernel(name: "bad", buffers: [KernelBuffer("y", .output, count: 4)],
                        parallel: Loop("i", 4, [.store(buffer: 0, index: .variable("i"), value: bad)]))
    #expect(throws: KernelError.invalid(kernel: "bad", reason: "'nowhere' is not an integer variable in scope")) {
      try kernel.validate()
    }
  }
}

import Testing
@testable import Codegen

/// `ParityUnroll`: elementwise loops that test `mod(i, 2)` run two elements per iteration
/// with the same bits, compiled and interpreted.
@Suite struct ParityUnrollTests {
  /// The interleave of two phases, `out[o, i] = i even ? a[o, i/2] : b[o, (i-1)/2]`, written
  /// with selects on `mod(i, 2)` as the fused pads of a transposed convolution are.
  static func interleave(rows: Int, width: Int) -> Kernel {
    let (na, nb) = ((width + 1) / 2, width / 2)
    let iv: IntExpr = .variable("i"), ov: IntExpr = .variable("o")
    let even: BoolExpr = .compareInt(.eq, .binary(.mod, iv, .const(2)), .const(0))
    let left: IntExpr = .binary(.min, .binary(.max, .binary(.sub, iv, .const(1)), .const(0)), .const(width - 2))
    let odd: BoolExpr = .compareInt(.eq, .binary(.mod, left, .const(2)), .const(0))
    let a: FloatExpr = .load(buffer: 1, index: .binary(.add, .binary(.mul, ov, .const(na)), .binary(.floorDiv, iv, .const(2))))
    let b: FloatExpr = .load(buffer: 2, index: .binary(.add, .binary(.mul, ov, .const(nb)), .binary(.floorDiv, left, .const(2))))
    let value: FloatExpr = .binary(.add, .select(even, a, .const(0)), .select(.and(.not(even), odd), b, .const(0)))
    let body: [Stmt] = [.store(buffer: 0, index: .binary(.add, .binary(.mul, ov, .const(width)), iv), value: value)]
    return Kernel(name: "interleave",
                  buffers: [KernelBuffer("y", .output, count: rows * width), KernelBuffer("a", .input, count: rows * na),
                            KernelBuffer("b", .input, count: rows * nb)],
                  parallel: Loop("o", rows, [.loop(Loop("i", width, body))]))
  }

  @Test(arguments: [9, 16, 257]) func unrolledInterleaveKeepsTheBits(width: Int) throws {
    let rows = 5
    let plain = Self.interleave(rows: rows, width: width)
    guard case .loop(let inner) = plain.parallel.body[0], let pairs = ParityUnroll.unrolled(inner) else {
      Issue.record("the interleave was not unrolled")
      return
    }
    #expect(pairs.extent == width / 2)
    var unrolled = plain
    unrolled.name = "interleave_pairs"
    unrolled.parallel.body = ParityUnroll.statements(inner)
    #expect(unrolled.parallel.body.count == (width % 2 == 1 ? 3 : 1))  // the odd width's last element after the pairs
    let a = randomFloats(rows * ((width + 1) / 2), seed: 3, in: -2, 2), b = randomFloats(rows * (width / 2), seed: 4, in: -2, 2)
    let out = [Float](repeating: .nan, count: rows * width)
    let (jitPlain, interpPlain) = try runBoth(plain, [out, a, b])
    let (jitPairs, interpPairs) = try runBoth(unrolled, [out, a, b])
    #expect(jitPairs[0] == jitPlain[0] && interpPairs[0] == interpPlain[0] && jitPlain[0] == interpPlain[0])
    for r in 0..<rows { for i in 0..<width {  // the interleave itself, against plain Swift
      let want = i % 2 == 0 ? a[r * ((width + 1) / 2) + i / 2] : b[r * (width / 2) + (i - 1) / 2]
      #expect(jitPairs[0][r * width + i] == want)
    } }
  }

  /// Loops without a parity test (or too short to pay) are left alone.
  @Test func otherLoopsAreLeftAlone() {
    let iv: IntExpr = .variable("i")
    let plain = Loop("i", 16, [.store(buffer: 0, index: iv, value: .load(buffer: 1, index: .binary(.floorDiv, iv, .const(2))))])
    #expect(ParityUnroll.unrolled(plain) == nil)
    let short = Loop("i", 3, [.store(buffer: 0, index: iv, value: .fromInt(.binary(.mod, iv, .const(2))))])
    #expect(ParityUnroll.unrolled(short) == nil)
    let otherVariable = Loop("i", 16, [.store(buffer: 0, index: iv, value: .fromInt(.binary(.mod, .variable("o"), .const(2))))])
    #expect(ParityUnroll.unrolled(otherVariable) == nil)
  }
}

import Testing
@testable import Codegen

/// `BufferOffsets` (constant offsets moved into the call's pointers) and `ParallelAxis` (a
/// one-iteration parallel loop replaced by its inner loop): the same results, fewer distinct
/// kernels, more parallel ones.
@Suite struct KernelShapePassTests {
  /// `y[i] = x[row * n + i] * 2` over a [rows, n] matrix x: one row of it, read at a constant offset.
  static func rowKernel(row: Int, rows: Int, n: Int) -> Kernel {
    let load: FloatExpr = .load(buffer: 1, index: IndexAlgebra().add(.const(row * n), .variable("i")))  // as lowered
    return Kernel(name: "row", buffers: [KernelBuffer("y", .output, count: n), KernelBuffer("x", .input, count: rows * n)],
                  parallel: Loop("i", n, [.store(buffer: 0, index: .variable("i"), value: .binary(.mul, load, .const(2)))]))
  }

  @Test func rowsOfOneMatrixShareOneKernel() throws {
    let (rows, n) = (5, 24)
    let x = randomFloats(rows * n, seed: 1)
    let hoisted = (0..<rows).map { BufferOffsets.hoisted(Self.rowKernel(row: $0, rows: rows, n: n)) }
    #expect(hoisted.map(\.offsets) == (0..<rows).map { [0, $0 * n] })
    #expect(Set(hoisted.map { KernelCompiler.symbol(for: $0.kernel) }).count == 1)
    #expect(Set((0..<rows).map { KernelCompiler.symbol(for: Self.rowKernel(row: $0, rows: rows, n: n)) }).count == rows)
    for (row, h) in hoisted.enumerated() {
      var shifted = [[Float](repeating: .nan, count: n), Array(x[(row * n)...])]
      try makeCompiler().compile(h.kernel).run(&shifted)
      var plain = [[Float](repeating: .nan, count: n), x]
      try KernelInterpreter.run(Self.rowKernel(row: row, rows: rows, n: n), buffers: &plain)
      #expect(shifted[0] == plain[0])
    }
  }

  @Test func anAccessWithoutAConstantTermKeepsTheKernel() {
    var k = Self.rowKernel(row: 2, rows: 3, n: 8)
    k.parallel.body.append(.store(buffer: 0, index: .variable("i"), value: .load(buffer: 1, index: .variable("i"))))
    let h = BufferOffsets.hoisted(k)
    #expect(h.offsets == [0, 0])
    #expect(h.kernel == k)
  }

  /// `y[o * n + i] = sum over r of x[(o * n + i) * m + r]^2` with o in 0..<1: a per-channel
  /// reduction of a batch of one.
  static func channelSums(n: Int, m: Int) -> Kernel {
    let o: IntExpr = .variable("o"), oi: IntExpr = .binary(.add, .binary(.mul, o, .const(n)), i)
    let x: FloatExpr = .load(buffer: 1, index: .binary(.add, .binary(.mul, oi, .const(m)), .variable("r")))
    let body: [Stmt] = [.accumulator("acc", .sum, initial: 0), .loop(Loop("r", m, [.accumulate("acc", .binary(.mul, x, x))])),
                        .store(buffer: 0, index: oi, value: .variable("acc"))]
    return Kernel(name: "channel_sums", buffers: [KernelBuffer("y", .output, count: n), KernelBuffer("x", .input, count: n * m)],
                  parallel: Loop("o", 1, [.loop(Loop("i", n, body))]))
  }

  @Test func aBatchOfOneRunsInParallelOverChannelsWithTheSameBitsInAnySplit() throws {
    let (n, m) = (96, 1 << 14)
    let plain = Self.channelSums(n: n, m: m)
    let wide = ParallelAxis.widened(plain)
    #expect(plain.parallel.extent == 1 && wide.parallel.extent == n)
    let x = randomFloats(n * m, seed: 7)
    let compiled = try makeCompiler().compile(wide)
    var whole = [[Float](repeating: .nan, count: n), x]
    try compiled.run(&whole)
    var pieces = [[Float](repeating: .nan, count: n), x]
    for r in [0..<1, 1..<17, 17..<60, 60..<96] { try compiled.run(&pieces, range: r) }
    #expect(pieces[0] == whole[0])
    var reference = [[Float](repeating: .nan, count: n), x]
    try KernelInterpreter.run(plain, buffers: &reference)
    #expect(close(whole[0], reference[0].map(Double.init), tol: 1e-5))
  }

  @Test func smallKernelsAndSharedStoresStayOneCall() {
    let small = Self.channelSums(n: 8, m: 16)
    #expect(ParallelAxis.widened(small) == small)
    // y[j] accumulated over k inside the inner loop: iterations of k write the same elements.
    let (kk, n) = (1024, 1024)
    let update: Stmt = .store(buffer: 0, index: j, value: .binary(.add, .load(buffer: 0, index: j),
                                                                   .load(buffer: 1, index: .binary(.add, .binary(.mul, k, .const(n)), j))))
    let axpy = Kernel(name: "axpy", buffers: [KernelBuffer("y", .output, count: n), KernelBuffer("b", .input, count: kk * n)],
                      parallel: Loop("o", 1, [.loop(Loop("k", kk, [.loop(Loop("j", n, [update]))]))]))
    #expect(ParallelAxis.widened(axpy) == axpy)
  }
}

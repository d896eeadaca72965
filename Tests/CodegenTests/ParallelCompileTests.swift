import Foundation
import Testing
@testable import Codegen

/// Batch compiles: objects made on several threads are the bytes one thread makes, kernels
/// that differ only in names share one object, and promised (pending) kernels run like
/// compiled ones. Truth: the serial single-kernel path and the kernel interpreter.
struct ParallelCompileTests {
  /// Six different small kernels: the exp kernel at three sizes, a reduction, a broadcast
  /// add and a kernel with a scalar parameter.
  static func kernels() -> [Kernel] {
    let rows = Kernel(
      name: "row_sum", buffers: [KernelBuffer("x", .input, count: 12 * 37), KernelBuffer("y", .output, count: 12)],
      parallel: Loop("i", 12, [
        .accumulator("acc", .sum, initial: 0),
        .loop(Loop("j", 37, [.accumulate("acc", .load(buffer: 0, index: i * 37 + j))])),
        .store(buffer: 1, index: i, value: .variable("acc")),
      ]))
    let bias = Kernel(
      name: "bias_add", buffers: [KernelBuffer("x", .input, count: 64), KernelBuffer("b", .input, count: 16),
                                  KernelBuffer("y", .output, count: 64)],
      parallel: Loop("i", 4, [.loop(Loop("j", 16, [
        .store(buffer: 2, index: i * 16 + j, value: .load(buffer: 0, index: i * 16 + j) + .load(buffer: 1, index: j)),
      ]))]))
    let scaled = Kernel(
      name: "offset_copy", buffers: [KernelBuffer("x", .input, count: 100), KernelBuffer("y", .output, count: 50)],
      scalars: ["offset"],
      parallel: Loop("i", 50, [.store(buffer: 1, index: i, value: .load(buffer: 0, index: i + .scalar(0)) * 2)]))
    return [CacheAndObjectTests.expKernel(100), CacheAndObjectTests.expKernel(257), rows, bias,
            CacheAndObjectTests.expKernel(1000), scaled]
  }

  /// `KernelCompiler.prepare` (validation, canonical form, text, symbol) on several threads gives
  /// what one thread gives, and the first invalid kernel in input order is the error reported,
  /// whichever thread met it first.
  @Test func preparedKernelsDoNotDependOnTheThreadCount() throws {
    let ks = (0..<40).flatMap { _ in Self.kernels() }.enumerated().map { n, k in
      var k = k
      k.name = "k\(n)_" + k.name
      return k
    }
    let serial = try KernelCompiler.prepare(ks, threads: 1), parallel = try KernelCompiler.prepare(ks, threads: 3)
    #expect(serial.map(\.symbol) == parallel.map(\.symbol) && serial.map(\.text) == parallel.map(\.text))
    #expect(serial.map(\.symbol) == ks.map { KernelCompiler.symbol(for: $0) })
    var broken = ks
    broken[150] = Kernel(name: "bad", buffers: [KernelBuffer("x", .input, count: 4)],
                         parallel: Loop("i", 4, [.store(buffer: 0, index: .variable("i"), value: 1)]))
    broken[200] = Kernel(name: "bad", buffers: [],
                         parallel: Loop("i", 4, [.store(buffer: 0, index: .variable("i"), value: 1)]))
    for threads in [1, 3] {
      do {
        _ = try KernelCompiler.prepare(broken, threads: threads)
        Issue.record("no error with \(threads) threads")
      } catch {
        #expect("\(error)".contains("store to input buffer 'x'"), "\(threads) threads: \(error)")
      }
    }
  }

  @Test func objectBytesDoNotDependOnTheThreadCount() throws {
    let compiler = try makeCompiler()
    let ks = Self.kernels()
    let serial = try compiler.objectFiles(for: ks, threads: 1)
    let parallel = try compiler.objectFiles(for: ks, threads: 3)
    #expect(serial.count == ks.count)
    #expect(serial.map(\.symbol) == parallel.map(\.symbol))
    #expect(serial.map(\.data) == parallel.map(\.data))
    // ... and equal the objects of the one-at-a-time path (the compiler's own target machine)
    for (k, s) in zip(ks, serial) { #expect(try compiler.objectFile(for: k).data == s.data) }
  }

  @Test func batchCompiledKernelsMatchTheInterpreter() throws {
    let compiler = try makeCompiler()
    let ks = Self.kernels()
    let batch = try compiler.compileAll(ks, threads: 2)
    #expect(batch.kernels.count == ks.count && batch.distinct == ks.count && batch.made == ks.count)
    for (n, (k, c)) in zip(ks, batch.kernels).enumerated() {
      #expect(c.kernel == k && c.symbol == KernelCompiler.symbol(for: k))
      var a = k.buffers.enumerated().map { b, buf in
        buf.access == .input
          ? randomFloats(buf.count, seed: UInt64(10 * n + b), in: -2, 2) : [Float](repeating: 0, count: buf.count)
      }
      var b = a
      let scalars: [Int64] = k.scalars.isEmpty ? [] : [25]
      try c.run(&a, scalars: scalars)
      try KernelInterpreter.run(k, buffers: &b, scalars: scalars)
      let out = k.buffers.firstIndex { $0.access == .output }!
      #expect(close(a[out], b[out].map(Double.init), tol: 1e-5), "kernel \(k.name)")
    }
    // a second batch finds everything linked already
    let again = try compiler.compileAll(ks, threads: 2)
    #expect(again.made == 0 && again.kernels.allSatisfy(\.report.cacheHit))
  }

  @Test func kernelsThatDifferOnlyInNamesShareOneObject() throws {
    let a = CacheAndObjectTests.expKernel(300, name: "k17_exp_mix")
    var b = CacheAndObjectTests.expKernel(300, name: "k942_exp_mix")
    b.buffers[0].name = "%12"
    b.buffers[1].name = "%941"
    let c = CacheAndObjectTests.expKernel(300, name: "k5_other")  // another name: another symbol
    #expect(a.canonical == b.canonical && a.canonical.name == "exp_mix")
    #expect(KernelCompiler.symbol(for: a) == KernelCompiler.symbol(for: b))
    #expect(KernelCompiler.symbol(for: a) != KernelCompiler.symbol(for: c))
    #expect(KernelCompiler.symbol(for: a) != KernelCompiler.symbol(for: CacheAndObjectTests.expKernel(301)))
    let compiler = try makeCompiler()
    let batch = try compiler.compileAll([a, b, c], threads: 2)
    #expect(batch.distinct == 2 && batch.made == 2)
    #expect(unsafeBitCast(batch.kernels[0].entry, to: UnsafeRawPointer.self)
      == unsafeBitCast(batch.kernels[1].entry, to: UnsafeRawPointer.self))
    #expect(batch.kernels[1].kernel.name == "k942_exp_mix" && batch.kernels[1].report.cacheHit)
    let xs = randomFloats(300, seed: 3, in: -3, 3)
    var out = [xs, [Float](repeating: 0, count: 300)]
    try batch.kernels[1].run(&out)
    #expect(close(out[1], CacheAndObjectTests.truth(xs), tol: 1e-6))
  }

  @Test func canonicalNamesDropOnlyALeadingNodeNumber() {
    #expect(Kernel.canonicalName("k12_add") == "add")
    #expect(Kernel.canonicalName("k0_conv2d_weight_grad") == "conv2d_weight_grad")
    #expect(Kernel.canonicalName("kx_add") == "kx_add")
    #expect(Kernel.canonicalName("k12add") == "k12add")
    #expect(Kernel.canonicalName("winograd4_input") == "winograd4_input")
    #expect(Kernel.canonicalName("im2col") == "im2col")
  }

  @Test func pendingKernelsAreFilledInOrCompileThemselves() throws {
    let compiler = try makeCompiler()
    let k = CacheAndObjectTests.expKernel(64)
    let xs = randomFloats(64, seed: 9, in: -1, 1)
    // filled in by a batch compile
    let promised = CompiledKernel(pending: k, symbol: KernelCompiler.symbol(for: k)) { try compiler.compile($0) }
    #expect(promised.isPending)
    promised.fulfill(with: try compiler.compileAll([k], threads: 1).kernels[0])
    #expect(!promised.isPending)
    var a = [xs, [Float](repeating: 0, count: 64)]
    try promised.run(&a)
    #expect(close(a[1], CacheAndObjectTests.truth(xs), tol: 1e-6))
    // called before any batch: compiles itself
    let early = CompiledKernel(pending: k, symbol: KernelCompiler.symbol(for: k)) { try compiler.compile($0) }
    var b = [xs, [Float](repeating: 0, count: 64)]
    try early.run(&b)
    #expect(!early.isPending && a[1].map(\.bitPattern) == b[1].map(\.bitPattern))
  }

  /// The width a compile reports (found by walking the optimized module's instructions)
  /// equals the widest `<N x float>` in that module's printed text, kernel by kernel.
  @Test func reportedVectorWidthMatchesThePrintedIR() throws {
    let compiler = try makeCompiler()
    var widths: [Int] = []
    for k in Self.kernels() {
      let reported = try compiler.compile(k).report.vectorWidth
      #expect(reported == (try compiler.optimizedIR(for: k)).vectorWidth)
      widths.append(reported)
    }
    #expect(widths.contains { $0 >= 4 } && widths.allSatisfy { $0 >= 1 })  // some kernels vectorize
  }

  @Test func vectorWidthIsTheWidestFloatVectorInTheIR() {
    let ir = """
      %a = load <8 x float>, ptr %p, align 4
      %b = call <16 x float> @llvm.fma.v16f32(<16 x float> %x, <16 x float> %y, <16 x float> %z)
      %c = fadd <4 x float> %d, %e
      %i = add <32 x i32> %j, %k
      """
    #expect(KernelCompiler.vectorWidth(inIR: ir) == 16)
    #expect(KernelCompiler.vectorWidth(inIR: "%s = fadd float %a, %b") == 1)
    #expect(KernelCompiler.vectorWidth(inIR: "") == 1)
    #expect(KernelCompiler.vectorWidth(inIR: "<2 x float> <64 x double> <<4 x float>") == 4)
    #expect(KernelCompiler.vectorWidth(inIR: "< 8 x float> <abc x float>") == 1)
    let long = String(repeating: "  %v = fmul <8 x float> %a, %b ; padding padding padding\n", count: 3000)
    #expect(KernelCompiler.vectorWidth(inIR: long + "<16 x float>") == 16)
  }
}

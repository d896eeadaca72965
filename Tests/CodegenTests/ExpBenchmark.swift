import Foundation
import Testing
@testable import Codegen

/// Hand-run microbenchmark (not a test: no timing assertions), in release:
///   ILOC_BENCH=1 swift test -c release --scratch-path .build-llvm --filter expKernelVersusSwiftLoop
/// Compares the compiled, vectorized exp kernel with a scalar Swift loop calling libm expf,
/// side by side in one run, and prints compile costs (miss, then cache hit).
@Test(.enabled(if: ProcessInfo.processInfo.environment["ILOC_BENCH"] != nil))
func expKernelVersusSwiftLoop() throws {
  let n = 1 << 22
  let cache = freshDirectory("bench")
  defer { try? FileManager.default.removeItem(at: cache) }
  let kernel = Kernel(
    name: "bench_exp", buffers: [KernelBuffer("x", .input, count: n), KernelBuffer("y", .output, count: n)],
    parallel: Loop("i", n, [.store(buffer: 1, index: i, value: .exp(.load(buffer: 0, index: i)))]))
  let compiled = try makeCompiler(cache: cache).compile(kernel)
  print(compiled.report)
  print(try makeCompiler(cache: cache).compile(kernel).report)

  let xs = randomFloats(n, seed: 99, in: -10, 10)
  let x = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
  let y = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
  let z = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
  defer { x.deallocate(); y.deallocate(); z.deallocate() }
  _ = x.initialize(from: xs)
  y.initialize(repeating: 0)
  z.initialize(repeating: 0)
  let ptrs: [UnsafeMutablePointer<Float>?] = [x.baseAddress, y.baseAddress]

  func best(_ body: () -> Void) -> Double {
    var t = Double.infinity
    for _ in 0..<7 {
      let start = ContinuousClock.now
      body()
      let d = ContinuousClock.now - start
      t = min(t, Double(d.components.attoseconds) * 1e-15 + Double(d.components.seconds) * 1e3)
    }
    return t
  }
  let jit = best { ptrs.withUnsafeBufferPointer { compiled.entry($0.baseAddress, nil, 0, Int64(n)) } }
  let swift = best { for m in 0..<n { z[m] = Foundation.exp(x[m]) } }
  let maxRel = (0..<n).map { abs(Double(y[$0]) - Double(z[$0])) / Double(z[$0]) }.max()!
  print(String(format: "exp over %d floats: JIT %.2f ms (%.2f ns/elem), Swift expf loop %.2f ms (%.2f ns/elem), ratio %.1fx; max rel diff %.2e",
               n, jit, jit * 1e6 / Double(n), swift, swift * 1e6 / Double(n), swift / jit, maxRel))
}

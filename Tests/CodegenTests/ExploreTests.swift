import Testing
import Foundation
@testable import Codegen

@Test func exploreExpIR() throws {
  let n = 1024
  let kernel = Kernel(
    name: "exp_add", buffers: [KernelBuffer("x", .input, count: n), KernelBuffer("y", .output, count: n)],
    parallel: Loop("i", n, [.store(buffer: 1, index: i, value: .exp(.load(buffer: 0, index: i)) + 1)]))
  let c = try makeCompiler()
  print(kernel)
  let (text, width) = try c.optimizedIR(for: kernel)
  print(text)
  print("width", width, c.cpu, c.preferredVectorBits as Any)
  let ck = try c.compile(kernel)
  print(ck.report)
  var arrays = [randomFloats(n, seed: 1, in: -5, 5), [Float](repeating: 0, count: n)]
  try ck.run(&arrays)
  print(arrays[1].prefix(4), arrays[0].prefix(4).map { exp($0) + 1 })
}

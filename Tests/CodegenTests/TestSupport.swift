import Foundation
@testable import Codegen

/// A compiler with a private, fresh cache directory (tests never touch ~/.cache).
func makeCompiler(cache: URL? = nil) throws -> KernelCompiler {
  try KernelCompiler(options: CompilerOptions(cacheDirectory: cache))
}

func freshDirectory(_ tag: String) -> URL {
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("iloc-codegen-tests-\(tag)-\(UUID().uuidString)", isDirectory: true)
  try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

/// Deterministic pseudo-random floats in [lo, hi) (SplitMix64).
func randomFloats(_ n: Int, seed: UInt64, in lo: Float = -1, _ hi: Float = 1) -> [Float] {
  var s = seed
  return (0..<n).map { _ in
    s &+= 0x9e37_79b9_7f4a_7c15
    var z = s
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    z ^= z >> 31
    return lo + (hi - lo) * Float(z >> 40) / Float(1 << 24)
  }
}

func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
  zip(a, b).map { abs(Double($0) - $1) }.max() ?? 0
}

let i: IntExpr = .variable("i")
let j: IntExpr = .variable("j")
let k: IntExpr = .variable("k")

/// Runs a kernel compiled and interpreted on copies of `arrays`; returns both results.
func runBoth(_ kernel: Kernel, _ arrays: [[Float]], scalars: [Int64] = []) throws -> (jit: [[Float]], interpreted: [[Float]]) {
  var a = arrays, b = arrays
  try makeCompiler().compile(kernel).run(&a, scalars: scalars)
  try KernelInterpreter.run(kernel, buffers: &b, scalars: scalars)
  return (a, b)
}

/// |a - b| <= tol * max(1, |b|) elementwise.
func close(_ a: [Float], _ b: [Double], tol: Double) -> Bool {
  a.count == b.count && zip(a, b).allSatisfy { abs(Double($0) - $1) <= tol * max(1, abs($1)) }
}

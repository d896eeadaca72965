import Foundation
import Testing
@testable import Codegen

/// `ILOC_TARGET`: which levels are accepted on which hosts, and code made for a level.
@Suite struct TargetLevelTests {
  static let avx2Host = "+sse3,+ssse3,+sse4.1,+sse4.2,+popcnt,+cx16,+sahf,+avx,+avx2,+bmi,+bmi2,+f16c,+fma,+lzcnt,"
    + "+movbe,+xsave,-avx512f,-avx512bw"

  @Test func levelsAreCheckedAgainstTheHostFeatures() throws {
    #expect(try TargetLevel.requested([:], hostFeatures: Self.avx2Host) == nil)
    #expect(try TargetLevel.requested(["ILOC_TARGET": "host"], hostFeatures: Self.avx2Host) == nil)
    #expect(try TargetLevel.requested(["ILOC_TARGET": "x86-64-v3"], hostFeatures: Self.avx2Host) == .v3)
    #expect(try TargetLevel.requested(["ILOC_TARGET": "x86-64-v2"], hostFeatures: Self.avx2Host) == .v2)
    #expect(throws: TargetLevel.Problem(description: "ILOC_TARGET=x86-64-v4 needs avx512f, avx512bw, avx512cd, "
                                        + "avx512dq, avx512vl, which this CPU lacks")) {
      try TargetLevel.requested(["ILOC_TARGET": "x86-64-v4"], hostFeatures: Self.avx2Host)
    }
    #expect(throws: TargetLevel.Problem.self) { try TargetLevel.requested(["ILOC_TARGET": "znver5"], hostFeatures: "") }
  }

  /// The compiler reads ILOC_TARGET from its options' environment: a bad value stops it with
  /// the same one-line problem the command line prints.
  @Test func theCompilerRefusesABadTarget() throws {
    var options = CompilerOptions(cacheDirectory: nil)
    options.environment = ["ILOC_TARGET": "x86-64-v9"]
    #expect(throws: TargetLevel.Problem.self) { try KernelCompiler(options: options) }
  }

  /// A reduction compiled under ILOC_TARGET=x86-64-v3 uses 256-bit vectors (no AVX-512
  /// register, on any host) and the AVX2 GEMM kernels, and its sum matches a float64 sum;
  /// skipped where the host is below v3.
  @Test func codeForV3UsesAVX2Vectors() throws {
    guard try TargetLevel.requested(["ILOC_TARGET": "x86-64-v3"], hostFeatures: KernelCompiler.hostFeatures) != nil
    else { return }
    var options = CompilerOptions(cacheDirectory: nil)
    options.environment = ["ILOC_TARGET": "x86-64-v3"]
    let compiler = try KernelCompiler(options: options)
    #expect(compiler.cpu == "x86-64-v3" && compiler.supportedGEMMISAs == [.avx2])
    let n = 4096
    let kernel = Kernel(
      name: "dot", buffers: [KernelBuffer("x", .input, count: n), KernelBuffer("y", .output, count: 1)],
      parallel: Loop("i", 1, [.accumulator("acc", .sum, initial: 0),
                              .loop(Loop("j", n, [.accumulate("acc", .binary(.mul, .load(buffer: 0, index: j),
                                                                             .load(buffer: 0, index: j)))])),
                              .store(buffer: 1, index: 0, value: .variable("acc"))]))
    let compiled = try compiler.compile(kernel)
    #expect(compiled.report.vectorWidth == 8)
    let xs = randomFloats(n, seed: 3)
    var arrays = [xs, [0]]
    try compiled.run(&arrays)
    let truth = xs.reduce(0.0) { $0 + Double($1) * Double($1) }
    #expect(abs(Double(arrays[1][0]) - truth) < 1e-4 * truth)
  }
}

import Foundation
import Testing

/// An artifact built with the own GEMM kernels forced (`ILOC_GEMM=own`) carries them in
/// kernels.so with its per-shape choices, and `iloc run` (no LLVM) routes every GEMM as
/// `iloc invert` did: the same result bits.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path), "skipped: needs the iloc executable"))
struct AOTGEMMTests {
  @Test func anArtifactRunsTheOwnGEMMKernelsAsInvertDoes() throws {
    let d = try CLITests.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let img = d.appendingPathComponent("x.png"), art = d.appendingPathComponent("art")
    try CLITests.png(32, at: img)
    let env = ["ILOC_GEMM": "own", "ILOC_CACHE_DIR": d.appendingPathComponent("kernels").path]
    let setup = ["--fit-samples", "200", "--steps", "3,2", "--seed", "7"]
    let task = ["--task", "inpaint", "--mask", "random:0.5"], observed = ["--observed", img.path]
    let c = try ILOCProcess.run(["compile", "--model", CLITests.s32, "--size", "32", "-o", art.path] + task + setup,
                                environment: env)
    #expect(c.status == 0, "stderr: \(c.stderr)")
    let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: art.appendingPathComponent("manifest.json")))
    let gemm = (manifest as? [String: Any])?["gemm"] as? [String: Any]
    let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    guard cpuinfo.contains(" avx2 ") && cpuinfo.contains(" fma ") else {
      #expect(gemm == nil, "no AVX2+FMA, yet the artifact records own GEMM kernels")
      return
    }
    let choices = try #require(gemm?["choices"] as? [String])
    #expect(!choices.isEmpty && choices.allSatisfy { $0.hasSuffix(" own") }, "\(choices)")

    let r = try ILOCProcess.run(["run", art.path, "-o", d.appendingPathComponent("aot").path] + task + observed, environment: [:])
    #expect(r.status == 0, "stderr: \(r.stderr)")
    let i = try ILOCProcess.run(["invert", "--model", CLITests.s32, "-o", d.appendingPathComponent("jit").path] + task + observed + setup,
                                environment: env)
    #expect(i.status == 0, "stderr: \(i.stderr)")
    let a = try Data(contentsOf: d.appendingPathComponent("aot/result.png"))
    #expect(try a == Data(contentsOf: d.appendingPathComponent("jit/result.png")), "result.png differs between run and invert")
  }
}

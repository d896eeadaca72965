import Codegen
import Foundation
import GraphIR
import Models
import Runtime
import Testing

/// A whole StyleGAN2 program (s64 synthesis + gradient w.r.t. w+ and every noise) with every
/// GEMM forced onto the generated kernels, and forced onto OpenBLAS: both match the float64
/// PyTorch goldens, so neither backend changes what the program computes.
@Suite struct OwnGEMMProgramTests {
  static func program(_ graph: Graph, gemm: String, isa: String?) throws -> Program {
    let compiler = try KernelCompiler(options: CompilerOptions(cacheDirectory: nil))
    var env = ["ILOC_GEMM": gemm]
    env["ILOC_ISA"] = isa
    GEMMRouter.register(GEMMRouter.make(compiler: compiler, environment: env), for: compiler)
    var options = ProgramOptions()
    options.compiler = compiler
    return try Program(graph, options: options)
  }

  @Test func styleGAN2GradientsAgreeWithOwnKernelsAndOpenBLAS() throws {
    let t = try StyleGAN2Tests.Case(64)
    let mg = try t.model.synthesisGraph(batch: t.batch)
    let g = mg.graph
    let loss = sum(g.output(named: "image")! * g.constant(t.golden["grad.R"]!.values, t.golden["grad.R"]!.shape))
    let wrt = [g.input(named: "w_plus")!] + (0..<t.ckpt.config.noiseCount).map { g.input(named: "noise.\($0)")! }
    let gg = try gradients(of: loss, wrt: wrt)
    var feed = try mg.bind(t.ckpt.stateDict).merging(t.noises()) { a, _ in a }
    feed["w_plus"] = t.golden["w_plus"]
    let compiler = try KernelCompiler(options: CompilerOptions(cacheDirectory: nil))
    let isas: [String?] = compiler.supportedGEMMISAs.isEmpty ? [] : [nil] + (compiler.supportedGEMMISAs.count > 1 ? ["avx2"] : [])
    for (gemm, isa) in [("openblas", nil)] + isas.map({ ("own", $0) }) {
      let p = try Self.program(gg, gemm: gemm, isa: isa)
      let steps = p.layout.steps.filter { $0.hasPrefix("gemm ") }
      #expect(!steps.isEmpty && steps.allSatisfy { $0.contains(gemm == "own" ? "[own " : "[openblas]") }, "\(steps)")
      let out = try p.run(inputs: feed)
      let what = "\(gemm) \(isa ?? "")"
      expectClose(out["grad:w_plus"], t.golden["grad.full.w_plus"], "\(what) grad w_plus")
      for i in 0..<t.ckpt.config.noiseCount {
        expectClose(out["grad:noise.\(i)"], t.golden["grad.full.noise.\(i)"], "\(what) grad noise.\(i)")
      }
    }
  }
}

import Codegen
import Foundation
import GraphIR
import Testing
@testable import Runtime

/// How a program's kernels are compiled: all at once after the steps are built, on several
/// threads, with kernels that differ only in names compiled once. Truth: the same program
/// compiled on one thread (bitwise) and the graph interpreter.
struct ProgramCompileTests {
  /// Two identical layers (same shapes, different nodes, operands in the same order) after a
  /// convolution, both materialized: their kernels differ only in node numbers and buffer names.
  static func twinLayers(_ name: String = "twins", lead: Bool = false) -> Graph {
    let g = Graph(name)
    var x = g.input("x", [1, 4, 8, 8])
    if lead { x = exp(x * 0.1) }  // shifts every later node number
    let w = g.input("w", [8, 4, 3, 3])
    let h = conv2d(x, w, padding: 1)
    let a = g.input("a", [1, 8, 8, 8]), b = g.input("b", [1, 8, 8, 8])
    let y1 = leakyRelu(h * a + b, slope: 0.2)
    let c = g.input("c", [1, 8, 8, 8]), d = g.input("d", [1, 8, 8, 8])  // after y1, like a and b after h
    let y2 = leakyRelu(y1 * c + d, slope: 0.2)
    g.output("y1", y1)  // materialized, so the second layer is a kernel of its own
    g.output("y", y2)
    g.output("s", sum(y2 * y2))
    return g
  }

  static func compiler(threads: Int) throws -> KernelCompiler {
    try KernelCompiler(options: CompilerOptions(cacheDirectory: nil, threads: threads))
  }

  static func outputs(_ g: Graph, _ compiler: KernelCompiler?, seed: UInt64) throws -> [String: [Float]] {
    var options = ProgramOptions()
    if let compiler { options.compiler = compiler } else { options.backend = .checkedInterpreter }
    let p = try Program(g, options: options)
    return try p.run(inputs: ProgramTests.feed(g, seed: seed)).mapValues(\.values)
  }

  @Test func oneOrThreeCompileThreadsGiveBitwiseEqualPrograms() throws {
    let g = Self.twinLayers()
    let one = try Self.compiler(threads: 1), three = try Self.compiler(threads: 3)
    var o1 = ProgramOptions(), o3 = ProgramOptions()
    o1.compiler = one
    o3.compiler = three
    let p1 = try Program(g, options: o1), p3 = try Program(g, options: o3)
    #expect(p1.layout == p3.layout)
    let feed = ProgramTests.feed(g, seed: 4)
    let r1 = try p1.run(inputs: feed), r3 = try p3.run(inputs: feed)
    for name in ["y1", "y", "s"] { #expect(r1[name]!.values.map(\.bitPattern) == r3[name]!.values.map(\.bitPattern)) }
  }

  @Test func twinLayersShareOneKernelAndMatchTheInterpreter() throws {
    let g = Self.twinLayers()
    let compiler = try Self.compiler(threads: 2)
    var options = ProgramOptions()
    options.compiler = compiler
    let p = try Program(g, options: options)
    let names = p.compiledKernels.map(\.kernel.name)
    let symbols = p.compiledKernels.map(\.symbol)
    #expect(Set(names).count == names.count)  // every kernel step has its own node...
    #expect(Set(symbols).count == symbols.count - 1)  // ...but the twin layers share code
    #expect(p.stats.cacheMisses == Set(symbols).count && p.stats.cacheHits == symbols.count - Set(symbols).count)

    let feed = ProgramTests.feed(g, seed: 5)
    let jit = try p.run(inputs: feed)
    let interp = try makeExecutable(g, engine: .interp)
    for (k, v) in feed { try interp.setInput(k, v.values) }
    try interp.run()
    for name in ["y1", "y", "s"] {
      let want = try interp.output(name).values
      let got = jit[name]!.values
      #expect(zip(got, want).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) }, "output \(name)")
    }
  }

  @Test func aLaterProgramReusesTheKernelsOfAnEarlierOne() throws {
    let compiler = try Self.compiler(threads: 2)
    var options = ProgramOptions()
    options.compiler = compiler
    let first = try Program(Self.twinLayers("first"), options: options)
    // the same layers at other node numbers (an exp in front), as in the next ILO round
    let second = try Program(Self.twinLayers("second", lead: true), options: options)
    let shared = Set(first.compiledKernels.map(\.symbol))
    let later = second.compiledKernels.filter { shared.contains($0.symbol) }
    #expect(!later.isEmpty && later.allSatisfy(\.report.cacheHit))
    #expect(second.stats.cacheMisses == Set(second.compiledKernels.map(\.symbol)).subtracting(shared).count)
    let g = Self.twinLayers("second", lead: true)
    let jit = try second.run(inputs: ProgramTests.feed(g, seed: 6))["y"]!.values
    let checked = try Self.outputs(g, nil, seed: 6)["y"]!
    #expect(zip(jit, checked).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
  }
}

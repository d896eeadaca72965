import Codegen
import Foundation
import GraphIR

/// How generated kernels are executed.
public enum KernelBackend: Sendable {
  /// Compiled by LLVM (ORC JIT, with the on-disk object cache).
  case jit
  /// The bounds-checked kernel IR interpreter: slow, for validating the lowering on small graphs.
  case checkedInterpreter
}

public struct ProgramOptions: @unchecked Sendable {
  /// Run the standard cleanup passes (constant folding, simplification, CSE, DCE) first.
  public var optimize = true
  public var backend: KernelBackend = .jit
  public var planner = FusionPlanner()
  /// Inputs bound once and rarely changed (the weights of a stage program). Work that depends
  /// only on them and on constants (weight scaling, demodulation norms, Winograd weight
  /// transforms) runs once after they change instead of on every run.
  public var staticInputs: Set<String> = []
  /// Run eligible 3x3 stride-1 convolutions by Winograd F(2x2, 3x3) (`ILOC_CONV=gemm` turns
  /// it off, for comparisons).
  public var winograd = ProcessInfo.processInfo.environment["ILOC_CONV"] != "gemm"
  /// Winograd convolutions transform and multiply blocks of tile rows whose transformed tiles fit
  /// this many bytes (`WinogradStep.blockRows`), so that their scratch stays bounded at 1024.
  public var winogradBlockBytes = WinogradStep.defaultBlockBytes
  /// Winograd F(4x4, 3x3) where it is faster than F(2x2) (`Transform.forOutput`; opt-in,
  /// `ILOC_WINOGRAD=4`): about 7 % off a StyleGAN2-64 or ILO-256 step, but its larger rounding
  /// errors moved an LPIPS-VGG gradient by 2e-3 (relative L2) where F(2x2) keeps 4e-6.
  public var winogradF4 = ProcessInfo.processInfo.environment["ILOC_WINOGRAD"] == "4"
  /// Forward im2col convolutions and Winograd convolutions whose expanded operand would stream
  /// through memory run in blocks of output rows of about this many bytes, each thread gathering
  /// and multiplying its own blocks (`FusedBlocks`; 0: never). The bits do not change.
  public var fusedBlockBytes = FusedBlocks.bytes
  /// The compiler to use; nil means `provider`, else `Program.defaultProvider`, else the
  /// process-wide shared compiler.
  public var compiler: KernelCompiler?
  /// Where kernels come from when `compiler` is nil (e.g. an ahead-of-time library).
  public var provider: KernelProvider?
  public init() {}
}

/// Compile-time facts of a program (what `ILOC_DEBUG=1` prints).
public struct ProgramStats: Sendable, CustomStringConvertible {
  public var name: String
  public var graphNodes: Int
  public var optimizedNodes: Int
  public var kernels: Int
  public var gemmCalls: Int
  public var builtins: Int
  public var fusedOps: Int
  public var compileMilliseconds: Double
  public var cacheHits: Int
  public var cacheMisses: Int
  /// Arena bytes with liveness-based reuse, and what they would be without it.
  public var peakBytes: Int
  public var unsharedBytes: Int
  public var scratchBytes: Int
  /// Where the build time went (printed with `ILOC_DEBUG=1` after the summary line).
  public var buildTimes = ProgramBuildTimes()
  public var description: String {
    String(format: "program %@: %d nodes (%d after passes) -> %d kernels (%d ops fused), %d gemm calls, %d builtins; compile %.1f ms (%d cache hits, %d misses); memory %.2f MB (%.2f MB without reuse) + %.2f MB scratch",
           name, graphNodes, optimizedNodes, kernels, fusedOps, gemmCalls, builtins, compileMilliseconds, cacheHits, cacheMisses,
           Double(peakBytes) / 1e6, Double(unsharedBytes) / 1e6, Double(scratchBytes) / 1e6)
  }
}

/// The shape of a compiled program: its steps in order ("kind label"), the symbols of the
/// kernels it calls (in order of compilation, repeats included), and its buffer plan.
public struct ProgramLayout: Codable, Equatable, Sendable {
  public var steps: [String]
  public var kernelSymbols: [String]
  /// Arena size (floats) after liveness-based reuse, scratch floats, and buffers placed.
  public var arenaFloats: Int
  public var scratchFloats: Int
  public var buffers: Int
}

/// A graph compiled to a sequence of steps (fused kernels, GEMM calls, builtins) over one
/// arena with a liveness-based memory plan. Inputs are bound by name and keep their values
/// across runs (bind the weights once); `run()` can be called any number of times without
/// recompiling. Several programs can coexist and be run alternately (stage programs).
public final class Program: @unchecked Sendable {
  public let graph: Graph
  public let plan: FusionPlan
  public private(set) var stats: ProgramStats
  let steps: [ProgramStep]
  /// The generated kernels of the steps, in order of compilation (repeats included).
  public let compiledKernels: [CompiledKernel]
  /// The step sequence, kernel symbols and buffer plan (recorded in ahead-of-time manifests).
  public let layout: ProgramLayout
  let arena: Arena
  let scratch: Arena
  let offsets: [Int: Int]
  let inputIds: [String: Int]
  let outputIds: [String: Int]
  /// Per-step accumulated run time (seconds) and call counts, when profiling.
  public var profiling = DebugLevel.current >= 2
  var staticInputNames: Set<String> = []
  var staticDirty = true
  var staticGeneration = 0
  var stepSeconds: [Double]
  var stepCalls: [Int]

  /// The kernel provider of programs whose options name none (`iloc run` sets an
  /// ahead-of-time library here so that no program initializes LLVM); nil: `sharedCompiler`.
  nonisolated(unsafe) public static var defaultProvider: KernelProvider?

  /// The process-wide kernel compiler (one JIT; compiled kernels are shared by all programs).
  /// Created on first use only: a process that never JIT-compiles never initializes LLVM.
  public static let sharedCompiler: KernelCompiler = {
    do { return try KernelCompiler() } catch { fatalError("cannot start the JIT: \(error)") }
  }()

  public init(_ source: Graph, options: ProgramOptions = ProgramOptions()) throws {
    try source.check()
    let start = ContinuousClock.now
    var times = ProgramBuildTimes()
    var phase = ContinuousClock.now
    let dump = DebugLevel.current >= 3
    let pipeline = PassPipeline(PassPipeline.standard.passes) { record, graph in
      if dump { print("-- \(source.name): after \(record.pass) (\(record.nodesBefore) -> \(record.nodesAfter) nodes)\n\(graph)\n") }
    }
    let g = options.optimize ? try pipeline.run(source).0 : source
    graph = g
    times.passes = ProgramBuildTimes.lap(&phase)
    plan = try options.planner.plan(g)
    times.fusionPlan = ProgramBuildTimes.lap(&phase)
    let provider: KernelProvider? = options.backend == .jit
      ? (options.compiler ?? options.provider ?? Self.defaultProvider ?? Self.sharedCompiler) : nil
    let router = GEMMRouter.forProvider(provider)
    // Kernels are promised while the steps are built and compiled together afterwards.
    var pending: [CompiledKernel] = []
    func compile(_ k: Kernel) throws -> CompiledKernel? {
      guard let provider else { return nil }
      let c = CompiledKernel(pending: k) { try provider.kernel(for: $0) }
      pending.append(c)
      return c
    }

    // Buffers and lifetimes.
    let nodes = g.nodes
    let order = plan.steps.map(\.node)
    var position: [Int: Int] = [:]
    for (k, id) in order.enumerated() { position[id] = k }
    var lastUse: [Int: Int] = [:]
    for (k, s) in plan.steps.enumerated() { for r in s.reads { lastUse[r] = Swift.max(lastUse[r] ?? k, k) } }
    // Nodes that depend only on static inputs and constants: computed once per binding.
    var invariant = [Bool](repeating: false, count: nodes.count)
    for (i, n) in nodes.enumerated() {
      switch n.op {
      case .input(let name, _): invariant[i] = options.staticInputs.contains(name)
      case .constant: invariant[i] = true
      default: invariant[i] = n.inputs.allSatisfy { invariant[$0] }
      }
    }
    let pinned = Set(g.outputs.map(\.id)).union(plan.steps.filter { $0.kind == .input || $0.kind == .constant || invariant[$0.node] }.map(\.node))
    let requests = plan.steps.map { s in
      MemoryPlan.Request(id: s.node, count: nodes[s.node].shape.elementCount,
                         first: pinned.contains(s.node) ? -1 : position[s.node]!,
                         last: pinned.contains(s.node) ? Int.max : (lastUse[s.node] ?? position[s.node]!))
    }
    let memory = MemoryPlan(requests)
    offsets = memory.offsets
    let arena = Arena(count: memory.size)
    self.arena = arena
    times.memoryPlan = ProgramBuildTimes.lap(&phase)

    // Steps.
    var built: [ProgramStep] = []
    var scratchFloats = 0
    for s in plan.steps {
      let n = nodes[s.node]
      let off = memory.offsets[s.node]!
      switch s.kind {
      case .input: continue
      case .constant:
        if case .constant(let c) = n.op { c.values.withUnsafeBufferPointer { (arena.base + off).update(from: $0.baseAddress!, count: c.values.count) } }
      case .kernel:
        var lowering = KernelLowering(graph: g, plan: plan, step: s)
        let (kernel, shifts) = BufferOffsets.hoisted(ParallelAxis.widened(lowering.lower()))
        let flops = (s.fused + [s.node]).reduce(0.0) { $0 + Self.flops(nodes[$1], g) }
        let pointers = zip([off] + s.reads.map { memory.offsets[$0]! }, shifts).map(+)
        built.append(KernelStep(kernel: kernel, compiled: try compile(kernel), offsets: pointers,
                                node: s.node, ops: s.fused.filter { nodes[$0].op.isComputation }.count + 1, flops: flops))
      case .library:
        let ins = n.inputs.map { memory.offsets[$0] ?? -1 }
        let shapes = n.inputs.map { nodes[$0].shape }
        let step: ProgramStep
        switch n.op {
        case .matmul:
          // operands that are unmaterialized swaps of the last two axes: read the source transposed
          var src = ins, trans = [false, false]
          for k in 0..<2 where memory.offsets[n.inputs[k]] == nil || !plan.materialized[n.inputs[k]] {
            let t = nodes[n.inputs[k]]
            if FusionPlanner.isLastAxesSwap(t.op), let o = memory.offsets[t.inputs[0]] { src[k] = o; trans[k] = true }
          }
          step = MatmulStep(a: src[0], b: src[1], c: off, shapeA: shapes[0], shapeB: shapes[1], transA: trans[0], transB: trans[1], node: s.node,
                              router: router)
        case _ where options.winograd && WinogradStep.eligible(n.op, shapes, output: n.shape):
          step = try WinogradStep(op: n.op, x: ins[0], w: ins[1], y: off, xShape: shapes[0], yShape: n.shape,
                                  taps: shapes[1][2], node: s.node,
                                  router: router, blockBytes: options.winogradBlockBytes, fusedBytes: options.fusedBlockBytes,
                                  f4: options.winogradF4, compile: compile)
        case .conv2d(let a):
          step = try ConvolutionGEMMStep(form: .forward, x: ins[0], w: ins[1], y: off, shapes: (shapes[0], shapes[1], n.shape), attrs: a, node: s.node, router: router,
                                         fusedBytes: options.fusedBlockBytes, compile: compile)
        case .convTranspose2d(let a):
          step = try ConvolutionGEMMStep(form: .transposed, x: ins[0], w: ins[1], y: off, shapes: (shapes[0], shapes[1], n.shape), attrs: a, node: s.node, router: router, compile: compile)
        case .conv2dWeightGrad(let a, _):
          step = try ConvolutionGEMMStep(form: .weightGrad, x: ins[0], w: ins[1], y: off, shapes: (shapes[0], shapes[1], n.shape), attrs: a, node: s.node, router: router, compile: compile)
        default: fatalError("not a library op: \(n.op.name)")
        }
        if let c = step as? ConvolutionGEMMStep { scratchFloats = Swift.max(scratchFloats, c.scratchFloats) }
        if let c = step as? WinogradStep { scratchFloats = Swift.max(scratchFloats, c.scratchFloats) }
        built.append(step)
      case .builtin:
        if case .fft(let inverse) = n.op {
          built.append(FFTStep(x: memory.offsets[n.inputs[0]]!, y: off, shape: n.shape, inverse: inverse, node: s.node))
          continue
        }
        built.append(BuiltinStep(op: n.op, inputs: n.inputs.map { (memory.offsets[$0]!, nodes[$0].shape) }, output: (off, n.shape), node: s.node))
      }
    }
    times.lowering = ProgramBuildTimes.lap(&phase)
    let (hits, misses) = try Self.compilePending(pending, provider, into: &times)
    let symbols = pending.map(\.symbol)
    compiledKernels = pending
    times.compile = ProgramBuildTimes.lap(&phase)
    for st in built {
      st.invariant = invariant[st.node]
      if let w = st as? WinogradStep { w.weightInvariant = invariant[nodes[st.node].inputs[1]] }
    }
    steps = built
    staticInputNames = options.staticInputs
    layout = ProgramLayout(
      steps: built.map { "\($0.kind) \($0.label)" }, kernelSymbols: symbols, arenaFloats: memory.size,
      scratchFloats: scratchFloats, buffers: memory.offsets.count)
    scratch = Arena(count: scratchFloats)
    stepSeconds = [Double](repeating: 0, count: built.count)
    stepCalls = [Int](repeating: 0, count: built.count)
    inputIds = Dictionary(uniqueKeysWithValues: g.inputs.map { ($0.name, $0.id) })
    outputIds = Dictionary(g.outputs.map { ($0.name, $0.id) }, uniquingKeysWith: { a, _ in a })
    let ms = Double((ContinuousClock.now - start).components.attoseconds) / 1e15 + Double((ContinuousClock.now - start).components.seconds) * 1000
    stats = ProgramStats(
      name: source.name, graphNodes: source.nodes.count, optimizedNodes: g.nodes.count,
      kernels: built.filter { $0.kind == "kernel" }.count, gemmCalls: built.filter { $0.kind == "gemm" }.count,
      builtins: built.filter { $0.kind == "builtin" }.count, fusedOps: built.reduce(0) { $0 + Swift.max(0, $1.ops - 1) },
      compileMilliseconds: ms, cacheHits: hits, cacheMisses: misses,
      peakBytes: memory.size * 4, unsharedBytes: memory.unsharedSize * 4, scratchBytes: scratchFloats * 4)
    stats.buildTimes = times
    if DebugLevel.current >= 1 { print(stats); print(times) }
  }

  /// Compiles the kernels promised while the steps were built, all in one request to the
  /// provider (a `KernelCompiler` makes them in parallel), and fills the promises in.
  /// Returns the cache hits and misses (a kernel already linked counts as a hit).
  private static func compilePending(_ pending: [CompiledKernel], _ provider: KernelProvider?,
                                     into times: inout ProgramBuildTimes) throws -> (hits: Int, misses: Int) {
    guard let provider, !pending.isEmpty else { return (0, 0) }
    let compiled = try provider.kernels(for: pending.map(\.kernel))
    for (p, c) in zip(pending, compiled) { p.fulfill(with: c) }
    times.add(compiled.map(\.report))
    if DebugLevel.current >= 2 {
      for r in compiled.map(\.report) where r.loadMilliseconds > 0 || !r.cacheHit { print(r) }
    }
    if DebugLevel.current >= 4, let compiler = provider as? KernelCompiler {
      for p in pending { print("-- kernel \(p.kernel.name)\n\(p.kernel)\n\(try compiler.optimizedIR(for: p.kernel).text)") }
    }
    let hits = compiled.filter(\.report.cacheHit).count
    return (hits, compiled.count - hits)
  }

  // MARK: binding and running

  /// Copies `values` into input `name` (kept until overwritten).
  public func setInput(_ name: String, _ values: [Float]) throws {
    let (ptr, count) = try inputBuffer(name)
    guard values.count == count else {
      throw GraphError(op: "run", message: "input '\(name)' has \(values.count) values, expected \(count) \(graph.nodes[inputIds[name]!].shape.shapeText)")
    }
    values.withUnsafeBufferPointer { ptr.update(from: $0.baseAddress!, count: count) }
  }

  /// Marks the static inputs as changed (done by `setInput`/`inputBuffer` on a static input).
  public func invalidateStaticWork() { staticDirty = true }

  /// The storage of input `name`, for writing in place.
  public func inputBuffer(_ name: String) throws -> (UnsafeMutablePointer<Float>, Int) {
    guard let id = inputIds[name] else { throw GraphError(op: "run", message: "program '\(graph.name)' has no input '\(name)'") }
    if staticInputNames.contains(name) { staticDirty = true }
    return (arena.base + offsets[id]!, graph.nodes[id].shape.elementCount)
  }

  public var inputNames: [String] { graph.inputs.map(\.name) }
  public func inputShape(_ name: String) -> Shape? { inputIds[name].map { graph.nodes[$0].shape } }
  public var outputNames: [String] { graph.outputs.map(\.name) }

  /// Runs every step once.
  public func run() throws {
    let refresh = staticDirty
    if refresh { staticGeneration += 1; staticDirty = false }
    let ctx = RunContext(base: arena.base, scratch: scratch.base, staticGeneration: staticGeneration, profiling: profiling)
    if !profiling {
      for s in steps where refresh || !s.invariant { try s.run(ctx) }
      return
    }
    for (k, s) in steps.enumerated() where refresh || !s.invariant {
      let t0 = DispatchTime.now().uptimeNanoseconds
      try s.run(ctx)
      let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
      stepSeconds[k] += dt
      stepCalls[k] += 1
      if DebugLevel.current >= 2 { print(s.debugLine(seconds: dt)) }
    }
  }

  /// A copy of output `name`.
  public func output(_ name: String) throws -> HostTensor<Float> {
    guard let id = outputIds[name] else { throw GraphError(op: "run", message: "program '\(graph.name)' has no output '\(name)'") }
    let shape = graph.nodes[id].shape
    return HostTensor(shape: shape, values: Array(UnsafeBufferPointer(start: arena.base + offsets[id]!, count: shape.elementCount)))
  }

  /// Static FLOP count of one run (all steps).
  public var flopsPerRun: Double { steps.reduce(0) { $0 + $1.flops } }

  /// Binds `inputs`, runs, and returns the requested outputs (all by default).
  public func run(inputs: [String: HostTensor<Float>], outputs: [String]? = nil) throws -> [String: HostTensor<Float>] {
    for (name, t) in inputs {
      if let want = inputShape(name), want != t.shape {
        throw GraphError(op: "run", message: "input '\(name)' has shape \(t.shape.shapeText), expected \(want.shapeText)")
      }
      try setInput(name, t.values)
    }
    try run()
    var out: [String: HostTensor<Float>] = [:]
    for name in outputs ?? outputNames { out[name] = try output(name) }
    return out
  }

  // MARK: static estimates

  /// Floating-point operations of one node (one per element for elementwise work, two per
  /// multiply-add for products).
  static func flops(_ n: Graph.Node, _ g: Graph) -> Double {
    let out = Double(n.shape.elementCount)
    switch n.op {
    case .unary, .leakyRelu, .binary, .select: return out
    case .reduce: return Double(g.nodes[n.inputs[0]].shape.elementCount)
    case .maxPool2d(let p): return out * Double(p.kernel[0] * p.kernel[1])
    case .maxPool2dGrad(let p):  // every element scans each window that holds it
      let windows = (0..<2).reduce(1) { $0 * ((p.kernel[$1] + p.stride[$1] - 1) / p.stride[$1]) }
      return out * Double(windows * p.kernel[0] * p.kernel[1])
    case .conv2d, .convTranspose2d, .conv2dWeightGrad:
      let shapes = n.inputs.map { g.nodes[$0].shape }
      if case .convTranspose2d = n.op { return 2 * Double(shapes[0].elementCount * shapes[1][1] * shapes[1][2] * shapes[1][3]) }
      return 2 * out * Double(KernelLowering.reductionLength(n.op, shapes))
    case .matmul:  // direct (small) products; GEMM steps count their own
      let a = g.nodes[n.inputs[0]].shape
      return 2 * out * Double(a[a.count - 1])
    default: return 0
    }
  }
}

extension Op {
  /// True for ops that compute (as opposed to moving data or being leaves).
  var isComputation: Bool {
    switch self {
    case .input, .constant, .reshape, .transpose, .broadcast, .slice, .pad, .reverse, .concat: false
    default: true
    }
  }
}

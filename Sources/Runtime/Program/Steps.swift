import Codegen
import Foundation
import GraphIR

/// What a step sees when it runs: the arena and the program's scratch space.
struct RunContext {
  var base: UnsafeMutablePointer<Float>
  var scratch: UnsafeMutablePointer<Float>
  /// Changes whenever the static inputs were rebound (see `ProgramOptions.staticInputs`).
  var staticGeneration = 0
  /// Whether steps time their GEMM calls separately (`iloc profile`).
  var profiling = false
  func ptr(_ offset: Int) -> UnsafeMutablePointer<Float> { base + offset }
}

/// One executable step of a compiled program.
class ProgramStep {
  /// Kernel or call name shown in profiles.
  var label: String
  /// The graph node this step materializes.
  let node: Int
  /// "kernel", "gemm", "builtin".
  let kind: String
  /// Graph ops computed by this step (fused ones included).
  let ops: Int
  /// Static estimates of the work and traffic of one run.
  let flops: Double
  let bytes: Double
  /// Depends only on static inputs: run once per binding, not on every run.
  var invariant = false
  init(label: String, node: Int, kind: String, ops: Int, flops: Double, bytes: Double) {
    self.label = label; self.node = node; self.kind = kind; self.ops = ops; self.flops = flops; self.bytes = bytes
  }
  func run(_ ctx: RunContext) throws { fatalError("abstract") }

  /// Time spent inside GEMM calls while profiling (the rest of a GEMM step is its gathers and
  /// transforms), so that profiles show the products' own rate against the FMA peak.
  var gemmSeconds = 0.0

  /// Runs `body` (GEMM calls), adding its time to `gemmSeconds` when profiling.
  func timingGEMM(_ ctx: RunContext, _ body: () throws -> Void) rethrows {
    guard ctx.profiling else { return try body() }
    let t0 = DispatchTime.now().uptimeNanoseconds
    try body()
    gemmSeconds += Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
  }

  /// The `ILOC_DEBUG=2` line for one launch that took `seconds`.
  func debugLine(seconds dt: Double) -> String {
    "*** " + kind.padded(7) + " " + label.padded(40)
      + String(format: " ops %3d  tm %9.3f ms  %9.2f GFLOP/s  %7.2f GB/s", ops, dt * 1e3, flops / dt / 1e9, bytes / dt / 1e9)
  }
}

/// A generated loop-nest kernel, split over threads along its parallel loop.
final class KernelStep: ProgramStep {
  let kernel: Kernel
  let compiled: CompiledKernel?
  let offsets: [Int]
  let scalars: [Int64]
  let work: Int

  init(kernel: Kernel, compiled: CompiledKernel?, offsets: [Int], scalars: [Int64] = [], node: Int, ops: Int, flops: Double, label: String? = nil) {
    self.kernel = kernel; self.compiled = compiled; self.offsets = offsets; self.scalars = scalars
    self.work = Swift.max(Int(flops), kernel.buffers[0].count)
    let bytes = Double(kernel.buffers.map(\.count).reduce(0, +) * 4)
    super.init(label: label ?? kernel.name, node: node, kind: "kernel", ops: ops, flops: flops, bytes: bytes)
  }

  override func run(_ ctx: RunContext) throws {
    try launchKernel(kernel, compiled, offsets.map { ctx.base + $0 }, scalars: scalars, work: work)
  }
}

/// Steps that run a graph op through the reference interpreter's implementation.
final class BuiltinStep: ProgramStep {
  let op: Op
  let inputs: [(offset: Int, shape: Shape)]
  let output: (offset: Int, shape: Shape)
  init(op: Op, inputs: [(Int, Shape)], output: (Int, Shape), node: Int) {
    self.op = op; self.inputs = inputs.map { (offset: $0.0, shape: $0.1) }; self.output = (offset: output.0, shape: output.1)
    let bytes = Double((inputs.map { $0.1.elementCount }.reduce(0, +) + output.1.elementCount) * 4)
    super.init(label: "builtin_\(op.name)", node: node, kind: "builtin", ops: 1, flops: Double(output.1.elementCount), bytes: bytes)
  }
  override func run(_ ctx: RunContext) throws {
    let xs = inputs.map { HostTensor<Float>(shape: $0.shape, values: Array(UnsafeBufferPointer(start: ctx.ptr($0.offset), count: $0.shape.elementCount))) }
    let y = Interpreter.evaluate(op, xs, shape: output.shape)
    y.values.withUnsafeBufferPointer { ctx.ptr(output.offset).update(from: $0.baseAddress!, count: y.count) }
  }
}

/// Batched matrix product through the GEMM route of its shape (own kernels or OpenBLAS); an
/// operand that is a swap of the last two axes of a stored matrix is read in place with the
/// GEMM's transpose flag.
final class MatmulStep: ProgramStep {
  let a: Int, b: Int, c: Int, batch: Int, m: Int, n: Int, k: Int
  let transA: Bool, transB: Bool
  let route: GEMMRoute
  init(a: Int, b: Int, c: Int, shapeA: Shape, shapeB: Shape, transA: Bool = false, transB: Bool = false, node: Int,
       router: GEMMRouter) {
    self.a = a; self.b = b; self.c = c; self.transA = transA; self.transB = transB
    let r = shapeA.count
    (m, k, n) = (shapeA[r - 2], shapeA[r - 1], shapeB[r - 1])
    batch = shapeA.dropLast(2).reduce(1, *)
    route = router.route(GEMMShape(transA: transA, transB: transB, m: m, n: n, k: k))
    let flops = 2.0 * Double(batch * m * n * k)
    let t = (transA ? "T" : "") + (transB ? (transA ? "" : "") + "T" : "")
    super.init(label: "sgemm \(m)x\(n)x\(k)" + (batch > 1 ? " x\(batch)" : "") + (t.isEmpty ? "" : " (\(transA ? "A^T" : "A")*\(transB ? "B^T" : "B"))") + " [\(route.label)]",
               node: node, kind: "gemm", ops: 1, flops: flops, bytes: Double(batch * (m * k + k * n + m * n) * 4))
  }
  override func run(_ ctx: RunContext) throws {
    timingGEMM(ctx) {
      for i in 0..<batch {
        route.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: ctx.ptr(a + i * m * k), lda: transA ? m : k,
                    b: ctx.ptr(b + i * k * n), ldb: transB ? k : n, c: ctx.ptr(c + i * m * n), ldc: n)
      }
    }
  }
}

/// The convolution family as GEMMs around generated im2col / col2im gathers.
final class ConvolutionGEMMStep: ProgramStep {
  enum Form { case forward, transposed, weightGrad }
  let form: Form
  let x: Int, w: Int, y: Int  // offsets: input, weight (or grad-out for weightGrad), output
  let xShape: Shape, wShape: Shape, yShape: Shape
  let attrs: ConvAttrs
  let gather: KernelStep?  // im2col or col2im; nil for 1x1 stride-1 unpadded convs
  let scratchFloats: Int
  let route: GEMMRoute
  /// Output rows of one block when the forward gather and product run per block
  /// (`runForwardBlocks`); nil: over the whole image.
  let blockRows: Int?

  init(form: Form, x: Int, w: Int, y: Int, shapes: (Shape, Shape, Shape), attrs: ConvAttrs, node: Int,
       router: GEMMRouter, fusedBytes: Int = FusedBlocks.bytes, compile: (Kernel) throws -> CompiledKernel?) throws {
    self.form = form; self.x = x; self.w = w; self.y = y; self.attrs = attrs
    (xShape, wShape, yShape) = shapes
    let a = attrs
    let pointwise: Bool
    var gatherKernel: Kernel?
    var scratch = 0
    var flops = 0.0
    let shape = Self.gemmShape(form, xShape, wShape, yShape, groups: a.groups)
    route = router.route(shape)
    blockRows = form != .forward ? nil : Self.forwardBlockRows(shape, kernel: [wShape[2], wShape[3]], output: yShape,
                                                                 attrs: a, tile: route.own?.nr, budget: fusedBytes)
    switch form {
    case .forward:
      let (k0, k1) = (wShape[2], wShape[3])
      pointwise = Self.pointwise(k0, k1, a)
      if !pointwise {
        gatherKernel = ConvolutionKernels.im2col(x: xShape, kernel: [k0, k1], attrs: a, output: [yShape[2], yShape[3]],
                                                 rows: blockRows)
        let (samples, ho) = (yShape[0], yShape[2])
        let rows = blockRows.map { $0 * FusedBlocks.workers(samples * ho / $0) } ?? ho  // one block per worker
        scratch = xShape[1] * k0 * k1 * rows * yShape[3]
      }
      flops = 2.0 * Double(yShape.elementCount * (xShape[1] / a.groups) * k0 * k1)
    case .transposed:
      let (k0, k1) = (wShape[2], wShape[3])
      pointwise = Self.pointwise(k0, k1, a) && a.outputPadding == [0, 0]
      if !pointwise {
        gatherKernel = ConvolutionKernels.col2im(y: yShape, input: [xShape[2], xShape[3]], kernel: [k0, k1], attrs: a)
        scratch = yShape[1] * k0 * k1 * xShape[2] * xShape[3]
      }
      flops = 2.0 * Double(xShape.elementCount * (yShape[1] / a.groups) * k0 * k1)
    case .weightGrad:  // x = input, w = grad-out (gy), y = weight gradient [O, Cg, kh, kw]
      let (k0, k1) = (yShape[2], yShape[3])
      pointwise = Self.pointwise(k0, k1, a)
      if !pointwise {
        gatherKernel = ConvolutionKernels.im2col(x: xShape, kernel: [k0, k1], attrs: a, output: [wShape[2], wShape[3]])
        scratch = xShape[1] * k0 * k1 * wShape[2] * wShape[3]
      }
      flops = 2.0 * Double(wShape.elementCount * yShape[1] * k0 * k1)
    }
    scratchFloats = scratch
    if let gk = gatherKernel {
      // gather buffers: (scratch col, x) for im2col; (y, scratch col) for col2im. Offsets are
      // filled in at run time (the scratch area is not in the arena).
      gather = KernelStep(kernel: gk, compiled: try compile(gk), offsets: [], node: node, ops: 0, flops: 0)
    } else {
      gather = nil
    }
    let bytes = Double((xShape.elementCount + wShape.elementCount + yShape.elementCount + scratch * 2) * 4)
    let name = switch form { case .forward: "conv2d"; case .transposed: "conv_transpose2d"; case .weightGrad: "conv2d_weight_grad" }
    super.init(label: "\(name) gemm [\(route.label)] \(shape)", node: node, kind: "gemm", ops: 1, flops: flops, bytes: bytes)
  }

  /// Output rows of a block of the forward product (`runForwardBlocks`), or nil to run the
  /// whole image: only for the own GEMM kernels (`tile` wide), one group and a real gather.
  static func forwardBlockRows(_ shape: GEMMShape, kernel: [Int], output y: Shape, attrs a: ConvAttrs, tile: Int?,
                               budget: Int) -> Int? {
    guard a.groups == 1, let tile, !pointwise(kernel[0], kernel[1], a),
          let rows = FusedBlocks.rows(of: y[2], bytesPerRow: shape.k * y[3] * 4, budget: budget),
          blockingPays(o: shape.m, columns: rows * y[3], tile: tile) else { return nil }
    return rows
  }

  /// Blocks read the weights (o x K) once each instead of once per image, and save writing and
  /// reading back the block's gathered columns (K x columns); and a block whose columns end in
  /// a mostly empty tile of the GEMM kernel (`tile` wide) computes that padding in every block.
  /// A rule on the shape, measured on `stylegan2-1024` and `-256` (2 threads, 1 MB blocks): 64
  /// to 256 output channels with 128 to 513 columns a block 20-45 % faster, 512 channels with 32
  /// columns 2.3x slower, 128 channels with 129 columns (a third of the last tile computed for
  /// nothing) 30 % slower.
  static func blockingPays(o: Int, columns: Int, tile: Int) -> Bool {
    let padded = (columns + tile - 1) / tile * tile
    return o <= 2 * columns && (padded - columns) * 8 <= padded
  }

  /// A 1x1 stride-1 unpadded kernel: the product reads the activations in place, no gather.
  static func pointwise(_ k0: Int, _ k1: Int, _ a: ConvAttrs) -> Bool {
    k0 == 1 && k1 == 1 && a.stride == [1, 1] && a.padding.allSatisfy { $0 == 0 }
  }

  /// The shape of the per-sample, per-group GEMM that `run` makes.
  static func gemmShape(_ form: Form, _ xShape: Shape, _ wShape: Shape, _ yShape: Shape, groups g: Int) -> GEMMShape {
    switch form {
    case .forward:
      return GEMMShape(m: yShape[1] / g, n: yShape[2] * yShape[3], k: xShape[1] / g * wShape[2] * wShape[3])
    case .transposed:
      return GEMMShape(transA: true, m: yShape[1] / g * wShape[2] * wShape[3], n: xShape[2] * xShape[3], k: xShape[1] / g)
    case .weightGrad:
      return GEMMShape(transB: true, m: yShape[0] / g, n: xShape[1] / g * yShape[2] * yShape[3], k: wShape[2] * wShape[3])
    }
  }

  private func runGather(_ ptrs: [UnsafeMutablePointer<Float>], n: Int) throws {
    try launchKernel(gather!.kernel, gather!.compiled, ptrs, scalars: [Int64(n)])
  }

  override func run(_ ctx: RunContext) throws {
    let a = attrs
    let g = a.groups
    switch form {
    case .forward:
      if let rows = blockRows, let compiled = gather?.compiled, let own = route.own {
        return try runForwardBlocks(ctx, rows: rows, gather: compiled, own: own)
      }
      let (n, c, o) = (xShape[0], xShape[1], yShape[1])
      let cg = c / g, og = o / g, kk = wShape[2] * wShape[3]
      let q = yShape[2] * yShape[3], hw = xShape[2] * xShape[3]
      for s in 0..<n {
        let col: UnsafeMutablePointer<Float>
        if gather != nil { try runGather([ctx.scratch, ctx.ptr(x)], n: s); col = ctx.scratch } else { col = ctx.ptr(x + s * c * hw) }
        timingGEMM(ctx) {
          for gi in 0..<g {
            route.sgemm(m: og, n: q, k: cg * kk, a: ctx.ptr(w + gi * og * cg * kk), lda: cg * kk,
                        b: col + gi * cg * kk * q, ldb: q, c: ctx.ptr(y + (s * o + gi * og) * q), ldc: q)
          }
        }
      }
    case .transposed:
      let (n, cin, cout) = (xShape[0], xShape[1], yShape[1])
      let cig = cin / g, cog = cout / g, kk = wShape[2] * wShape[3]
      let hw = xShape[2] * xShape[3], yhw = yShape[2] * yShape[3]
      for s in 0..<n {
        let col = gather != nil ? ctx.scratch : ctx.ptr(y + s * cout * yhw)
        timingGEMM(ctx) {
          for gi in 0..<g {
            // col_g [cog*kk, hw] = W_g^T [cog*kk, cig] x X_g [cig, hw]; W_g is [cig, cog*kk]
            route.sgemm(transA: true, m: cog * kk, n: hw, k: cig, a: ctx.ptr(w + gi * cig * cog * kk), lda: cog * kk,
                        b: ctx.ptr(x + (s * cin + gi * cig) * hw), ldb: hw, c: col + gi * cog * kk * hw, ldc: hw)
          }
        }
        if gather != nil { try runGather([ctx.ptr(y), ctx.scratch], n: s) }
      }
    case .weightGrad:
      let (n, c, o) = (xShape[0], xShape[1], yShape[0])
      let cg = c / g, og = o / g, kk = yShape[2] * yShape[3]
      let q = wShape[2] * wShape[3], hw = xShape[2] * xShape[3]
      for s in 0..<n {
        let col: UnsafeMutablePointer<Float>
        if gather != nil { try runGather([ctx.scratch, ctx.ptr(x)], n: s); col = ctx.scratch } else { col = ctx.ptr(x + s * c * hw) }
        timingGEMM(ctx) {
          for gi in 0..<g {
            // dW_g [og, cg*kk] (+)= gy_g [og, q] x col_g^T [q, cg*kk]
            route.sgemm(transB: true, m: og, n: cg * kk, k: q, a: ctx.ptr(w + (s * o + gi * og) * q), lda: q,
                        b: col + gi * cg * kk * q, ldb: q, beta: s == 0 ? 0 : 1,
                        c: ctx.ptr(y + gi * og * cg * kk), ldc: cg * kk)
          }
        }
      }
    }
  }
}

/// Runs a kernel on explicit pointers: compiled (split over threads) or bounds-checked
/// interpreted (copying in and out) when `compiled` is nil.
func launchKernel(_ kernel: Kernel, _ compiled: CompiledKernel?, _ ptrs: [UnsafeMutablePointer<Float>], scalars: [Int64] = [],
                  work: Int? = nil) throws {
  if let compiled {
    try compiled.resolveIfPending()
    let p: [UnsafeMutablePointer<Float>?] = ptrs
    p.withUnsafeBufferPointer { pp in
      scalars.withUnsafeBufferPointer { sp in
        let (pb, sb) = (pp.baseAddress!, sp.baseAddress)
        Parallel.forRange(kernel.parallel.extent, work: work ?? kernel.buffers[0].count * 4) { r in
          compiled.entry(pb, sb, Int64(r.lowerBound), Int64(r.upperBound))
        }
      }
    }
  } else {
    var arrays = zip(ptrs, kernel.buffers).map { Array(UnsafeBufferPointer(start: $0.0, count: $0.1.count)) }
    try KernelInterpreter.run(kernel, buffers: &arrays, scalars: scalars)
    for (k, b) in kernel.buffers.enumerated() where b.access == .output {
      arrays[k].withUnsafeBufferPointer { ptrs[k].update(from: $0.baseAddress!, count: b.count) }
    }
  }
}

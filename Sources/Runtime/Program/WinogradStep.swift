import Codegen
import Foundation
import GraphIR

/// A 3x3 stride-1 convolution (or transposed convolution) by Winograd F(2x2, 3x3) or F(4x4, 3x3):
/// three generated transforms around 16 (36) GEMMs per sample, 2.25x (4x) fewer multiplies
/// than im2col+GEMM.
final class WinogradStep: ProgramStep {
  let x: Int, w: Int, y: Int
  let xShape: Shape, yShape: Shape
  /// Output and input channels, and the tiles of one block (`blockRows` rows of tiles).
  let o: Int, c: Int, t: Int
  let transform: WinogradKernels.Transform
  var xi: Int { transform.a * transform.a }
  let kernels: [(Kernel, CompiledKernel?)]  // weights, input, output
  let scratchFloats: Int
  let route: GEMMRoute
  /// Tile rows transformed and multiplied at a time.
  let blockRows: Int

  /// The transformed input and product tiles of one block are kept under this many bytes by
  /// default: the whole image for most layers up to 256 pixels, blocks of tile rows at 1024
  /// (where all of a 32-channel layer's tiles took 1 GB of scratch).
  public static let defaultBlockBytes = 64 << 20

  /// The most tile rows (a divisor of `rows`) whose V and M tiles fit `bytes`; at least 1.
  static func blockRows(rows: Int, columns: Int, channels: Int, _ t: WinogradKernels.Transform, bytes: Int) -> Int {
    FusedBlocks.fittingRows(of: rows, bytesPerRow: t.a * t.a * channels * columns * 4, budget: bytes)
  }

  /// Whether `op` on these shapes runs as Winograd (tiles counted as F(2x2)'s, whichever
  /// transform `init` then picks). It needs at least 16 tiles
  /// (an 8x8 output): each of its 16 products has one column per tile, and with fewer they fill
  /// a fraction of the narrowest GEMM kernel's tiles, where im2col's one product of 4x the
  /// columns is faster (StyleGAN2's 4x4 layers, 512 channels: 3.2 against 0.85 ms). Where the
  /// transformed weights (16 o c floats) outgrow a core's L2, it needs 32: each is read once
  /// per product for 2 flops per tile, and at 16 tiles reading them costs more than im2col's
  /// extra multiplies (StyleGAN2's 8x8 layers, 512 channels: 2.7 against 2.0 ms).
  static func eligible(_ op: Op, _ shapes: [Shape], output: Shape) -> Bool {
    let (x, w) = (shapes[0], shapes[1])
    guard w.count == 4, x[1] >= 16, output[1] >= 16 else { return false }
    if w[2] == 2, w[3] == 2 { return eligibleTwoByTwo(op, x: x, output: output) }
    guard w[2] == 3, w[3] == 3, output[2] % 2 == 0, output[3] % 2 == 0, output[2] >= 4, output[3] >= 4,
          enoughTiles(output[2] / 2 * (output[3] / 2), x: x, output: output) else { return false }
    switch op {
    case .conv2d(let a): return a.groups == 1 && a.stride == [1, 1]
    case .convTranspose2d(let a):
      return a.groups == 1 && a.stride == [1, 1] && a.outputPadding == [0, 0] && a.padding.allSatisfy { $0 <= 2 }
    default: return false
    }
  }

  /// At least 16 tiles, 32 where the 16 transformed weight matrices outgrow a core's L2 (above).
  static func enoughTiles(_ tiles: Int, x: Shape, output: Shape) -> Bool {
    tiles >= (16 * output[1] * x[1] * 4 > 1 << 20 ? 32 : 16)
  }

  /// A 2x2 stride-1 convolution (the largest phase of a stride-2 transposed 3x3 convolution) by
  /// F(3x3, 2x2), with the tile counts of the 3x3 rule above. Against im2col on the same phase
  /// (`iloc profile stylegan2-64` and `-256`, 2 threads, AVX-512, alternating runs): 33x33
  /// outputs of 512 channels 12.1 -> 7.2 ms, 17x17 (36 tiles) 3.6 -> 3.1, 65x65 of 256 channels
  /// 25.7-30.0 -> 16.0-21.2, 129x129 of 128 channels 29.5-35.1 -> 19.3-23.0. Products of less
  /// work lose to their per-product costs: the DCGAN's 16x16 phases (36 tiles, 128 -> 64
  /// channels, 0.3 M multiply-adds a product) took 0.30-0.37 ms each against about 0.15 by
  /// im2col, hence at least 2^20 tiles x channel pairs.
  static func eligibleTwoByTwo(_ op: Op, x: Shape, output: Shape) -> Bool {
    guard case .conv2d(let a) = op, a.groups == 1, a.stride == [1, 1] else { return false }
    let t = WinogradKernels.Transform.f3r2.tiles(ho: output[2], wo: output[3])
    let tiles = t.rows * t.columns
    return enoughTiles(tiles, x: x, output: output) && tiles * output[1] * x[1] >= 1 << 20
  }

  /// `taps`: the kernel's height and width (3, or 2 for F(3x3, 2x2)).
  init(op: Op, x: Int, w: Int, y: Int, xShape: Shape, yShape: Shape, taps: Int = 3, node: Int, router: GEMMRouter,
       blockBytes: Int = defaultBlockBytes, fusedBytes: Int = FusedBlocks.bytes, f4: Bool = false,
       compile: (Kernel) throws -> CompiledKernel?) throws {
    self.x = x; self.w = w; self.y = y; self.xShape = xShape; self.yShape = yShape
    (c, o) = (xShape[1], yShape[1])
    // F(2x2) unless asked for F(4x4) (`ProgramOptions.winogradF4`: less accurate), and then only
    // where F(4x4) is faster (`Transform.forOutput`)
    let tr: WinogradKernels.Transform = taps == 2 ? .f3r2
      : f4 ? .forOutput(ho: yShape[2], wo: yShape[3]) : .f2
    transform = tr
    let (rows, columns) = tr.tiles(ho: yShape[2], wo: yShape[3])
    tileRows = rows
    // fused blocks where they pay and the own kernels run the product, else blocks by `blockBytes`;
    // outputs that the tiles do not divide are transformed whole (`outputTransform`)
    let (oc, cc) = (yShape[1], xShape[1])
    let whole = !tr.divides(ho: yShape[2], wo: yShape[3])
    let fusedRows = whole ? nil
      : FusedBlocks.rows(of: rows, bytesPerRow: tr.a * tr.a * (c + o) * columns * 4, budget: fusedBytes)
      .flatMap { Self.fusionPays(o: oc, c: cc, tiles: $0 * columns) ? $0 : nil }
      .flatMap { router.route(GEMMShape(m: oc, n: $0 * columns, k: cc)).own != nil ? $0 : nil }
    fused = fusedRows != nil
    blockRows = whole ? rows
      : fusedRows ?? Self.blockRows(rows: rows, columns: columns, channels: c + o, tr, bytes: blockBytes)
    t = blockRows * columns
    let transposed: Bool, padTop: Int, padLeft: Int
    switch op {
    case .conv2d(let a): (transposed, padTop, padLeft) = (false, a.padding[0], a.padding[2])
    case .convTranspose2d(let a):
      (transposed, padTop, padLeft) = (true, tr.r - 1 - a.padding[0], tr.r - 1 - a.padding[2])
    default: fatalError("not a winograd op")
    }
    let ks = [WinogradKernels.weightTransform(o: o, c: c, transposed: transposed, tr),
              WinogradKernels.inputTransform(x: xShape, padTop: padTop, padLeft: padLeft, ho: yShape[2], wo: yShape[3], tr,
                                             rows: blockRows),
              WinogradKernels.outputTransform(y: yShape, tr, rows: blockRows)]
    kernels = try ks.map { ($0, try compile($0)) }
    let workers = fused ? FusedBlocks.workers(xShape[0] * rows / blockRows) : 1
    (planeV, planeM) = (WinogradKernels.plane(c * t), WinogradKernels.plane(o * t))
    scratchFloats = tr.a * tr.a * (o * c + workers * (planeV + planeM))
    let gemmFlops = 2.0 * Double(tr.a * tr.a) * Double(o * c * t * xShape[0] * (rows / blockRows))
    let shape = GEMMShape(m: o, n: t, k: c)
    route = router.route(shape)
    super.init(label: "\(op.name) \(tr.name) [\(route.label)] \(tr.a * tr.a)x\(shape)", node: node, kind: "gemm",
               ops: 1, flops: gemmFlops,
               bytes: Double((xShape.elementCount + yShape.elementCount + o * c * tr.r * tr.r + scratchFloats * 2) * 4))
  }

  /// Rows of tiles over the output (the last may reach past it).
  let tileRows: Int
  /// Whether each thread runs all three parts on blocks of its own (`runFused`).
  let fused: Bool

  /// Fusing reads the transformed weights (16 o c floats) once per block instead of once per
  /// image, and saves writing and reading back the block's transformed tiles (16 (c + o) t
  /// floats, each written and read once). A rule on the shape: it pays where the weights are
  /// the smaller traffic (`stylegan2-256`, 2 threads: 128 and 256 channels 10-18 % faster per
  /// convolution; 512 channels at 32 tiles a block 30 % slower).
  static func fusionPays(o: Int, c: Int, tiles: Int) -> Bool { o * c <= 2 * (c + o) * tiles }

  /// The weight is static: its transform is kept and redone only after a rebinding.
  var weightInvariant = false
  /// Floats between the planes of the transformed tiles and of the products (`WinogradKernels.plane`).
  let planeV: Int, planeM: Int
  private var ownU: Arena?
  private var transformedGeneration = -1

  override func run(_ ctx: RunContext) throws {
    let u: UnsafeMutablePointer<Float>
    if weightInvariant {
      if ownU == nil { ownU = Arena(count: xi * o * c) }
      u = ownU!.base
      if transformedGeneration != ctx.staticGeneration {
        try launchKernel(kernels[0].0, kernels[0].1, [u, ctx.ptr(w)])
        transformedGeneration = ctx.staticGeneration
      }
    } else {
      u = ctx.scratch
      try launchKernel(kernels[0].0, kernels[0].1, [u, ctx.ptr(w)])
    }
    if fused, let input = kernels[1].1, let output = kernels[2].1, let own = route.own {
      return try runFused(ctx, u: u, input: input, output: output, own: own)
    }
    let v = ctx.scratch + xi * o * c, m = v + xi * planeV
    for n in 0..<xShape[0] {
      for row0 in stride(from: 0, to: tileRows, by: blockRows) {
        let scalars = [Int64(n), Int64(row0)]
        try launchKernel(kernels[1].0, kernels[1].1, [v, ctx.ptr(x)], scalars: scalars)
        timingGEMM(ctx) { products(u: u, v: v, m: m) }
        try launchKernel(kernels[2].0, kernels[2].1, [ctx.ptr(y), m], scalars: scalars)
      }
    }
  }

  /// The xi products `M[k] = U[k] V[k]` of a block. On the own kernels, with at least two
  /// products per thread, each thread takes whole products (`sgemmOnThisThread`: the same bits
  /// as `sgemm`) instead of every product being split over the threads: one hand-out instead of
  /// xi, and each B packed by one thread. For the narrow products of small layers (16 products of
  /// 36-121 columns) that measured 10-25 % faster (`stylegan2-64`'s 16x16 layers: 4.1-4.6 ->
  /// 3.4-3.6 ms), and no slower on wide ones.
  private func products(u: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>) {
    let (o, c, t) = (self.o, self.c, self.t)
    if let own = route.own, Parallel.threads <= xi / 2 {
      let partition = Partition(extent: xi, work: xi, grain: 1, align: 1, maxChunks: Parallel.threads)
      Parallel.forEachChunk(of: partition) { r in
        for k in r { product(k, own, u: u, v: v, m: m) }
      }
      return
    }
    for k in 0..<xi {
      route.sgemm(m: o, n: t, k: c, a: u + k * o * c, lda: c, b: v + k * planeV, ldb: t, c: m + k * planeM, ldc: t)
    }
  }

  /// Product k, `M[k] = U[k] V[k]`, on the calling thread (planes `planeV` and `planeM` apart).
  private func product(_ k: Int, _ own: OwnGEMM, u: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                       m: UnsafeMutablePointer<Float>) {
    own.sgemmOnThisThread(m: o, n: t, k: c, a: u + k * o * c, lda: c, b: v + k * planeV, ldb: t,
                          c: m + k * planeM, ldc: t)
  }

  /// The blocks of tile rows shared out over the threads, each worker transforming, multiplying
  /// and transforming back its own blocks in scratch of its own (`FusedBlocks`).
  private func runFused(_ ctx: RunContext, u: UnsafeMutablePointer<Float>, input: CompiledKernel,
                        output: CompiledKernel, own: OwnGEMM) throws {
    try input.resolveIfPending()
    try output.resolveIfPending()
    let blocks = tileRows / blockRows
    let perWorker = xi * (planeV + planeM), scratch = ctx.scratch + (weightInvariant ? 0 : xi * o * c)
    let (xp, yp) = (ctx.ptr(x), ctx.ptr(y))
    forEachFusedBlock(xShape[0] * blocks, ctx) { b, worker, clock in
      let v = scratch + worker * perWorker, m = v + xi * planeV
      let scalars = [Int64(b / blocks), Int64(b % blocks * blockRows)]
      FusedBlocks.call(input, [v, xp], scalars, extent: kernels[1].0.parallel.extent)
      clock.time {
        for k in 0..<xi { product(k, own, u: u, v: v, m: m) }
      }
      FusedBlocks.call(output, [yp, m], scalars, extent: kernels[2].0.parallel.extent)
    }
  }
}

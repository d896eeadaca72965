import Codegen
import Foundation

extension ConvolutionGEMMStep {
  /// A forward convolution by blocks of `rows` output rows shared out over the threads: each
  /// worker gathers a block's columns into its own scratch and multiplies them on its own
  /// thread, writing the block's columns of the output (`FusedBlocks`).
  func runForwardBlocks(_ ctx: RunContext, rows: Int, gather: CompiledKernel, own: OwnGEMM) throws {
    try gather.resolveIfPending()
    let (c, o, wo) = (xShape[1], yShape[1], yShape[3])
    let k = c * wShape[2] * wShape[3], q = yShape[2] * wo, columns = rows * wo
    let blocks = yShape[2] / rows
    let (xp, wp, yp) = (ctx.ptr(x), ctx.ptr(w), ctx.ptr(y))
    let extent = gather.kernel.parallel.extent
    forEachFusedBlock(xShape[0] * blocks, ctx) { b, worker, clock in
      let (s, row0) = (b / blocks, b % blocks * rows)
      let col = ctx.scratch + worker * k * columns
      FusedBlocks.call(gather, [col, xp], [Int64(s), Int64(row0)], extent: extent)
      clock.time {
        own.sgemmOnThisThread(m: o, n: columns, k: k, a: wp, lda: k, b: col, ldb: columns,
                              c: yp + s * o * q + row0 * wo, ldc: q)
      }
    }
  }
}

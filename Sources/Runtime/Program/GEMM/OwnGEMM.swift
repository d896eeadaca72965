import Codegen
import Foundation

/// C = alpha * op(A) * op(B) + beta * C on a generated microkernel (`GEMMMicrokernel`), with
/// Goto/BLIS-style cache blocking: for each nc-wide column block and kc-deep slice of K, B is
/// packed into kc x NR panels (kept in L2); the microkernel then sweeps the MR x NR tiles, row
/// panel by row panel (its MR x kc slice of A stays in L1), reading A in place through its
/// strides (only a partial last row panel is packed, zero-padded).
///
/// Determinism: every element of C is one fma chain over k in increasing order inside each kc
/// slice, the slices applied in order (`C = alpha*acc + beta*C`, then `+ C`), and kc depends on
/// nothing but the constant `kc`. Tiles at the matrix edge run the same full-tile code into a
/// scratch tile and apply the same rounding steps in Swift. So an element's bits do not depend
/// on where the tile or thread boundaries fall: the result is the same with any thread count
/// and any partition (the partition below is still fixed by sizes, like every other one).
public final class OwnGEMM: @unchecked Sendable {
  public let kernel: GEMMMicrokernel
  public let kc: Int, nc: Int
  /// The tile's rows and columns (stored: read per tile, they should not go through `kernel`).
  public let mr: Int, nr: Int
  /// A narrower kernel (same rows, same kc; it may have a tail of its own) for the last columns
  /// of a product whose width the main tile does not divide (`tailColumns`).
  public let tail: OwnGEMM?
  private let pool: PackBufferPool

  /// Block sizes: kc (the depth of a K slice) and nc bound the packed B block (kc x nc floats,
  /// 512 KB by default) to fit L2.
  public init(kernel: GEMMMicrokernel, kc: Int = 256, ncPanels: Int? = nil, tail: OwnGEMM? = nil) {
    self.kernel = kernel
    let (mr, nr) = (kernel.shape.rows, kernel.shape.columns)
    (self.mr, self.nr) = (mr, nr)
    self.kc = kc
    self.nc = nr * (ncPanels ?? Swift.max(1, 512 / nr))
    let usable = tail.map { $0.mr == mr && $0.kc == kc && $0.nr < nr } ?? false
    self.tail = usable ? tail : nil
    pool = PackBufferPool(floats: kc * nc + 16 + mr * kc + 64)
  }

  /// Of a block of `n` columns, how many the tail kernel (and its own tails) run: the rest
  /// past a multiple of this kernel's width. A tail with enough accumulators to keep the FMA
  /// units busy (6x32 under 6x64: 12) is as fast per column, so it takes every rest and only
  /// its own edge tile goes through the scratch copy (a 57-column edge copied whole cost
  /// `512x121x512` 10 % of its time). One with fewer (6x16 under 6x32: 6 vector chains for
  /// 4 cycles of latency on 2 ports; 64 % of the peak in cache on Sapphire Rapids) takes only
  /// a rest that fits one of its tiles; a wider rest pads no more in this kernel's scratch
  /// tile. Tiles compute the same fma chains whichever kernel runs them: the bits do not change.
  func tailColumns(_ n: Int) -> Int {
    guard let tail else { return 0 }
    let rest = n % nr, chains = tail.kernel.shape.rows * tail.kernel.shape.vectors
    return chains >= Self.fullRateChains || rest <= tail.nr ? rest : 0
  }

  /// Independent accumulators a microkernel needs to run at the FMA throughput: latency 4 x 2
  /// FMA ports on Zen 4/5 and on Intel's cores since Skylake-SP.
  static let fullRateChains = 8

  /// The kernels that run a block of `count` columns from `start`, this one first, and where
  /// each one's packed panels start (each part's panels padded to its tile width).
  fileprivate func columnParts(start: Int, count: Int, panels: UnsafeMutablePointer<Float>) -> [ColumnPart] {
    let rest = tailColumns(count), mine = count - rest
    var parts: [ColumnPart] = []
    if mine > 0 {
      parts.append(ColumnPart(entry: kernel.entry, nr: nr, columns: start, count: mine, panels: panels))
    }
    if let tail, rest > 0 {
      let used = (mine + nr - 1) / nr * nr * kc
      parts += tail.columnParts(start: start + mine, count: rest, panels: panels + used)
    }
    return parts
  }

  /// "own avx512 6x64": the label profiles show.
  public var label: String { "own \(kernel.shape)" }

  public func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                    c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    guard k > 0 else { return Self.scale(m: m, n: n, beta: beta, c: c, ldc: ldc) }
    let byColumns = n >= m
    let extent = byColumns ? n : m
    // One chunk per thread: each chunk packs the whole other operand, so fewer is cheaper, and
    // no partition changes the bits (see the type's comment), so it may follow the thread count.
    let partition = Partition(extent: extent, work: 2 * m * n * k, grain: BLAS.gemmGrain,
                              align: byColumns ? nr : mr, maxChunks: Parallel.threads)
    Parallel.forEachChunk(of: partition) { r in
      let (i0, j0) = byColumns ? (0, r.lowerBound) : (r.lowerBound, 0)
      let (mb, nb) = byColumns ? (m, r.count) : (r.count, n)
      let aBlock = a + (transA ? i0 : i0 * lda), bBlock = b + (transB ? j0 * ldb : j0)
      let buffer = pool.take()
      defer { pool.give(buffer) }
      blocked(GEMMOperands(transA: transA, transB: transB, m: mb, n: nb, k: k, alpha: alpha, a: aBlock, lda: lda,
                           b: bBlock, ldb: ldb, beta: beta, c: c + i0 * ldc + j0, ldc: ldc), buffer: buffer)
    }
  }

  /// The same product computed on the calling thread alone, for callers that already share
  /// their work out over the threads (the fused Winograd blocks); the same bits as `sgemm`.
  public func sgemmOnThisThread(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0, k > 0 else { return Self.scale(m: m, n: n, beta: 0, c: c, ldc: ldc) }
    let buffer = pool.take()
    defer { pool.give(buffer) }
    blocked(GEMMOperands(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: lda,
                         b: b, ldb: ldb, beta: 0, c: c, ldc: ldc), buffer: buffer)
  }

  /// One thread's share: the loops over nc-wide and kc-deep blocks around the macro-kernel.
  /// The tail kernels' panels follow the main ones in the buffer (within kc x nc: a block
  /// narrower than nc pads to at most the next multiple of the main tile's width).
  private func blocked(_ g: GEMMOperands, buffer: UnsafeMutablePointer<Float>) {
    let packedB = buffer, edgeA = buffer + ((kc * nc + 15) & ~15)
    for jc in stride(from: 0, to: g.n, by: nc) {
      let ncb = Swift.min(nc, g.n - jc)
      let parts = columnParts(start: jc, count: ncb, panels: packedB)
      for pc in stride(from: 0, to: g.k, by: kc) {
        let kcb = Swift.min(kc, g.k - pc)
        for p in parts {
          GEMMPacking.packB(g, rows: pc, kc: kcb, columns: p.columns, nc: p.count, nr: p.nr,
                            into: p.panels)
        }
        macroKernel(g, parts, depth: pc, kc: kcb, edgeA: edgeA, beta: pc == 0 ? g.beta : 1)
      }
    }
  }

  /// Columns of a block that one microkernel runs, from its packed B panels. It holds the
  /// kernel's entry point and width, not the kernel object: the threads would otherwise retain
  /// and release that one shared object for every row panel (an atomic on one cache line that
  /// both cores write, about 2 % of a `stylegan2-256` step in `perf`). The `OwnGEMM` that makes the
  /// parts keeps the kernels alive.
  fileprivate struct ColumnPart {
    let entry: GEMMMicrokernelEntry, nr: Int
    let columns: Int, count: Int
    let panels: UnsafeMutablePointer<Float>
  }

  /// All tiles of the m-row block of C over `parts`, row panel by row panel: each MR x kc panel
  /// of A (read in place; rows of an edge panel packed and zero-padded) serves every part's
  /// tiles while it is in L1, so a main kernel and its tail read A once. Edge tiles go through
  /// a scratch tile.
  private func macroKernel(_ g: GEMMOperands, _ parts: [ColumnPart], depth pc: Int, kc: Int,
                           edgeA: UnsafeMutablePointer<Float>, beta: Float) {
    let mr = self.mr
    let (rsa, csa) = g.transA ? (1, g.lda) : (g.lda, 1)
    withUnsafeTemporaryAllocation(of: Float.self, capacity: mr * nr + 16) { scratch in
      let tile = UnsafeMutablePointer<Float>(bitPattern: (Int(bitPattern: scratch.baseAddress!) + 63) & ~63)!
      for ir in stride(from: 0, to: g.m, by: mr) {
        let rows = Swift.min(mr, g.m - ir)
        var a = g.a + ir * rsa + pc * csa, (ra, ca) = (rsa, csa)
        if rows < mr {
          GEMMPacking.packA(g, rows: ir, mc: rows, columns: pc, kc: kc, mr: mr, into: edgeA)
          (a, ra, ca) = (UnsafePointer(edgeA), 1, mr)
        }
        let panel = RowPanel(a: a, rsa: ra, csa: ca, row: ir, rows: rows, kc: kc)
        for part in parts { tiles(g, part, panel, tile: tile, beta: beta) }
      }
    }
  }

  /// An MR x kc panel of A as the microkernel reads it, and where its rows are in C.
  private struct RowPanel {
    let a: UnsafePointer<Float>, rsa: Int, csa: Int
    let row: Int, rows: Int, kc: Int
  }

  /// One row panel's tiles over one part's columns.
  private func tiles(_ g: GEMMOperands, _ part: ColumnPart, _ p: RowPanel, tile: UnsafeMutablePointer<Float>,
                     beta: Float) {
    let nr = part.nr, entry = part.entry
    let (kc, ra, ca) = (Int64(p.kc), Int64(p.rsa), Int64(p.csa))
    for jr in stride(from: 0, to: part.count, by: nr) {
      let cols = Swift.min(nr, part.count - jr)
      let ct = g.c + p.row * g.ldc + part.columns + jr, pb = part.panels + jr * p.kc
      if p.rows == mr && cols == nr {
        entry(kc, p.a, ra, ca, pb, ct, Int64(g.ldc), g.alpha, beta)
        continue
      }
      entry(kc, p.a, ra, ca, pb, tile, Int64(nr), 1, 0)
      for i in 0..<p.rows {
        for j in 0..<cols {
          let r = g.alpha * tile[i * nr + j]
          ct[i * g.ldc + j] = beta == 0 ? r : r.addingProduct(beta, ct[i * g.ldc + j])
        }
      }
    }
  }

  /// C = beta * C (the k == 0 product), with C not read when beta == 0.
  static func scale(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m {
      for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] }
    }
  }
}

/// The arguments of one GEMM call (row-major; transposed operands read in place).
struct GEMMOperands {
  var transA: Bool, transB: Bool
  var m: Int, n: Int, k: Int
  var alpha: Float
  var a: UnsafePointer<Float>, lda: Int
  var b: UnsafePointer<Float>, ldb: Int
  var beta: Float
  var c: UnsafeMutablePointer<Float>, ldc: Int
}

/// Reusable 64-byte-aligned packing buffers, one taken per running chunk (so a buffer is
/// allocated, and its pages touched, once rather than on every call).
final class PackBufferPool: @unchecked Sendable {
  let floats: Int
  private let lock = NSLock()
  private var free: [UnsafeMutablePointer<Float>] = []

  init(floats: Int) { self.floats = floats }

  func take() -> UnsafeMutablePointer<Float> {
    lock.lock()
    if let b = free.popLast() { lock.unlock(); return b }
    lock.unlock()
    let raw = UnsafeMutableRawPointer.allocate(byteCount: floats * 4, alignment: 64)
    return raw.bindMemory(to: Float.self, capacity: floats)
  }

  func give(_ b: UnsafeMutablePointer<Float>) {
    lock.lock()
    free.append(b)
    lock.unlock()
  }

  deinit { for b in free { b.deallocate() } }
}

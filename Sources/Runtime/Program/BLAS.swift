import COpenBLAS

/// The OpenBLAS calls iloc makes (row-major single precision).
///
/// Every product is cut into a fixed set of column blocks (or row blocks, when the product is
/// taller than wide) chosen from its shape alone; each block is one single-threaded
/// `cblas_sgemm`, and `Parallel` shares the blocks out over its workers. OpenBLAS's own
/// threading is not used: with one thread and with several it splits K differently (measured
/// with OpenBLAS 0.3.21: 100x300x700 differs in 19,000 of 30,000 entries between 1 and 2
/// threads), so results would depend on the thread count. Here they cannot.
public enum BLAS {
  /// C (m x n, row stride ldc) = alpha * op(A) * op(B) + beta * C, where op(A) is m x k and
  /// op(B) is k x n; `transA`/`transB` read a stored k x m / n x k matrix transposed.
  static func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                    c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0, n > 0 else { return }
    let byColumns = n >= m
    let extent = byColumns ? n : m
    let partition = Partition(extent: extent, work: 2 * m * n * k, grain: gemmGrain, align: 16,
                              maxChunks: maxBlocks(extent))
    Parallel.forEachChunk(of: partition) { r in
      let (i0, j0) = byColumns ? (0, r.lowerBound) : (r.lowerBound, 0)
      let (mb, nb) = byColumns ? (m, r.count) : (r.count, n)
      let aBlock = a + (transA ? i0 : i0 * lda), bBlock = b + (transB ? j0 * ldb : j0)
      cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                  Int32(mb), Int32(nb), Int32(k), alpha, aBlock, Int32(lda), bBlock, Int32(ldb), beta,
                  c + i0 * ldc + j0, Int32(ldc))
    }
  }

  /// Plain C = A * B with dense row-major operands.
  static func sgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>) {
    sgemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: c, ldc: n)
  }

  /// At least this many flops per block (about 4 MFLOP, 50 us on one core), so that small
  /// products stay one call.
  static let gemmGrain = 1 << 22

  /// The most blocks a split dimension of `extent` is cut into. Every block packs the whole
  /// other operand again: one packed element per 2 x width flops. Measured single-threaded
  /// (OpenBLAS 0.3.21, AVX-512), 256-wide blocks cost 0-7% against one call, 64-wide ones
  /// 20-35%; so blocks are 256 wide or more (128 when that is the only way to have two), and
  /// at most 16 (enough for 16 cores).
  static func maxBlocks(_ extent: Int) -> Int {
    let wide = extent >= 512 ? extent / 256 : (extent >= 256 ? 2 : 1)
    return Swift.min(16, wide)
  }
}

extension BLAS {
  /// The kernel set OpenBLAS chose for this CPU (`openblas_get_corename`: "Haswell",
  /// "SkylakeX", "Zen", ...). `OPENBLAS_CORETYPE` overrides it.
  public static let coreName: String = openblas_get_corename().map { String(cString: $0) } ?? "unknown"

  /// Whether that kernel set uses AVX2 FMAs or wider. OpenBLAS picks its kernels by CPU name,
  /// and a CPU its build does not know gets old SSE kernels: Debian's 0.3.21 on a virtualized
  /// Sapphire Rapids ("Intel(R) Xeon(R) Processor") chose "Prescott", 13-17 GFLOP/s a core on
  /// `NT 64x576x4096` against 44 for the own AVX-512 kernels (`iloc bench gemm`).
  public static var hasVectorKernels: Bool { Self.vectorCores.contains(coreName.lowercased()) }

  /// OpenBLAS 0.3.x core names whose sgemm kernels use AVX2 + FMA or AVX-512.
  static let vectorCores: Set<String> = ["haswell", "zen", "skylakex", "cooperlake", "sapphirerapids", "excavator"]
}

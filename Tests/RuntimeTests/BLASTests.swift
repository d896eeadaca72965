import Foundation
import GraphIR
import Testing
@testable import Runtime

/// `BLAS.sgemm` cuts a product into blocks by its shape alone; every transpose form, both
/// split directions and an accumulating beta must give the plain product.
@Suite struct BLASTests {
  /// C = alpha * op(A) * op(B) + beta * C in double precision, row-major.
  static func reference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: [Float], b: [Float],
                        beta: Float, c: [Float]) -> [Double] {
    (0..<m * n).map { e in
      let (i, j) = (e / n, e % n)
      var s = 0.0
      for p in 0..<k {
        let x = transA ? a[p * m + i] : a[i * k + p], y = transB ? b[j * k + p] : b[p * n + j]
        s += Double(x) * Double(y)
      }
      return Double(alpha) * s + Double(beta) * Double(c[e])
    }
  }

  @Test(arguments: [(1, 4000, 1000), (700, 40, 300), (20, 600, 400), (5, 7, 3)])
  func partitionedProductMatchesTheDefinition(shape: (Int, Int, Int)) {
    let (m, n, k) = shape
    var rng = SplitMix64(seed: UInt64(m * 31 + n))
    let a = rng.normals(m * k).map { Float($0) }, b = rng.normals(k * n).map { Float($0) }
    let c0 = rng.normals(m * n).map { Float($0) }
    for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
      var c = c0
      a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
        BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: pa.baseAddress!,
                   lda: transA ? m : k, b: pb.baseAddress!, ldb: transB ? k : n, beta: 1, c: pc.baseAddress!, ldc: n)
      } } }
      let truth = Self.reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, b: b,
                                 beta: 1, c: c0)
      let err = zip(c, truth).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
      #expect(err < 1e-4, "\(m)x\(n)x\(k) transA \(transA) transB \(transB): relative error \(err)")
    }
  }

  /// The partition depends on the extent and the work only, covers the range exactly once,
  /// and keeps long chunks whole vectors.
  @Test func partitionCoversTheRangeInAlignedChunks() {
    let cases = [(0, 0), (1, 1 << 30), (17, 1 << 30), (1000, 100), (1000, 1 << 20), (12288, 1 << 26), (97, 1 << 24)]
    for (extent, work) in cases {
      let p = Partition(extent: extent, work: work)
      let covered = (0..<p.count).flatMap { Array(p[$0]) }
      #expect(covered == Array(0..<extent), "extent \(extent) work \(work)")
      #expect(p.count <= Partition.maxChunks)
      if p.count > 1 { #expect(p.size <= 16 || p.size % 16 == 0) }
      if work < 2 * Partition.grain { #expect(p.count <= 1) }
    }
  }
}

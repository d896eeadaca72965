/// Packing of GEMM operands into the panel layouts the microkernel reads, zero-padded at the
/// edges (padded rows/columns of a tile are computed and thrown away, never stored in C).
enum GEMMPacking {
  /// The kc x nc block of op(B) at (`rows`, `columns`) as ceil(nc / nr) panels, each kc
  /// steps of `nr` floats. op(B)[p][j] is b[p*ldb + j], or b[j*ldb + p] when transposed.
  static func packB(_ g: GEMMOperands, rows p0: Int, kc: Int, columns j0: Int, nc: Int, nr: Int,
                    into dst: UnsafeMutablePointer<Float>) {
    for jr in stride(from: 0, to: nc, by: nr) {
      let panel = dst + jr * kc
      let cols = Swift.min(nr, nc - jr)
      if g.transB {
        // 16 k steps at a time: the 16 panel rows written stay in L1 while every column of the
        // panel reads one cache line of its row of B.
        for pb in stride(from: 0, to: kc, by: 16) {
          let steps = Swift.min(16, kc - pb)
          for j in 0..<cols {
            let src = g.b + (j0 + jr + j) * g.ldb + p0 + pb
            let out = panel + pb * nr + j
            for p in 0..<steps { out[p * nr] = src[p] }
          }
        }
      } else {
        for p in 0..<kc {
          (panel + p * nr).update(from: g.b + (p0 + p) * g.ldb + j0 + jr, count: cols)
        }
      }
      if cols < nr {
        for p in 0..<kc { (panel + p * nr + cols).update(repeating: 0, count: nr - cols) }
      }
    }
  }

  /// The mc x kc block of op(A) at (`rows`, `columns`) as ceil(mc / mr) panels, each kc
  /// steps of `mr` floats. op(A)[i][p] is a[i*lda + p], or a[p*lda + i] when transposed.
  static func packA(_ g: GEMMOperands, rows i0: Int, mc: Int, columns p0: Int, kc: Int, mr: Int,
                    into dst: UnsafeMutablePointer<Float>) {
    for ir in stride(from: 0, to: mc, by: mr) {
      let panel = dst + ir * kc
      let rows = Swift.min(mr, mc - ir)
      if g.transA {
        for p in 0..<kc {
          (panel + p * mr).update(from: g.a + (p0 + p) * g.lda + i0 + ir, count: rows)
        }
      } else {
        for i in 0..<rows {
          let src = g.a + (i0 + ir + i) * g.lda + p0
          for p in 0..<kc { panel[p * mr + i] = src[p] }
        }
      }
      if rows < mr {
        for p in 0..<kc { (panel + p * mr + rows).update(repeating: 0, count: mr - rows) }
      }
    }
  }
}

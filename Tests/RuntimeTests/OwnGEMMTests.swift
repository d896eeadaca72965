import Codegen
import Foundation
import GraphIR
import Testing
@testable import Runtime

/// The generated GEMM microkernels (`OwnGEMM`) against a float64 product written here, for
/// every transpose form, edge sizes, alpha/beta, both ISAs, and block boundaries in any place.
@Suite struct OwnGEMMTests {
  static let compiler = try! KernelCompiler(options: CompilerOptions(cacheDirectory: nil))
  static let isas = compiler.supportedGEMMISAs

  /// Small blocks (kc 16, 2 column panels) so that small shapes cross every kind of block
  /// edge: k slices, nc blocks, edge tiles.
  static func gemm(_ isa: GEMMISA, small: Bool) throws -> OwnGEMM {
    let k = try compiler.gemmMicrokernel(isa.defaultShape)
    return small ? OwnGEMM(kernel: k, kc: 16, ncPanels: 2) : OwnGEMM(kernel: k)
  }

  static func run(_ g: OwnGEMM, _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, alpha: Float,
                  _ a: [Float], _ b: [Float], beta: Float, _ c: inout [Float], columns: Range<Int>? = nil) {
    let cols = columns ?? 0..<n
    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
      let bBlock = pb.baseAddress! + (transB ? cols.lowerBound * k : cols.lowerBound)
      g.sgemm(transA: transA, transB: transB, m: m, n: cols.count, k: k, alpha: alpha, a: pa.baseAddress!,
              lda: transA ? m : k, b: bBlock, ldb: transB ? k : n, beta: beta,
              c: pc.baseAddress! + cols.lowerBound, ldc: n)
    } } }
  }

  @Test(arguments: [(1, 1, 1), (7, 13, 5), (65, 33, 130), (13, 70, 40), (30, 150, 3)])
  func matchesTheFloat64Product(shape: (Int, Int, Int)) throws {
    let (m, n, k) = shape
    var rng = SplitMix64(seed: UInt64(m * 131 + n * 7 + k))
    let a = rng.normals(m * k).map { Float($0) }, b = rng.normals(k * n).map { Float($0) }
    let c0 = rng.normals(m * n).map { Float($0) }
    for isa in Self.isas {
      for small in [false, true] {
        let g = try Self.gemm(isa, small: small)
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
          for (alpha, beta) in [(Float(1), Float(0)), (1.5, -0.5), (-0.75, 1)] {
            var c = c0
            Self.run(g, transA, transB, m, n, k, alpha: alpha, a, b, beta: beta, &c)
            let want = BLASTests.reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, b: b,
                                           beta: beta, c: c0)
            // float32 rounding: a few ulps of the sum of |terms| per element
            let worst = zip(c, want).enumerated().map { e, p in
              let (i, j) = (e / n, e % n)
              var mag = abs(Double(beta) * Double(c0[e]))
              for q in 0..<k {
                let x = transA ? a[q * m + i] : a[i * k + q], y = transB ? b[j * k + q] : b[q * n + j]
                mag += abs(Double(alpha) * Double(x) * Double(y))
              }
              return abs(Double(p.0) - p.1) / (mag * 1e-6 * Double(k + 2) + 1e-30)
            }.max()!
            #expect(worst <= 1, "\(isa) small=\(small) T=\(transA),\(transB) \(m)x\(n)x\(k) a=\(alpha) b=\(beta)")
          }
        }
      }
    }
  }

  /// beta == 0 never reads C: NaNs there do not leak into the result.
  @Test func betaZeroIgnoresGarbageInC() throws {
    let (m, n, k) = (9, 37, 20)
    var rng = SplitMix64(seed: 5)
    let a = rng.normals(m * k).map { Float($0) }, b = rng.normals(k * n).map { Float($0) }
    for isa in Self.isas {
      var c = [Float](repeating: .nan, count: m * n)
      Self.run(try Self.gemm(isa, small: true), false, false, m, n, k, alpha: 1, a, b, beta: 0, &c)
      #expect(c.allSatisfy { $0.isFinite }, "\(isa)")
    }
  }

  /// Any split of the columns (thread chunks fall anywhere, tiles become edge tiles) gives the
  /// same bits as one call: the partition, hence the thread count, cannot change results.
  @Test func columnSplitsGiveIdenticalBits() throws {
    let (m, n, k) = (23, 301, 77)
    var rng = SplitMix64(seed: 11)
    let a = rng.normals(m * k).map { Float($0) }, b = rng.normals(k * n).map { Float($0) }
    let c0 = rng.normals(m * n).map { Float($0) }
    for isa in Self.isas {
      for small in [false, true] {
        let g = try Self.gemm(isa, small: small)
        for (transA, transB) in [(false, false), (true, true)] {
          var whole = c0, split = c0
          Self.run(g, transA, transB, m, n, k, alpha: 0.5, a, b, beta: 2, &whole)
          for r in [0..<5, 5..<130, 130..<131, 131..<301] {
            Self.run(g, transA, transB, m, n, k, alpha: 0.5, a, b, beta: 2, &split, columns: r)
          }
          #expect(whole.map(\.bitPattern) == split.map(\.bitPattern), "\(isa) small=\(small)")
        }
      }
    }
  }

  /// A forced AVX2 microkernel really is AVX2 code: it runs and agrees with AVX-512 to
  /// rounding (the sums are the same fma chains, so the bits agree too).
  @Test func avx2AndAVX512GiveTheSameBits() throws {
    guard Self.isas.count == 2 else { return }
    let (m, n, k) = (17, 45, 300)
    var rng = SplitMix64(seed: 3)
    let a = rng.normals(m * k).map { Float($0) }, b = rng.normals(k * n).map { Float($0) }
    var c1 = [Float](repeating: 0, count: m * n), c2 = c1
    Self.run(try Self.gemm(.avx512, small: false), false, false, m, n, k, alpha: 1, a, b, beta: 0, &c1)
    Self.run(try Self.gemm(.avx2, small: false), false, false, m, n, k, alpha: 1, a, b, beta: 0, &c2)
    #expect(c1.map(\.bitPattern) == c2.map(\.bitPattern))
  }

  /// The 64-wide AVX-512 kernel with the 32- and 16-wide ones for the last columns
  /// (`OwnGEMM.tail`, as `GEMMRouter` builds them): which kernel runs a tile changes no bit
  /// (same fma chains), against the plain kernel on widths that leave 1-16 (6x16), 17-31 (6x32,
  /// its edge tile in scratch), 32, 33-48 (6x32 and 6x16) and 49-63 columns past a multiple of
  /// 64, in one call, in small blocks (kc 16, 128-column blocks: the tail in every block's
  /// last columns) and split at odd columns; and against the float64 product.
  @Test func tailKernelGivesTheSameBits() throws {
    guard Self.isas.contains(.avx512) else { return }
    let plain = try Self.gemm(.avx512, small: false)
    let smallPlain = try Self.gemm(.avx512, small: true)  // kc 16: other slices, other bits
    let narrow = try GEMMRouter.narrowKernels(Self.compiler, rows: 6, isa: .avx512)
    let tailed = OwnGEMM(kernel: plain.kernel, tail: narrow)
    let avx2Tailed = Self.isas.count == 2
      ? OwnGEMM(kernel: plain.kernel, tail: try GEMMRouter.narrowKernels(Self.compiler, rows: 6, isa: .avx2)) : tailed
    let smallNarrow = OwnGEMM(kernel: narrow.kernel, kc: 16, tail: OwnGEMM(kernel: narrow.tail!.kernel, kc: 16))
    let smallTailed = OwnGEMM(kernel: plain.kernel, kc: 16, ncPanels: 2, tail: smallNarrow)
    #expect(tailed.tailColumns(1089) == 1 && tailed.tailColumns(121) == 57 && tailed.tailColumns(112) == 48
            && tailed.tailColumns(128) == 0)
    #expect(narrow.nr == 32 && narrow.tail?.nr == 16 && narrow.tailColumns(57) == 0 && narrow.tailColumns(41) == 9
            && narrow.tailColumns(16) == 16 && narrow.tailColumns(25) == 0 && narrow.tailColumns(32) == 0)
    #expect(smallTailed.tail?.tail != nil && plain.tail == nil)
    for (m, n, k) in [(13, 81, 40), (7, 1089, 33), (20, 121, 70), (9, 112, 300), (6, 17, 5), (14, 63, 20),
                      (8, 73, 21), (12, 89, 50), (6, 96, 17), (5, 16, 9), (11, 41, 30)] {
      var rng = SplitMix64(seed: UInt64(m * 7 + n + k))
      let a = rng.normals(m * k).map { Float($0) }, b = rng.normals(k * n).map { Float($0) }
      let c0 = rng.normals(m * n).map { Float($0) }
      for (transA, transB) in [(false, false), (true, true)] {
        var want = c0, wantSmall = c0, one = c0, small = c0, split = c0, avx2 = c0
        Self.run(avx2Tailed, transA, transB, m, n, k, alpha: 0.5, a, b, beta: 2, &avx2)
        Self.run(plain, transA, transB, m, n, k, alpha: 0.5, a, b, beta: 2, &want)
        Self.run(smallPlain, transA, transB, m, n, k, alpha: 0.5, a, b, beta: 2, &wantSmall)
        Self.run(tailed, transA, transB, m, n, k, alpha: 0.5, a, b, beta: 2, &one)
        Self.run(smallTailed, transA, transB, m, n, k, alpha: 0.5, a, b, beta: 2, &small)
        for r in [0..<(n / 3), (n / 3)..<n] {
          Self.run(smallTailed, transA, transB, m, n, k, alpha: 0.5, a, b, beta: 2, &split, columns: r)
        }
        #expect(one.map(\.bitPattern) == want.map(\.bitPattern), "\(m)x\(n)x\(k) T=\(transA)")
        #expect(avx2.map(\.bitPattern) == want.map(\.bitPattern), "\(m)x\(n)x\(k) T=\(transA) AVX2 tail")
        let smallBits = wantSmall.map(\.bitPattern)
        #expect(small.map(\.bitPattern) == smallBits && split.map(\.bitPattern) == smallBits,
                "\(m)x\(n)x\(k) T=\(transA)")
        let exact = BLASTests.reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a, b: b,
                                        beta: 2, c: c0)
        #expect(zip(one, exact).allSatisfy { abs(Double($0) - $1) <= 1e-4 * (1 + abs($1)) })
      }
    }
  }

  /// The FMA peak kernel runs and reports a plausible rate (at least one vector FMA per 4 ns).
  @Test func fmaPeakKernelRuns() throws {
    for isa in Self.isas {
      let g = try FMAPeak.perCore(isa, compiler: Self.compiler, seconds: 0.005, repeats: 1)
      #expect(g > Double(isa.vectorFloats * 2) / 4, "\(isa): \(g) GFLOP/s")
    }
  }

  /// `ILOC_GEMM` and `ILOC_ISA` pick the route; bad values fall back with a warning.
  @Test func environmentPicksTheRoute() throws {
    let forced = GEMMRouter.make(compiler: Self.compiler, environment: ["ILOC_GEMM": "own", "ILOC_ISA": "avx2"])
    let r = forced.route(GEMMShape(m: 4, n: 4, k: 4))
    #expect(r.label == "own avx2 6x16")
    // The default is the shape rule: own kernels, OpenBLAS for a transposed B, nothing measured.
    let rule = GEMMRouter.make(compiler: Self.compiler, environment: [:])
    #expect(rule.mode == .rule)
    if !Self.isas.isEmpty {
      #expect(rule.route(GEMMShape(m: 512, n: 1024, k: 4608)).label.hasPrefix("own"))
      #expect(rule.route(GEMMShape(transA: true, m: 576, n: 4096, k: 64)).label.hasPrefix("own"))
      let weightGradient = rule.route(GEMMShape(transB: true, m: 64, n: 576, k: 4096)).label
      #expect(BLAS.hasVectorKernels ? weightGradient == "openblas" : weightGradient.hasPrefix("own"))
    }
    // where OpenBLAS runs SSE kernels (a CPU it does not know), the rule keeps transposed B too
    if !Self.isas.isEmpty {
      let sse = GEMMRouter(mode: .rule, own: rule.own, file: nil, blasHasVectorKernels: false)
      #expect(sse.route(GEMMShape(transB: true, m: 64, n: 576, k: 4096)).label.hasPrefix("own"))
    }
    #expect(BLAS.vectorCores.contains("haswell") && !BLAS.vectorCores.contains("prescott"))
    let blas = GEMMRouter.make(compiler: Self.compiler, environment: ["ILOC_GEMM": "openblas"])
    #expect(blas.route(GEMMShape(m: 4, n: 4, k: 4)).label == "openblas")
    // On AVX-512, products narrower than the 64-wide tile go to the 32-wide kernel (and its
    // 16-wide tail), or to AVX2's 16-wide one (`ILOC_TAIL`, else measured)
    if Self.isas.count == 2 {
      for (tails, label) in [("avx512", "own avx512 6x32"), ("avx2", "own avx2 6x16")] {
        let r = GEMMRouter.make(compiler: Self.compiler, environment: ["ILOC_GEMM": "own", "ILOC_TAIL": tails])
        #expect(r.route(GEMMShape(m: 64, n: 16, k: 8)).label == label && r.fourRow?.tail?.kernel.shape.isa.rawValue == tails)
      }
      let own = GEMMRouter.make(compiler: Self.compiler, environment: ["ILOC_GEMM": "own"])
      #expect(["own avx512 6x32", "own avx2 6x16"].contains(own.route(GEMMShape(m: 64, n: 16, k: 8)).label))
      #expect(own.route(GEMMShape(m: 512, n: 64, k: 8)).label == "own avx512 6x64")
      // rows that 6 divides badly (64, 128) go to 4-row tiles; 256 and 512 (under 1 %) do not
      #expect(own.route(GEMMShape(m: 64, n: 64, k: 8)).label == "own avx512 4x64")
      #expect(own.route(GEMMShape(m: 128, n: 1024, k: 128)).label == "own avx512 4x64")
      #expect(own.route(GEMMShape(m: 256, n: 1024, k: 128)).label == "own avx512 6x64")
    }
    #expect(GEMMRouter.fourRows(128, main: 6, four: 4) && GEMMRouter.fourRows(3, main: 6, four: 4))
    #expect(!GEMMRouter.fourRows(512, main: 6, four: 4) && !GEMMRouter.fourRows(96, main: 6, four: 4))
    #expect(GEMMRouter.fourRows(50, main: 6, four: 4) && !GEMMRouter.fourRows(54, main: 6, four: 4))
  }

  /// The 4-row kernel with its 4-row tails (`GEMMRouter.fourRowKernel`) gives the bits of the
  /// 6x64 kernel: every element is the same fma chain whatever tile computes it.
  @Test func fourRowKernelGivesTheSameBits() throws {
    guard Self.isas.contains(.avx512) else { return }
    let six = try Self.gemm(.avx512, small: false), four = try GEMMRouter.fourRowKernel(Self.compiler)
    #expect(four.mr == 4 && four.tail?.mr == 4 && four.tail?.nr == 32 && four.tail?.tail?.nr == 16)
    let fourAVX2 = Self.isas.count == 2 ? try GEMMRouter.fourRowKernel(Self.compiler, tails: .avx2) : four
    for (m, n, k) in [(128, 130, 70), (13, 81, 300), (6, 64, 5), (64, 121, 40), (3, 17, 9), (64, 105, 20)] {
      var rng = SplitMix64(seed: UInt64(m * 31 + n + k))
      let a = rng.normals(m * k).map { Float($0) }, b = rng.normals(k * n).map { Float($0) }
      let c0 = rng.normals(m * n).map { Float($0) }
      for (transA, transB) in [(false, false), (true, true)] {
        var want = c0, got = c0, gotAVX2 = c0
        Self.run(six, transA, transB, m, n, k, alpha: 0.5, a, b, beta: 2, &want)
        Self.run(four, transA, transB, m, n, k, alpha: 0.5, a, b, beta: 2, &got)
        Self.run(fourAVX2, transA, transB, m, n, k, alpha: 0.5, a, b, beta: 2, &gotAVX2)
        #expect(got.map(\.bitPattern) == want.map(\.bitPattern), "\(m)x\(n)x\(k) T=\(transA)")
        #expect(gotAVX2.map(\.bitPattern) == want.map(\.bitPattern), "\(m)x\(n)x\(k) T=\(transA)")
      }
    }
  }
}

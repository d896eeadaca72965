import Codegen
import Foundation

/// Side-by-side timing of GEMM backends on given shapes (`iloc bench gemm`): OpenBLAS and the
/// own kernels of every ISA the CPU has, each shape run alternately by all of them in one
/// process, reported as GFLOP/s and as a fraction of the measured FMA peak of all threads.
/// Times are the process's CPU time (all threads), which a loaded machine does not inflate, so
/// GFLOP/s are per core-second and compare with the per-core FMA peak.
public enum GEMMBenchmark {
  public struct Row: Sendable {
    public var shape: GEMMShape
    /// Backend label ("openblas", "own avx512 6x64", ...) and its best GFLOP/s.
    public var results: [(label: String, gflops: Double)]
  }

  /// Median-free best-of-`repeats` timing of each backend on each shape (after one warm-up).
  public static func run(_ shapes: [GEMMShape], compiler: KernelCompiler, repeats: Int = 5) throws -> [Row] {
    var routes = [GEMMRoute.openBLAS] + (try compiler.supportedGEMMISAs.map {
      GEMMRoute(own: OwnGEMM(kernel: try compiler.gemmMicrokernel($0.defaultShape)))
    })
    var labels = routes.map(\.label)
    // the main kernel with narrower ones for the last columns, as programs run it (`OwnGEMM.tail`):
    // AVX2's 6x16 (the tail before 2026-11-28) and AVX-512's 6x32 and 6x16 (the router's)
    if let main = routes.first(where: { $0.own?.kernel.shape.isa == .avx512 })?.own {
      for tail in try tailChoices(rows: main.mr, compiler: compiler) {
        routes.append(GEMMRoute(own: OwnGEMM(kernel: main.kernel, tail: tail)))
        labels.append(main.label + " + " + chain(tail).map { "\($0.kernel.shape)" }.joined(separator: " + ") + " tail")
      }
    }
    return shapes.map { s in
      let a = filled(s.m * s.k), b = filled(s.k * s.n), c = UnsafeMutablePointer<Float>.allocate(capacity: s.m * s.n)
      defer { a.deallocate(); b.deallocate(); c.deallocate() }
      let clock = processCPUSeconds
      func time(_ r: GEMMRoute) -> Double {
        let t0 = clock()
        r.sgemm(transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, a: a, lda: s.transA ? s.m : s.k,
                b: b, ldb: s.transB ? s.k : s.n, c: c, ldc: s.n)
        return clock() - t0
      }
      var best = routes.map(time)
      for _ in 0..<repeats { for (i, r) in routes.enumerated() { best[i] = Swift.min(best[i], time(r)) } }
      let flops = 2 * Double(s.m) * Double(s.n) * Double(s.k)
      return Row(shape: s, results: zip(labels, best).map { ($0, flops / $1 / 1e9) })
    }
  }

  /// The narrow kernels an AVX-512 main kernel of `rows` rows can have for its last columns,
  /// one per ISA the CPU has (`GEMMRouter.narrowKernels`; programs get the one `narrowISA` picks).
  public static func tailChoices(rows: Int, compiler: KernelCompiler) throws -> [OwnGEMM] {
    try [GEMMISA.avx2, .avx512].filter(compiler.supportedGEMMISAs.contains).map {
      try GEMMRouter.narrowKernels(compiler, rows: rows, isa: $0)
    }
  }

  /// A kernel and its tails, widest first.
  public static func chain(_ g: OwnGEMM) -> [OwnGEMM] { Array(sequence(first: g, next: \.tail)) }

  /// Parses "64x4096x576" or "TN:64x4096x576" (transposes of A and B) lists, comma separated.
  public static func parseShapes(_ text: String) -> [GEMMShape]? {
    var out: [GEMMShape] = []
    for item in text.split(separator: ",") {
      let parts = item.split(separator: ":")
      let t = parts.count == 2 ? Array(parts[0]) : ["N", "N"]
      let dims = parts.last!.split(separator: "x").compactMap { Int($0) }
      guard parts.count <= 2, t.count == 2, t.allSatisfy({ $0 == "N" || $0 == "T" }), dims.count == 3,
            dims.allSatisfy({ $0 > 0 }) else { return nil }
      out.append(GEMMShape(transA: t[0] == "T", transB: t[1] == "T", m: dims[0], n: dims[1], k: dims[2]))
    }
    return out.isEmpty ? nil : out
  }

  private static func filled(_ count: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(count, 1))
    for i in 0..<count { p[i] = Float((i * 7919) % 1000) / 1000 - 0.5 }
    return p
  }
}

extension GEMMBenchmark {
  /// GFLOP/s of the bare microkernel on one thread, with its packed panels in L1/L2 (the same
  /// A and B panels and C tile over and over): the ceiling the blocked driver can reach. Timed
  /// in thread CPU time, like `FMAPeak.perCore`.
  public static func microkernelRate(_ kernel: GEMMMicrokernel, kc: Int = 256, calls: Int = 20000) -> Double {
    let (mr, nr) = (kernel.shape.rows, kernel.shape.columns)
    let a = filled(mr * kc), c = filled(mr * nr)
    let b = UnsafeMutableRawPointer.allocate(byteCount: kc * nr * 4, alignment: 64)
      .bindMemory(to: Float.self, capacity: kc * nr)
    for i in 0..<kc * nr { b[i] = Float(i % 17) / 17 - 0.5 }
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    var best = 0.0
    for _ in 0..<3 {
      let t0 = threadCPUSeconds()
      for _ in 0..<calls { kernel.entry(Int64(kc), a, 1, Int64(mr), b, c, Int64(nr), 1, 0) }
      let dt = threadCPUSeconds() - t0
      best = Swift.max(best, 2 * Double(mr * nr * kc * calls) / dt / 1e9)
    }
    return best
  }
}

import Codegen
import Crypto
import Foundation

/// The per-shape measurement behind `GEMMMode.auto`.
enum GEMMChoice {
  /// Own kernels are kept unless OpenBLAS is faster by more than this factor: near-ties go to
  /// the kernels iloc generates for this CPU, and a small timing wobble does not flip choices.
  static let margin = 1.05

  /// Whether the own kernels should run `shape`: both backends run it on synthetic operands of
  /// the real size (threaded as in a program run), alternately, after one warm-up each; the
  /// best CPU time (all threads) of each decides. Big shapes get fewer repeats (the whole measurement stays
  /// around a second at most).
  static func measure(_ shape: GEMMShape, own: OwnGEMM) -> Bool {
    let (m, n, k) = (shape.m, shape.n, shape.k)
    let a = operand(m * k, seed: 1), b = operand(k * n, seed: 2)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
    defer { a.deallocate(); b.deallocate(); c.deallocate() }
    let (lda, ldb) = (shape.transA ? m : k, shape.transB ? k : n)
    let routes = [GEMMRoute(own: own), GEMMRoute.openBLAS]
    func run(_ r: GEMMRoute) -> Double {  // process CPU time: robust when other jobs share the cores
      let t0 = processCPUSeconds()
      r.sgemm(transA: shape.transA, transB: shape.transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: n)
      return processCPUSeconds() - t0
    }
    var best = routes.map(run)  // warm-up (packing buffers, caches, pages)
    let flops = 2.0 * Double(m) * Double(n) * Double(k)
    let repeats = flops > 4e9 ? 1 : (flops > 5e8 ? 2 : 4)
    best = [.infinity, .infinity]
    for _ in 0..<repeats { for (i, r) in routes.enumerated() { best[i] = Swift.min(best[i], run(r)) } }
    return best[0] <= best[1] * margin
  }

  /// `count` floats in [-1, 1) from a fixed generator (the values do not matter for timing;
  /// they only have to be finite and non-trivial).
  private static func operand(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(count, 1))
    var s = seed &* 0x9E37_79B9_7F4A_7C15
    for i in 0..<count {
      s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      p[i] = Float(Int32(truncatingIfNeeded: s >> 32)) / 2_147_483_648
    }
    return p
  }
}

/// The remembered choices of one CPU and one own-kernel configuration, as a text file in the
/// kernel cache directory: `gemm-choices-<16 hex>.txt`, where the hex names iloc's version, the
/// LLVM version, the CPU, its features and the microkernel. One line per shape,
/// `NT 64x4096x576 own` (or `openblas`), appended as shapes are measured; the last line of a
/// shape wins, unreadable lines are ignored. A lost line only means measuring again.
struct GEMMChoiceFile: Sendable {
  let url: URL

  init(directory: URL, compiler: KernelCompiler, own: OwnGEMM, narrow: OwnGEMM?, fourRow: OwnGEMM? = nil) {
    var h = SHA256()
    for part in ["gemm-choices-v2", ILOCVersion.string, compiler.llvmVersion, compiler.cpu, compiler.features,
                 own.kernel.symbol, "\(own.kc) \(own.nc)", narrow?.kernel.symbol ?? "-", narrow?.tail?.kernel.symbol ?? "-",
                 fourRow?.kernel.symbol ?? "-"] {
      h.update(data: Data(part.utf8 + [0]))
    }
    let hex = h.finalize().prefix(8).map { String(format: "%02x", $0) }.joined()
    url = directory.appendingPathComponent("gemm-choices-\(hex).txt")
  }

  func load() -> [GEMMShape: Bool] {
    guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [:] }
    var out: [GEMMShape: Bool] = [:]
    for line in text.split(separator: "\n") {
      if let (shape, useOwn) = Self.parse(line) { out[shape] = useOwn }
    }
    return out
  }

  /// Appends one line (a single `write` with O_APPEND, so concurrent writers do not tear
  /// lines); failures are ignored: the file is only a memory of measurements.
  /// `NT 64x4096x576 own` (or `openblas`), the line of one choice.
  static func line(_ shape: GEMMShape, useOwn: Bool) -> String { "\(shape) \(useOwn ? "own" : "openblas")" }

  static func parse(_ line: some StringProtocol) -> (GEMMShape, Bool)? {
    guard let space = line.lastIndex(of: " "), let shape = GEMMShape(line[..<space]) else { return nil }
    switch line[line.index(after: space)...] {
    case "own": return (shape, true)
    case "openblas": return (shape, false)
    default: return nil
    }
  }

  func append(_ shape: GEMMShape, useOwn: Bool) {
    let line = Self.line(shape, useOwn: useOwn) + "\n"
    let fd = open(url.path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    guard fd >= 0 else { return }
    defer { close(fd) }
    _ = line.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
  }
}

import Codegen
import Foundation
import Runtime

/// `iloc bench fma-peak` and `iloc bench gemm`: the host's FMA peak and GEMM backends side by
/// side (printing only; the measuring is in `Runtime.FMAPeak` and `Runtime.GEMMBenchmark`).
enum GEMMBench {
  /// Shapes of StyleGAN2 (channel multiplier 2) GEMMs at 64 and 256: Winograd products
  /// (o x tiles x c) and im2col products (o x pixels x 9c), forward and backward.
  static let styleGAN2Shapes = "64x1024x64,64x4096x64,64x16384x64,128x256x128,256x64x256,64x4096x576,"
    + "64x16384x576,128x1024x1152,TN:576x4096x64,NT:64x576x4096,256x256x256,512x64x512"

  static func cpuLine(_ compiler: KernelCompiler) -> String {
    let model = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?.split(separator: "\n")
      .first { $0.hasPrefix("model name") }.map { String($0.split(separator: ":").last!).trimmingCharacters(in: .whitespaces) }
    return "host: \(model ?? "unknown CPU") (LLVM cpu \(compiler.cpu)), ISAs \(compiler.supportedGEMMISAs.map(\.rawValue)), "
      + "\(Parallel.threads) threads; OpenBLAS core \(BLAS.coreName)"
      + (BLAS.hasVectorKernels ? "" : " (not a vector kernel set: the own kernels take every product)")
  }

  static func fmaPeak() throws {
    let compiler = Program.sharedCompiler
    print(cpuLine(compiler))
    for isa in compiler.supportedGEMMISAs {
      let one = try FMAPeak.perCore(isa, compiler: compiler)
      let all = try FMAPeak.allCores(isa, compiler: compiler, threads: Parallel.threads)
      let micro = GEMMBenchmark.microkernelRate(try compiler.gemmMicrokernel(isa.defaultShape))
      print(String(format: "fma-peak %@: %.1f GFLOP/s per core, %.1f GFLOP/s on %d threads; microkernel %@ in cache: "
                   + "%.1f GFLOP/s on one core (%.0f%%)", isa.rawValue, one, all, Parallel.threads,
                   "\(isa.defaultShape)", micro, 100 * micro / one))
    }
    guard let main = compiler.supportedGEMMISAs.first?.defaultShape else { return }
    let narrow = GEMMRouter.forProvider(compiler).narrow.map(GEMMBenchmark.chain)
    print("programs run products narrower than \(main.columns) columns, and the last columns of wider ones, on "
          + (narrow.map { "own " + $0.map { "\($0.kernel.shape)" }.joined(separator: " + ") } ?? "the main kernel"))
    guard main.isa == .avx512 else { return }  // narrower kernels are AVX-512 hosts' only
    let tails = try GEMMBenchmark.tailChoices(rows: main.rows, compiler: compiler).flatMap(GEMMBenchmark.chain)
    for shape in Set(tails.map(\.kernel.shape)).sorted(by: { $0.description < $1.description }) {
      let micro = GEMMBenchmark.microkernelRate(try compiler.gemmMicrokernel(shape))
      print(String(format: "microkernel %@ in cache (a tail for %@): %.1f GFLOP/s on one core", "\(shape)", "\(main)",
                   micro))
    }
  }

  static func gemm(shapes text: String?, runs: Int) throws {
    guard let shapes = GEMMBenchmark.parseShapes(text ?? styleGAN2Shapes) else {
      throw BenchError("--shapes: expected e.g. 64x4096x576,TN:576x4096x64")
    }
    let compiler = Program.sharedCompiler
    print(cpuLine(compiler))
    var peaks: [String: Double] = [:]
    for isa in compiler.supportedGEMMISAs { peaks[isa.rawValue] = try FMAPeak.perCore(isa, compiler: compiler) }
    print("GFLOP/s per core-second (process CPU time, \(Parallel.threads) threads); FMA peak per core: " + peaks.sorted { $0.key > $1.key }
      .map { String(format: "%@ %.1f GFLOP/s", $0.key, $0.value) }.joined(separator: ", "))
    let rows = try GEMMBenchmark.run(shapes, compiler: compiler, repeats: runs)
    let labels = rows.first?.results.map(\.label) ?? []
    let width = Swift.max(34, (labels.map(\.count).max() ?? 0) + 19)
    print("shape".padded(22) + labels.map { ($0 + " GFLOP/s (% peak)").leftPadded(width) }.joined())
    for r in rows {
      let cells = r.results.map { res -> String in
        let isa = res.label.split(separator: " ").dropFirst().first.map(String.init) ?? "avx512"
        let peak = peaks[isa] ?? peaks.values.max() ?? .nan
        return String(format: "%.1f (%.0f%%)", res.gflops, 100 * res.gflops / peak).leftPadded(width)
      }
      print(r.shape.description.padded(22) + cells.joined())
    }
  }
}

/// A bench usage error (one line).
struct BenchError: Error, CustomStringConvertible {
  var description: String
  init(_ d: String) { description = d }
}

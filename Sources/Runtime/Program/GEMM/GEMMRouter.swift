import Codegen
import Foundation

/// The shape of one GEMM call, the key of the per-shape backend choice.
public struct GEMMShape: Hashable, Sendable, CustomStringConvertible {
  public var transA: Bool, transB: Bool
  public var m: Int, n: Int, k: Int
  public init(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int) {
    self.transA = transA; self.transB = transB; self.m = m; self.n = n; self.k = k
  }
  /// "NT 64x4096x576": transposes of A and B, then m x n x k.
  public var description: String { (transA ? "T" : "N") + (transB ? "T" : "N") + " \(m)x\(n)x\(k)" }

  /// Parses `description`'s form; nil for anything else.
  public init?(_ text: some StringProtocol) {
    let f = text.split(separator: " ")
    guard f.count == 2, f[0] == "NN" || f[0] == "NT" || f[0] == "TN" || f[0] == "TT" else { return nil }
    let dims = f[1].split(separator: "x").compactMap { Int($0) }
    guard dims.count == 3, dims.allSatisfy({ $0 > 0 }) else { return nil }
    self.init(transA: f[0].first == "T", transB: f[0].last == "T", m: dims[0], n: dims[1], k: dims[2])
  }
}

/// Which backend runs GEMMs (`ILOC_GEMM`): a rule on the shape, measured per shape, or forced.
public enum GEMMMode: String, Sendable {
  /// The default: the own kernels, except products whose B operand is read transposed (the
  /// weight-gradient form, where OpenBLAS measured faster: `docs/gemm.md`) when OpenBLAS runs
  /// vector kernels on this CPU (`BLAS.hasVectorKernels`; one it does not know gets SSE
  /// kernels, and then the own kernels take those too). A rule on the shape and on OpenBLAS's
  /// choice, so every host with the same ISA and OpenBLAS core routes (and rounds) alike, and
  /// building a program measures nothing.
  case rule
  /// Time both on the real shape once when a program is built; keep the faster one.
  case auto
  /// Always the generated kernels (where the CPU has AVX2+FMA or AVX-512 and LLVM is in use).
  case own
  /// Always OpenBLAS.
  case openblas
}

/// How one GEMM shape runs: OpenBLAS, or the own kernels. Results of one route are the same
/// bits with any thread count.
public struct GEMMRoute: Sendable {
  public let own: OwnGEMM?
  public static let openBLAS = GEMMRoute(own: nil)

  /// "own avx512 6x64" or "openblas": shown in profiles and `ILOC_DEBUG=2` lines.
  public var label: String { own?.label ?? "openblas" }

  public func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
                    c: UnsafeMutablePointer<Float>, ldc: Int) {
    if let own {
      own.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc)
    } else {
      BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                 beta: beta, c: c, ldc: ldc)
    }
  }
}

/// Picks the route of each GEMM shape a program needs, when the program is built.
///
/// `rule` (the default) decides from the shape alone; `ILOC_GEMM=own|openblas` forces a
/// backend; `auto` times both on the shape (`GEMMChoice.measure`) the first time it is seen, and
/// remembers the winner for this process and, when there is a kernel cache directory, in a file
/// next to the kernel objects (`GEMMChoiceFile`), so later processes on the same CPU make the
/// same choice without measuring (a near-tie may route differently on another host).
/// `ILOC_ISA=avx2|avx512` picks the vector ISA of the own kernels (default: the
/// widest the CPU has). Own kernels need LLVM: programs whose kernels come from an
/// ahead-of-time library use OpenBLAS.
public final class GEMMRouter: @unchecked Sendable {
  public let mode: GEMMMode
  public let own: OwnGEMM?
  /// A narrower kernel for products with fewer columns than `own` has, and `own`'s tail (on an
  /// AVX-512 host AVX2's 6x16 or AVX-512's 6x32 with a 6x16 tail of its own: `narrowISA`; a
  /// 64-wide tile would compute mostly padding). Same fma chains, same bits.
  public let narrow: OwnGEMM?
  /// The main kernel with 4 rows instead of 6 (AVX-512's 4x64 with 4-row tails), for products
  /// whose rows 6 divides badly (`fourRows`). Same fma chains, same bits.
  public let fourRow: OwnGEMM?
  private let file: GEMMChoiceFile?
  /// Whether new shapes are measured (false: they go to OpenBLAS; an ahead-of-time run).
  private let measures: Bool
  /// Whether the rule may send products to OpenBLAS (`BLAS.hasVectorKernels` unless told).
  let blasHasVectorKernels: Bool
  private let lock = NSLock()
  private var choices: [GEMMShape: Bool] = [:]
  private var used: [GEMMShape: Bool] = [:]

  init(mode: GEMMMode, own: OwnGEMM?, narrow: OwnGEMM? = nil, fourRow: OwnGEMM? = nil, file: GEMMChoiceFile?,
       choices known: [GEMMShape: Bool] = [:],
       measures: Bool = true, blasHasVectorKernels: Bool = BLAS.hasVectorKernels) {
    self.mode = mode
    self.blasHasVectorKernels = blasHasVectorKernels
    self.own = own
    self.narrow = narrow
    self.fourRow = fourRow
    self.file = file
    self.measures = measures
    choices = (file?.load() ?? [:]).merging(known) { _, k in k }
  }

  /// A router with choices made elsewhere (an ahead-of-time artifact's): shapes not listed run
  /// on OpenBLAS, nothing is measured.
  public static func fixed(own: OwnGEMM, narrow: OwnGEMM?, choices: [GEMMShape: Bool]) -> GEMMRouter {
    GEMMRouter(mode: .auto, own: own, narrow: narrow, file: nil, choices: choices, measures: false)
  }

  /// The own kernel for `shape`: the narrow one when the product has fewer columns than the
  /// main kernel's tile is wide, the four-row one when it pads the rows less (a rule on the
  /// shape alone).
  func ownKernel(for shape: GEMMShape, main: OwnGEMM) -> OwnGEMM {
    if let narrow, shape.n < main.nr { return narrow }
    if let fourRow, Self.fourRows(shape.m, main: main.mr, four: fourRow.mr) { return fourRow }
    return main
  }

  /// Whether `m` rows go to tiles of `four` rows rather than `main`: when the main tiles would
  /// pad them by more than 2 % and the others by less. 128 rows make 22 panels of 6 with 4 rows
  /// of padding (the last panel packed and run into a scratch tile), 32 of 4 with none: the
  /// 64- and 128-channel products of `ilo-step-256` (LPIPS-VGG at 256, the generator's last
  /// layers) took 242.7 -> 228.4 ms a step inside their GEMM calls (one thread in cache,
  /// `NN 128x128x128`: 87 -> 92 % of the FMA peak); 256 and 512 rows stay on 6 (under 1 %).
  static func fourRows(_ m: Int, main: Int, four: Int) -> Bool {
    let (padMain, padFour) = ((m + main - 1) / main * main - m, (m + four - 1) / four * four - m)
    return padMain * 50 > m && padFour < padMain
  }

  /// Every shape routed so far in this process and whether it went to the own kernels (what an
  /// ahead-of-time artifact records).
  public var routed: [GEMMShape: Bool] { lock.lock(); defer { lock.unlock() }; return used }

  /// The route of `shape` (measuring it first in `auto` mode when it is new).
  public func route(_ shape: GEMMShape) -> GEMMRoute {
    guard let main = own, shape.m > 0, shape.n > 0, shape.k > 0 else { return .openBLAS }
    let own = ownKernel(for: shape, main: main)
    lock.lock()
    defer { lock.unlock() }
    let useOwn = decide(shape, own)
    used[shape] = useOwn
    return useOwn ? GEMMRoute(own: own) : .openBLAS
  }

  /// Lock held.
  private func decide(_ shape: GEMMShape, _ own: OwnGEMM) -> Bool {
    switch mode {
    case .openblas: return false
    case .own: return true
    case .rule: return !shape.transB || !blasHasVectorKernels
    case .auto:
      if let useOwn = choices[shape] { return useOwn }
      guard measures else { return false }
      let useOwn = GEMMChoice.measure(shape, own: own)
      choices[shape] = useOwn
      file?.append(shape, useOwn: useOwn)
      return useOwn
    }
  }

  /// The router for programs whose kernels come from `provider`: one per `KernelCompiler`
  /// (and so per kernel cache), OpenBLAS only for other providers.
  public static func forProvider(_ provider: KernelProvider?) -> GEMMRouter {
    guard let provider else { return noLLVM }
    if let recording = provider as? RecordingKernelProvider { return forProvider(recording.base) }
    registryLock.lock()
    defer { registryLock.unlock() }
    let id = ObjectIdentifier(provider)
    if let r = registry[id] { return r }
    guard let compiler = provider as? KernelCompiler else { return noLLVM }
    let r = make(compiler: compiler, environment: ProcessInfo.processInfo.environment)
    registry[id] = r
    return r
  }

  /// Makes `router` the one of programs whose kernels come from `provider` (an ahead-of-time
  /// library with its recorded choices).
  public static func register(_ router: GEMMRouter, for provider: KernelProvider) {
    registryLock.lock()
    registry[ObjectIdentifier(provider)] = router
    registryLock.unlock()
  }

  private static let noLLVM = GEMMRouter(mode: .openblas, own: nil, file: nil)
  private static let registryLock = NSLock()
  nonisolated(unsafe) private static var registry: [ObjectIdentifier: GEMMRouter] = [:]

  /// A router for `compiler` configured by `ILOC_GEMM` and `ILOC_ISA` in `environment`.
  /// An unknown value or an ISA the CPU lacks gives one warning and the default.
  public static func make(compiler: KernelCompiler, environment: [String: String]) -> GEMMRouter {
    var mode = GEMMMode.rule
    if let v = environment["ILOC_GEMM"], !v.isEmpty {
      if let m = GEMMMode(rawValue: v) { mode = m } else {
        KernelCompiler.printWarning("ILOC_GEMM=\(v) is not one of rule, auto, own, openblas; using rule")
      }
    }
    let supported = compiler.supportedGEMMISAs
    var isa = supported.first
    if let v = environment["ILOC_ISA"], !v.isEmpty {
      if let i = GEMMISA(rawValue: v), supported.contains(i) { isa = i } else {
        let fallback = isa?.rawValue ?? "OpenBLAS"
        KernelCompiler.printWarning("ILOC_ISA=\(v): this CPU runs \(supported.map(\.rawValue)); using \(fallback)")
      }
    }
    guard mode != .openblas, let isa else { return GEMMRouter(mode: .openblas, own: nil, file: nil) }
    do {
      let tails = isa == .avx512 ? narrowISA(compiler, environment: environment) : nil
      let narrow = try tails.map { try narrowKernels(compiler, rows: isa.defaultShape.rows, isa: $0) }
      let own = OwnGEMM(kernel: try compiler.gemmMicrokernel(isa.defaultShape), tail: narrow)
      let fourRow = try tails.map { try fourRowKernel(compiler, tails: $0) }
      let file = compiler.cacheDirectory.map {
        GEMMChoiceFile(directory: $0, compiler: compiler, own: own, narrow: narrow, fourRow: fourRow)
      }
      return GEMMRouter(mode: mode, own: own, narrow: narrow, fourRow: fourRow, file: file)
    } catch {
      KernelCompiler.printWarning("GEMM microkernel: \(error); using OpenBLAS")
      return GEMMRouter(mode: .openblas, own: nil, file: nil)
    }
  }
}

extension GEMMRouter {
  /// The kernels of an AVX-512 host for products narrower than 64 columns and for the last
  /// columns of wider ones (`OwnGEMM.tail`). `.avx512`: `rows` x 32 with a `rows` x 16 tail.
  /// `.avx2`: AVX2's `rows` x 16.
  static func narrowKernels(_ compiler: KernelCompiler, rows: Int, isa: GEMMISA) throws -> OwnGEMM {
    let shape = { MicrokernelShape(isa: isa, rows: rows, vectors: $0) }
    if isa == .avx2 { return OwnGEMM(kernel: try compiler.gemmMicrokernel(shape(2))) }
    let tail = OwnGEMM(kernel: try compiler.gemmMicrokernel(shape(1)))
    return OwnGEMM(kernel: try compiler.gemmMicrokernel(shape(2)), tail: tail)
  }

  /// The ISA of the narrow kernels on an AVX-512 host (`ILOC_TAIL=avx2|avx512`, else measured
  /// once per process: about 10 ms). A core that issues as many flops a cycle with AVX2 as
  /// with AVX-512 (Zen 4 and 5: 116-118 GFLOP/s a core with either) runs AVX2's 6x16 at the
  /// full rate (12 ymm chains), where AVX-512's 6x16 has only 6 chains for 4 cycles of latency
  /// on 2 ports. Where AVX2 gets half the flops (Intel's cores: Sapphire Rapids 86 against
  /// 171), AVX-512's 6x32 and 6x16 run the tails (in cache 171 and 110 GFLOP/s against 88).
  /// Every kernel computes the same fma chains: the choice changes time, never bits.
  static func narrowISA(_ compiler: KernelCompiler, environment: [String: String]) -> GEMMISA {
    let supported = compiler.supportedGEMMISAs
    guard supported.contains(.avx2) else { return .avx512 }
    if let v = environment["ILOC_TAIL"], !v.isEmpty {
      if let i = GEMMISA(rawValue: v) { return i }
      KernelCompiler.printWarning("ILOC_TAIL=\(v) is not one of avx2, avx512; measuring")
    }
    // the best of three alternating short runs each: a core shared with another machine for
    // a moment slows one run, not all three (one pair of runs alone chose wrong 1 time in 12)
    var (avx2, avx512) = (0.0, 0.0)
    for _ in 0..<3 {
      avx2 = max(avx2, (try? FMAPeak.perCore(.avx2, compiler: compiler, seconds: 0.001, repeats: 1)) ?? 0)
      avx512 = max(avx512, (try? FMAPeak.perCore(.avx512, compiler: compiler, seconds: 0.001, repeats: 1)) ?? 0)
    }
    return avx2 >= 0.75 * avx512 ? .avx2 : .avx512
  }

  /// AVX-512's 4x64 kernel with 4-row tails of `tails` (a tail must have the main kernel's rows).
  static func fourRowKernel(_ compiler: KernelCompiler, tails: GEMMISA = .avx512) throws -> OwnGEMM {
    let tail = try narrowKernels(compiler, rows: 4, isa: tails)
    return OwnGEMM(kernel: try compiler.gemmMicrokernel(MicrokernelShape(isa: .avx512, rows: 4, vectors: 4)), tail: tail)
  }

  /// Choices as text lines (`NT 64x4096x576 own`), sorted: how artifacts record them.
  public static func choiceLines(_ choices: [GEMMShape: Bool]) -> [String] {
    choices.map { GEMMChoiceFile.line($0.key, useOwn: $0.value) }.sorted()
  }

  /// The choices of `choiceLines`; nil if a line is not one.
  public static func parseChoiceLines(_ lines: [String]) -> [GEMMShape: Bool]? {
    var out: [GEMMShape: Bool] = [:]
    for l in lines {
      guard let (shape, useOwn) = GEMMChoiceFile.parse(l) else { return nil }
      out[shape] = useOwn
    }
    return out
  }
}

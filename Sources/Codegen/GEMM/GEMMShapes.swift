import Foundation

/// The x86 vector instruction set a GEMM microkernel is generated for. Each one names the
/// LLVM CPU and features its functions are compiled with, so an AVX2 kernel really is AVX2
/// code (16 ymm registers, no EVEX encodings) even on an AVX-512 host.
public enum GEMMISA: String, Sendable, CaseIterable, Codable {
  case avx512
  case avx2

  /// Floats per vector register.
  public var vectorFloats: Int { self == .avx512 ? 16 : 8 }

  /// The register-blocked shape used for this ISA: rows of A by vectors of B. AVX-512 has 32
  /// zmm registers: 6 x 4 accumulators + 4 B vectors + 1 broadcast = 29. AVX2 has 16 ymm:
  /// 6 x 2 accumulators + 2 B vectors + 1 broadcast = 15.
  public var defaultShape: MicrokernelShape {
    switch self {
    case .avx512: return MicrokernelShape(isa: self, rows: 6, vectors: 4)
    case .avx2: return MicrokernelShape(isa: self, rows: 6, vectors: 2)
    }
  }

  /// Whether a CPU with LLVM feature string `features` ("+avx2,+fma,...") can run this ISA.
  public func isSupported(byFeatures features: String) -> Bool {
    let set = Set(features.split(separator: ",").map(String.init))
    switch self {
    case .avx512: return set.contains("+avx512f") && set.contains("+fma")
    case .avx2: return set.contains("+avx2") && set.contains("+fma")
    }
  }

  /// The best ISA a CPU with `features` supports, or nil (then GEMMs stay with OpenBLAS).
  public static func best(forFeatures features: String) -> GEMMISA? {
    allCases.first { $0.isSupported(byFeatures: features) }
  }

  /// `target-cpu` / `target-features` for this ISA's functions: the host's own for the widest
  /// ISA the host has, a generic AVX2 CPU otherwise (so no AVX-512 instruction can appear).
  func targetAttributes(hostCPU: String, hostFeatures: String) -> [(String, String)] {
    if self == .avx512 {
      return [("target-cpu", hostCPU), ("target-features", hostFeatures), ("prefer-vector-width", "512")]
    }
    return [("target-cpu", "x86-64-v3"), ("target-features", "+avx,+avx2,+fma,+f16c,-avx512f"),
            ("prefer-vector-width", "256")]
  }
}

/// A register block: the microkernel keeps `rows x columns` of C in vector registers, with
/// `columns = vectors * isa.vectorFloats`.
public struct MicrokernelShape: Sendable, Hashable, Codable, CustomStringConvertible {
  public var isa: GEMMISA
  public var rows: Int
  public var vectors: Int
  public init(isa: GEMMISA, rows: Int, vectors: Int) {
    self.isa = isa
    self.rows = rows
    self.vectors = vectors
  }
  public var columns: Int { vectors * isa.vectorFloats }
  /// "avx512 6x64": what profiles show.
  public var description: String { "\(isa.rawValue) \(rows)x\(columns)" }
}

/// The native microkernel ABI: `void f(int64 kc, const float *a, int64 rsa, int64 csa,
/// const float *b, float *c, int64 ldc, float alpha, float beta)`.
/// It computes the full `rows x columns` tile C = alpha * (A * Bp) + beta * C, where A is read
/// in place (element (i, p) at a[i*rsa + p*csa], so row-major and transposed operands need no
/// packing) and Bp is a packed panel of B (kc steps of `columns` floats, 64-byte aligned).
/// C is row-major with row stride `ldc`; with beta == 0
/// it is not read. Each product is summed over k in order by one fused multiply-add chain per
/// element, then `alpha * sum` is rounded and `fma(beta, c, alpha * sum)` stored, so every
/// element's bits depend only on its row of A, its column of B and kc.
public typealias GEMMMicrokernelEntry = @convention(c) (
  Int64, UnsafePointer<Float>?, Int64, Int64, UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int64, Float, Float
) -> Void

/// The FMA-throughput kernel ABI: `float f(int64 iterations, float x, float y)`; see
/// `FMAPeakEmitter`.
public typealias FMAPeakEntry = @convention(c) (Int64, Float, Float) -> Float

/// A compiled GEMM microkernel; keeps its compiler (and so the code) alive.
public final class GEMMMicrokernel: @unchecked Sendable {
  public let shape: MicrokernelShape
  public let symbol: String
  public let entry: GEMMMicrokernelEntry
  private let owner: AnyObject

  init(shape: MicrokernelShape, symbol: String, address: UInt64, owner: AnyObject) {
    self.shape = shape
    self.symbol = symbol
    self.entry = unsafeBitCast(UnsafeRawPointer(bitPattern: UInt(address))!, to: GEMMMicrokernelEntry.self)
    self.owner = owner
  }

  /// A microkernel whose code was loaded from elsewhere (an ahead-of-time shared library):
  /// `address` is its entry point, `owner` keeps that code mapped.
  public convenience init(loaded shape: MicrokernelShape, symbol: String, address: UnsafeRawPointer, owner: AnyObject) {
    self.init(shape: shape, symbol: symbol, address: UInt64(UInt(bitPattern: address)), owner: owner)
  }
}

/// A compiled FMA-throughput kernel: `chains` independent accumulator registers, each
/// updated once per iteration by one vector FMA (2 x vectorFloats flops).
public final class FMAPeakKernel: @unchecked Sendable {
  public let isa: GEMMISA
  public let chains: Int
  public let entry: FMAPeakEntry
  private let owner: AnyObject

  init(isa: GEMMISA, chains: Int, address: UInt64, owner: AnyObject) {
    self.isa = isa
    self.chains = chains
    self.entry = unsafeBitCast(UnsafeRawPointer(bitPattern: UInt(address))!, to: FMAPeakEntry.self)
    self.owner = owner
  }

  /// Flops of one call with `iterations`.
  public func flops(iterations: Int) -> Double { Double(iterations * chains * isa.vectorFloats * 2) }
}

internal import CLLVM
import Foundation

/// GEMM microkernels and the FMA peak kernel, generated for one vector ISA and compiled once
/// per (ISA, shape) by a `KernelCompiler` (JIT, with the same on-disk object cache as the
/// fused kernels).
extension KernelCompiler {
  /// The ISAs this compiler's target CPU can run, widest first.
  public var supportedGEMMISAs: [GEMMISA] { GEMMISA.allCases.filter { $0.isSupported(byFeatures: features) } }

  /// The microkernel of `shape` (compiled on first use, then shared).
  public func gemmMicrokernel(_ shape: MicrokernelShape) throws -> GEMMMicrokernel {
    let (symbol, emit) = try microkernelModule(shape)
    let address = try compileHandBuilt(symbol: symbol, keyParts: ["gemm-microkernel", "\(shape)"], emit: emit)
    return GEMMMicrokernel(shape: shape, symbol: symbol, address: address, owner: self)
  }

  /// The object file of the microkernel of `shape` and its exported symbol (ABI:
  /// `GEMMMicrokernelEntry`), for linking into an ahead-of-time kernel library.
  public func gemmMicrokernelObject(_ shape: MicrokernelShape) throws -> (symbol: String, data: Data) {
    let (symbol, emit) = try microkernelModule(shape)
    return (symbol, try lockedHandBuiltObject(symbol: symbol, keyParts: ["gemm-microkernel", "\(shape)"], emit: emit))
  }

  /// The exported symbol of the microkernel of `shape` (the same in the JIT and in libraries).
  public static func gemmMicrokernelSymbol(_ shape: MicrokernelShape) -> String {
    "iloc_gemm2_\(shape.isa.rawValue)_\(shape.rows)x\(shape.columns)_pf\(MicrokernelEmitter.prefetchDistance)"
  }

  private func microkernelModule(_ shape: MicrokernelShape) throws
    -> (String, (LLVMContextRef, LLVMModuleRef) -> Void)
  {
    try checkSupported(shape.isa)
    guard (1...16).contains(shape.rows), (1...8).contains(shape.vectors) else {
      throw CodegenError.llvm("unsupported microkernel shape \(shape)")
    }
    let symbol = Self.gemmMicrokernelSymbol(shape)
    let attributes = shape.isa.targetAttributes(hostCPU: cpu, hostFeatures: features)
    return (symbol, { context, module in
      MicrokernelEmitter(shape: shape, symbol: symbol).emit(context: context, module: module, attributes: attributes)
    })
  }

  /// The FMA-throughput kernel of `isa` with `chains` independent accumulators (default:
  /// 24 on AVX-512, 12 on AVX2: at least latency x ports on current x86 cores, and few
  /// enough to stay in registers).
  public func fmaPeakKernel(_ isa: GEMMISA, chains: Int? = nil) throws -> FMAPeakKernel {
    try checkSupported(isa)
    let n = chains ?? (isa == .avx512 ? 24 : 12)
    let symbol = "iloc_fma_peak_\(isa.rawValue)_\(n)"
    let attributes = isa.targetAttributes(hostCPU: cpu, hostFeatures: features)
    let address = try compileHandBuilt(symbol: symbol, keyParts: ["fma-peak", isa.rawValue, "\(n)"]) { context, module in
      FMAPeakEmitter(isa: isa, chains: n, symbol: symbol).emit(context: context, module: module, attributes: attributes)
    }
    return FMAPeakKernel(isa: isa, chains: n, address: address, owner: self)
  }

  private func checkSupported(_ isa: GEMMISA) throws {
    guard isa.isSupported(byFeatures: features) else {
      throw CodegenError.llvm("the target CPU \(cpu) has no \(isa.rawValue) (with FMA)")
    }
  }
}

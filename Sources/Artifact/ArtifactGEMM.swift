import Codegen
import Foundation
import Runtime

/// The own GEMM kernels of an artifact: the microkernel (linked into kernels.so) and the
/// per-shape choices the compiling run made, so that `iloc run` routes every GEMM as
/// `iloc invert` did on the compiling machine (and gets the same bits).
public struct GEMMRecord: Codable, Sendable, Equatable {
  public var symbol: String
  public var shape: MicrokernelShape
  /// The K slice depth (it decides the summation order, hence the bits).
  public var kc: Int
  /// `NT 64x4096x576 own` / `... openblas`, one per GEMM shape of the stage programs.
  public var choices: [String]
}

extension GEMMRecord {
  /// The record of a host build: the router's microkernel and the shapes routed while the
  /// programs were built. Nil when no GEMM went to the own kernels.
  static func make(router: GEMMRouter, compiler: KernelCompiler) throws -> (GEMMRecord, objectData: Data)? {
    let routed = router.routed
    guard let own = router.own, routed.values.contains(true) else { return nil }
    let (symbol, data) = try compiler.gemmMicrokernelObject(own.kernel.shape)
    return (GEMMRecord(symbol: symbol, shape: own.kernel.shape, kc: own.kc, choices: GEMMRouter.choiceLines(routed)), data)
  }

  /// Installs the recorded router for programs whose kernels come from `kernels`.
  func install(for kernels: SharedLibraryKernels) throws {
    guard let address = kernels.address(of: symbol) else {
      throw ArtifactError("\(kernels.path.lastPathComponent) has no GEMM microkernel \(symbol)")
    }
    guard let choices = GEMMRouter.parseChoiceLines(self.choices) else {
      throw ArtifactError("manifest: unreadable GEMM choices")
    }
    let kernel = GEMMMicrokernel(loaded: shape, symbol: symbol, address: address, owner: kernels)
    GEMMRouter.register(.fixed(own: OwnGEMM(kernel: kernel, kc: kc), choices: choices), for: kernels)
  }
}

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
  /// The narrow kernel for products with fewer columns than `shape` is wide, if any.
  public var narrowSymbol: String? = nil
  public var narrowShape: MicrokernelShape? = nil
  /// The narrow kernel's own tail (AVX-512's 6x16 under 6x32), if any.
  public var narrowTailSymbol: String? = nil
  public var narrowTailShape: MicrokernelShape? = nil
}

extension GEMMRecord {
  /// The record of a host build: the router's microkernel and the shapes routed while the
  /// programs were built. Nil when no GEMM went to the own kernels.
  static func make(router: GEMMRouter, compiler: KernelCompiler) throws -> (GEMMRecord, objects: [(String, Data)])? {
    let routed = router.routed
    guard let own = router.own, routed.values.contains(true) else { return nil }
    var objects = [try compiler.gemmMicrokernelObject(own.kernel.shape)]
    var record = GEMMRecord(symbol: objects[0].symbol, shape: own.kernel.shape, kc: own.kc,
                            choices: GEMMRouter.choiceLines(routed))
    if let narrow = router.narrow {
      guard narrow.kc == own.kc else { throw ArtifactError("GEMM kernels with different kc") }
      objects.append(try compiler.gemmMicrokernelObject(narrow.kernel.shape))
      (record.narrowSymbol, record.narrowShape) = (objects[1].symbol, narrow.kernel.shape)
      if let tail = narrow.tail {
        objects.append(try compiler.gemmMicrokernelObject(tail.kernel.shape))
        (record.narrowTailSymbol, record.narrowTailShape) = (objects[2].symbol, tail.kernel.shape)
      }
    }
    return (record, objects.map { ($0.symbol, $0.data) })
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
    func loaded(_ symbol: String?, _ shape: MicrokernelShape?, tail: OwnGEMM? = nil) throws -> OwnGEMM? {
      guard let symbol, let shape else { return nil }
      guard let address = kernels.address(of: symbol) else {
        throw ArtifactError("\(kernels.path.lastPathComponent) has no GEMM microkernel \(symbol)")
      }
      let kernel = GEMMMicrokernel(loaded: shape, symbol: symbol, address: address, owner: kernels)
      return OwnGEMM(kernel: kernel, kc: kc, tail: tail)
    }
    let narrow = try loaded(narrowSymbol, narrowShape, tail: try loaded(narrowTailSymbol, narrowTailShape))
    let own = OwnGEMM(kernel: kernel, kc: kc, tail: narrow)
    GEMMRouter.register(.fixed(own: own, narrow: narrow, choices: choices), for: kernels)
  }
}

import Foundation
import ILO
import Models
import Runtime

/// An ahead-of-time artifact made ready to run: verified, its kernels.so installed as the
/// kernel source of every program built from now on (no LLVM is initialized, nothing is
/// JIT-compiled), its generator loaded from the stored weights. `iloc run` and
/// `iloc batch --artifact` both start here.
public struct Artifact {
  public let directory: URL
  public let manifest: ArtifactManifest
  public let generator: InvertibleGenerator
  public let kernels: SharedLibraryKernels

  /// Verifies `dir` (`ArtifactManifest.verify`: the signature first with a trusted key, then
  /// format, files, CPU), loads the kernels and the generator. With `installKernels` (what a
  /// command wants) every program built from now on in this process takes its kernels from
  /// the artifact.
  public static func load(_ dir: URL, trustedKey: Signing.TrustedKey? = nil, installKernels: Bool = true) throws
    -> Artifact
  {
    let manifest = try ArtifactManifest.verify(dir, trustedKey: trustedKey)
    let kernels = try SharedLibraryKernels(path: dir.appendingPathComponent(ArtifactManifest.kernelLibrary))
    try manifest.gemm?.install(for: kernels)
    if installKernels { Program.defaultProvider = kernels }
    let generator = try loadGenerator(manifest, dir: dir)
    return Artifact(directory: dir, manifest: manifest, generator: generator, kernels: kernels)
  }

  /// The generator from the artifact's weights (StyleGAN2 with its stored latent proxy).
  static func loadGenerator(_ m: ArtifactManifest, dir: URL) throws -> InvertibleGenerator {
    let url = dir.appendingPathComponent(ArtifactManifest.weightsFile)
    switch m.architecture {
    case "stylegan2":
      let c = try StyleGAN2Checkpoint(contentsOf: url, lrMul: m.lrMul ?? 0.01, convClamp: m.convClamp,
                                      classIndex: m.classIndex)
      guard let proxy = c.latentProxy else {
        throw ArtifactError("artifact \(dir.lastPathComponent): the weights have no latent proxy")
      }
      return StyleGAN2Generator(checkpoint: c, proxy: proxy)
    case "dcgan":
      return DCGANGenerator(checkpoint: try DCGANCheckpoint(contentsOf: url))
    default:
      throw ArtifactError("artifact \(dir.lastPathComponent): unknown architecture '\(m.architecture)'")
    }
  }
}

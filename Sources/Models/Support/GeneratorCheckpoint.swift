import Foundation
import GraphIR
import RealModule
import Runtime

/// A generator checkpoint of either supported architecture, recognised by content.
public enum GeneratorCheckpoint {
  case styleGAN2(StyleGAN2Checkpoint)
  case dcgan(DCGANCheckpoint)

  /// Model names usable instead of a file, with their path inside `models/cache`.
  public static let shippedModels: [String: String] = ["dcgan": "gan_face_generate/weights.tar"]

  /// Loads a StyleGAN2 or DCGAN generator from `url`. A file of neither kind gives
  /// `<file>: not a generator iloc knows (no 'style.1.weight' (StyleGAN2) or 'main.0.weight' (DCGAN))`.
  public static func load(_ url: URL) throws -> GeneratorCheckpoint {
    do { return .styleGAN2(try StyleGAN2Checkpoint(contentsOf: url)) } catch let e as ModelError where e.isWrongArchitecture {}
    do { return .dcgan(try DCGANCheckpoint(contentsOf: url)) } catch let e as ModelError where e.isWrongArchitecture {}
    throw ModelError("\(url.lastPathComponent): not a generator iloc knows (no 'style.1.weight' (StyleGAN2) or 'main.0.weight' (DCGAN), also under 'g_ema' / 'netG_state_dict')",
                     wrongArchitecture: true)
  }

  /// Resolves `--model`: a file path, or a shipped model name looked up in `searchRoots`
  /// (each a directory holding `models/cache`).
  public static func resolve(_ nameOrPath: String, searchRoots: [URL]) throws -> URL {
    let fm = FileManager.default
    if let rel = shippedModels[nameOrPath.lowercased()] {
      for root in searchRoots {
        let u = root.appendingPathComponent("models/cache").appendingPathComponent(rel)
        if fm.fileExists(atPath: u.path) { return u }
      }
      throw ModelError("model '\(nameOrPath)': models/cache/\(rel) not found (run `bash models/fetch.sh`, or pass a checkpoint file)")
    }
    let u = URL(fileURLWithPath: nameOrPath)
    guard fm.fileExists(atPath: u.path) else {
      throw ModelError("model '\(nameOrPath)': no such file, and not a shipped model name (\(shippedModels.keys.sorted().joined(separator: ", ")))")
    }
    return u
  }

  /// A short description, e.g. `StyleGAN2 256x256 (style 512, 8 mapping layers)`.
  public var summary: String {
    switch self {
    case .styleGAN2(let c):
      "StyleGAN2 \(c.config.size)x\(c.config.size) (style \(c.config.styleDim), \(c.config.mappingLayers) mapping layers)"
    case .dcgan(let c): "DCGAN 64x64 (latent \(c.model.latentDim))"
    }
  }

  /// The graph and all its inputs for drawing `count` samples from `seed`: z ~ N(0, 1) (and,
  /// for StyleGAN2, fresh N(0, 1) noise maps) from a SplitMix64 stream, so a seed gives the
  /// same images on every machine and engine. Output `image` [count, 3, S, S] in ≈[−1, 1].
  /// `truncation` ψ < 1 (StyleGAN2 only) needs the checkpoint's `latent_avg`.
  public func samplingJob(seed: UInt64, count: Int, truncation: Float? = nil) throws -> (graph: Graph, inputs: [String: HostTensor<Float>]) {
    guard count >= 1 else { throw ModelError("sample count must be at least 1, got \(count)") }
    var rng = SplitMix64(seed: seed)
    func normals(_ shape: Shape) -> HostTensor<Float> {
      HostTensor(shape: shape, values: rng.normals(shape.elementCount).map { Float($0) })
    }
    switch self {
    case .dcgan(let c):
      if let t = truncation, t != 1 { throw ModelError("truncation applies to StyleGAN2 models only") }
      let mg = try c.model.graph(batch: count)
      var inputs = try mg.bind(c.stateDict)
      inputs["z"] = normals([count, c.model.latentDim])
      return (mg.graph, inputs)
    case .styleGAN2(let c):
      let psi = truncation.flatMap { $0 == 1 ? nil : $0 }
      if psi != nil && c.latentAverage == nil {
        throw ModelError("\(c.stateDict.source): no 'latent_avg' in the checkpoint, so truncation cannot be applied")
      }
      let mg = try StyleGAN2(config: c.config).generatorGraph(batch: count, truncation: psi)
      var inputs = try mg.bind(c.stateDict)
      inputs["z"] = normals([count, c.config.styleDim])
      for i in 0..<c.config.noiseCount {
        let r = c.config.noiseResolution(i)
        inputs["noise.\(i)"] = normals([count, 1, r, r])
      }
      return (mg.graph, inputs)
    }
  }
}

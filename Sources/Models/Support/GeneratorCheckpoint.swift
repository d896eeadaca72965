import Foundation
import GraphIR
import RealModule
import Runtime

/// A generator checkpoint of either supported architecture, recognised by content.
public enum GeneratorCheckpoint {
  case styleGAN2(StyleGAN2Checkpoint)
  case dcgan(DCGANCheckpoint)

  /// Model names usable instead of a file, with the candidate paths (relative to a search
  /// root) tried in order: the converted model `setup.sh` makes, then the fetched checkpoint.
  public static let shippedModels: [String: [String]] = [
    "dcgan": ["models/dcgan-face64.safetensors", "models/cache/gan_face_generate/weights.tar"],
    // Trained by scripts/train/train_stylegan2.py, committed (models/README.md).
    "stylegan2-face64": ["models/stylegan2-face64.safetensors"],
  ]

  /// Loads a StyleGAN2 or DCGAN generator from `url`: a checkpoint, a safetensors file, or a
  /// converted model given by its `.safetensors` or its `.json` (the pair `iloc convert`
  /// writes; the JSON beside a `.safetensors` is read and checked when it describes it).
  /// A file of neither kind gives
  /// `<file>: not a generator iloc knows (no 'style.1.weight' (StyleGAN2) or 'main.0.weight' (DCGAN))`.
  /// `classIndex` picks the class of a conditional StyleGAN2 generator (`--class`); a converted
  /// conditional model defaults to the class its latent proxy was fitted for.
  public static func load(_ url: URL, classIndex: Int? = nil) throws -> GeneratorCheckpoint {
    if url.pathExtension.lowercased() == "json" {
      let manifest = try ModelManifest(contentsOf: url)
      return try load(manifest.weightsURL(relativeTo: url), manifest: manifest, manifestName: url.lastPathComponent,
                      classIndex: classIndex)
    }
    if let manifest = try ModelManifest.companion(of: url) {
      return try load(url, manifest: manifest, manifestName: ModelManifest.url(forWeights: url).lastPathComponent,
                      classIndex: classIndex)
    }
    do {
      return .styleGAN2(try StyleGAN2Checkpoint(contentsOf: url, classIndex: classIndex))
    } catch let e as ModelError where e.isWrongArchitecture {}
    do {
      let c = try DCGANCheckpoint(contentsOf: url)
      if let k = classIndex { throw ModelError("--class \(k) given, but a DCGAN generator has no classes") }
      return .dcgan(c)
    } catch let e as ModelError where e.isWrongArchitecture {}
    throw ModelError("\(url.lastPathComponent): not a generator iloc knows (no 'style.1.weight' (StyleGAN2) or 'main.0.weight' (DCGAN), also under 'g_ema' / 'netG_state_dict')",
                     wrongArchitecture: true)
  }

  /// Loads the weights a manifest describes and checks them against it.
  static func load(_ url: URL, manifest m: ModelManifest, manifestName: String, classIndex: Int? = nil) throws
    -> GeneratorCheckpoint
  {
    func mismatch(_ what: String, _ declared: Any, _ found: Any) -> ModelError {
      ModelError("\(manifestName) declares \(what) \(declared) but \(url.lastPathComponent) holds \(found)")
    }
    func wrongArchitecture(_ e: ModelError) -> ModelError {
      e.isWrongArchitecture ? ModelError("\(manifestName) declares architecture '\(m.architecture)', but \(e.message)") : e
    }
    switch m.architecture {
    case "stylegan2":
      var c: StyleGAN2Checkpoint
      if let fitted = m.classIndex, let given = classIndex, given != fitted {
        throw ModelError("\(manifestName): the latent proxy was fitted for class \(fitted), not \(given) "
          + "(convert the source again with --class \(given))")
      }
      do { c = try StyleGAN2Checkpoint(contentsOf: url, lrMul: Float(m.lrMlp ?? 0.01),
                                       convClamp: m.convClamp.map { Float($0) }, classIndex: classIndex ?? m.classIndex)
      } catch let e as ModelError { throw wrongArchitecture(e) }
      let found = c.config
      if m.size != found.size { throw mismatch("size", m.size, found.size) }
      // the class embedding is derived on load from the chosen class, not stored in the file
      let count = c.stateDict.tensors.keys.filter { $0 != StyleGAN2Config.classEmbeddingKey }.count
      if m.tensorCount != count { throw mismatch("tensor_count", m.tensorCount, count) }
      if let d = m.styleDim, d != found.styleDim { throw mismatch("style_dim", d, found.styleDim) }
      if let n = m.nMlp, n != found.mappingLayers { throw mismatch("n_mlp", n, found.mappingLayers) }
      let ch = Dictionary(uniqueKeysWithValues: found.channels.map { (String($0.key), $0.value) })
      if m.channels != ch {
        throw mismatch("channels", m.channelsByResolution, found.channels.sorted { $0.key < $1.key }.map(\.value))
      }
      if m.latentProxy != nil && c.latentProxy == nil {
        throw ModelError("\(manifestName) declares a latent proxy but \(url.lastPathComponent) lacks '\(LatentProxy.meanKey)' / '\(LatentProxy.stdKey)'")
      }
      c.manifest = m
      return .styleGAN2(c)
    default:
      if let k = classIndex { throw ModelError("--class \(k) given, but a DCGAN generator has no classes") }
      var c: DCGANCheckpoint
      do { c = try DCGANCheckpoint(contentsOf: url) } catch let e as ModelError { throw wrongArchitecture(e) }
      let found = c.model
      let size = found.resolution(ofBlock: DCGAN.blockCount - 1)
      if m.size != size { throw mismatch("size", m.size, size) }
      let count = c.stateDict.tensors.count
      if m.tensorCount != count { throw mismatch("tensor_count", m.tensorCount, count) }
      if let nz = m.nz, nz != found.latentDim { throw mismatch("nz", nz, found.latentDim) }
      let ch = Dictionary(uniqueKeysWithValues: found.channels.enumerated().map { (String(found.resolution(ofBlock: $0.offset)), $0.element) })
      if m.channels != ch { throw mismatch("channels", m.channelsByResolution, found.channels) }
      c.manifest = m
      return .dcgan(c)
    }
  }

  /// Resolves `--model`: a file path, or a shipped model name whose candidates are looked up
  /// in `searchRoots` (each a directory holding `models/`), first hit wins.
  public static func resolve(_ nameOrPath: String, searchRoots: [URL]) throws -> URL {
    let fm = FileManager.default
    if let candidates = shippedModels[nameOrPath.lowercased()] {
      for rel in candidates {
        for root in searchRoots {
          let u = root.appendingPathComponent(rel)
          if fm.fileExists(atPath: u.path) { return u }
        }
      }
      throw ModelError("model '\(nameOrPath)': none of \(candidates.joined(separator: ", ")) found (run `bash scripts/setup.sh` or `bash models/fetch.sh`, or pass a checkpoint file)")
    }
    let u = URL(fileURLWithPath: nameOrPath)
    guard fm.fileExists(atPath: u.path) else {
      throw ModelError("model '\(nameOrPath)': no such file, and not a shipped model name (\(shippedModels.keys.sorted().joined(separator: ", ")))")
    }
    return u
  }

  /// The fitted latent proxy of a converted StyleGAN2 model (nil for DCGAN and for
  /// checkpoints that were not converted).
  public var latentProxy: LatentProxy? {
    if case .styleGAN2(let c) = self { return c.latentProxy }
    return nil
  }

  /// The converted model's description, when loaded from a converted model.
  public var manifest: ModelManifest? {
    switch self {
    case .styleGAN2(let c): c.manifest
    case .dcgan(let c): c.manifest
    }
  }

  /// A short description, e.g. `StyleGAN2 256x256 (style 512, 8 mapping layers)`.
  public var summary: String {
    switch self {
    case .styleGAN2(let c):
      "StyleGAN2 \(c.config.size)x\(c.config.size) (style \(c.config.styleDim), \(c.config.mappingLayers) mapping layers"
        + (c.config.convClamp.map { String(format: ", conv_clamp %g", Double($0)) } ?? "")
        + (c.config.conditioning.map { ", class \(c.classIndex ?? 0) of \($0.classes)" } ?? "") + ")"
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

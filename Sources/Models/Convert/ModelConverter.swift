import Foundation
import GraphIR
import Runtime

/// `iloc convert`: turns a PyTorch generator checkpoint (StyleGAN2 in the reference port's
/// layout, or DCGAN) into a safetensors file of the generator tensors (keys as in the
/// checkpoint) plus a JSON description beside it (`ModelManifest`). For StyleGAN2 it also fits
/// the latent proxy (`LatentProxyFit`) and, when the checkpoint has no `latent_avg`, stores
/// the fitted mean latent under that name. The same input and options give the same bytes.
public enum ModelConverter {
  public struct Options: Sendable {
    /// Latents used to fit the proxy (StyleGAN2 only).
    public var fitSamples = 100_000
    public var seed: UInt64 = 0
    /// Latents per mapping-network run.
    public var batch = 2000
    public var engine: Engine = .jit
    /// The class of a conditional StyleGAN2 generator the proxy is fitted for (`--class`).
    public var classIndex: Int?
    public init() {}
  }

  /// What was written.
  public struct Report: Sendable {
    public var weights: URL
    public var manifestURL: URL
    public var manifest: ModelManifest
    /// The generator's description (`GeneratorCheckpoint.summary`).
    public var summary: String
    public var proxy: LatentProxyFit.Result?
    /// Tensors of the source left out because the safetensors file stores floats only and the
    /// generator does not read them (integer buffers such as `num_batches_tracked`).
    public var skipped: [String]
  }

  /// Converts `source` into `output` (which must end in `.safetensors`) and the `.json` beside
  /// it. Errors are one line (unreadable or foreign file, missing or mis-shaped tensor, bad
  /// options). `progress(done, total)` reports the proxy fit.
  @discardableResult
  public static func convert(_ source: URL, to output: URL, options: Options = Options(),
                             progress: ((Int, Int) -> Void)? = nil) throws -> Report {
    guard output.pathExtension == "safetensors" else {
      throw ModelError("output \(output.lastPathComponent): the converted model's name must end in .safetensors")
    }
    let dir = output.deletingLastPathComponent()
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
      throw ModelError("output directory \(dir.path) does not exist")
    }
    let manifestURL = ModelManifest.url(forWeights: output)
    guard source.standardizedFileURL != output.standardizedFileURL, source.standardizedFileURL != manifestURL.standardizedFileURL else {
      throw ModelError("\(source.lastPathComponent): the output would overwrite the input")
    }

    let checkpoint = try GeneratorCheckpoint.load(source, classIndex: options.classIndex)
    // A converted model given by its JSON: hash the weights file it names.
    let sourceFile = source.pathExtension.lowercased() == "json" ? checkpoint.manifest?.weightsURL(relativeTo: source) ?? source : source
    let digest = try FileDigest.sha256Hex(fileAt: sourceFile)
    let origin = ModelManifest.Source(file: sourceFile.lastPathComponent, sha256: digest)

    var tensors: [String: TensorData] = [:]
    var skipped: [String] = []
    let stateDict: StateDict
    switch checkpoint {
    case .styleGAN2(let c): stateDict = c.stateDict
    case .dcgan(let c): stateDict = c.stateDict
    }
    // The chosen class's embedding is derived from the embedding tensors at load time.
    for (k, t) in stateDict.tensors where k != StyleGAN2Config.classEmbeddingKey {
      if t.dtype.isInteger { skipped.append(k) } else { tensors[k] = t.dtype.isHalfWidth ? t : TensorData(shape: t.shape, values: t.values) }
    }

    var manifest: ModelManifest
    var fit: LatentProxyFit.Result?
    switch checkpoint {
    case .styleGAN2(let c):
      let cfg = c.config
      manifest = ModelManifest(architecture: "stylegan2", weights: output.lastPathComponent, tensorCount: 0,
                               size: cfg.size, channels: cfg.channels, source: origin)
      manifest.styleDim = cfg.styleDim
      manifest.nMlp = cfg.mappingLayers
      manifest.lrMlp = Double(String(cfg.lrMul))
      manifest.channelMultiplier = [1, 2, 4].first { cm in
        (try? StyleGAN2Config(size: cfg.size, channelMultiplier: cm, styleDim: cfg.styleDim, mappingLayers: cfg.mappingLayers))?.channels == cfg.channels
      }
      manifest.networkPickle = c.networkPickle
      manifest.classes = cfg.conditioning?.classes
      manifest.classIndex = c.classIndex
      manifest.convClamp = cfg.convClamp.map { Double(String($0))! }
      manifest.nLatent = cfg.latentCount
      manifest.nNoise = cfg.noiseCount
      guard options.fitSamples >= 2 else { throw ModelError("--fit-samples must be at least 2, got \(options.fitSamples)") }
      let result = try LatentProxyFit.fit(c, samples: options.fitSamples, seed: options.seed, batch: options.batch,
                                          engine: options.engine, progress: progress)
      fit = result
      let d = cfg.styleDim
      tensors[LatentProxy.meanKey] = TensorData(shape: [d], values: result.proxy.mean)
      tensors[LatentProxy.stdKey] = TensorData(shape: [d], values: result.proxy.std)
      if c.latentAverage == nil {
        tensors["latent_avg"] = TensorData(shape: [d], values: result.meanLatent)
        manifest.latentAvg = "fitted"
      } else {
        manifest.latentAvg = "checkpoint"
      }
      manifest.latentProxy = ModelManifest.ProxyInfo(
        mean: LatentProxy.meanKey, std: LatentProxy.stdKey, samples: result.samples, seed: options.seed,
        batch: Swift.min(options.batch, result.samples), engine: options.engine.rawValue,
        recipe: "per-coordinate mean and unbiased std of LeakyReLU_5(mapping(z)), z ~ N(0, I) from SplitMix64(seed); w = LeakyReLU_0.2(std * z + mean)",
        meanAverage: average(result.proxy.mean), stdAverage: average(result.proxy.std))
    case .dcgan(let c):
      let m = c.model
      var ch: [Int: Int] = [:]
      for (k, n) in m.channels.enumerated() { ch[m.resolution(ofBlock: k)] = n }
      manifest = ModelManifest(architecture: "dcgan", weights: output.lastPathComponent, tensorCount: 0,
                               size: m.resolution(ofBlock: DCGAN.blockCount - 1), channels: ch, source: origin)
      manifest.nz = m.latentDim
      let ngf = m.channels[3]
      manifest.ngf = m.channels[0..<4] == [8 * ngf, 4 * ngf, 2 * ngf, ngf] ? ngf : nil
      manifest.nc = m.channels[4]
    }
    manifest.tensorCount = tensors.count

    let file = SafeTensorsFile(tensors: tensors, metadata: [
      "format": ModelManifest.formatName, "format_version": String(ModelManifest.currentVersion),
      "architecture": manifest.architecture,
    ])
    try file.write(to: output)
    do {
      try manifest.encoded().write(to: manifestURL, options: .atomic)
    } catch {
      throw ModelError("\(manifestURL.lastPathComponent): cannot write (\(error))")
    }
    return Report(weights: output, manifestURL: manifestURL, manifest: manifest, summary: checkpoint.summary,
                  proxy: fit, skipped: skipped.sorted())
  }

  private static func average(_ v: [Float]) -> Double { v.reduce(0) { $0 + Double($1) } / Double(v.count) }
}

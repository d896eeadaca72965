import ArgumentParser
import Foundation
import GraphIR
import Models
import Runtime

/// `iloc convert`: a PyTorch generator checkpoint -> `model.safetensors` + `model.json`, with the
/// StyleGAN2 latent proxy fitted on the chosen engine.
struct ConvertCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "convert",
    abstract: "Convert a StyleGAN2 or DCGAN checkpoint to safetensors + JSON (and fit the StyleGAN2 latent proxy).",
    discussion: """
      Reads a PyTorch checkpoint (StyleGAN2 in the rosinality layout with g_ema and latent_avg,
      the DCGAN-tutorial layout, or a bare state dict) or an NVIDIA StyleGAN2 network pickle
      (.pkl of the TensorFlow release or of stylegan2-ada-pytorch / stylegan3, read without
      executing anything) and writes the generator tensors under
      their checkpoint names to <output>.safetensors, and a description to <output>.json.
      For StyleGAN2 it fits the latent proxy: the per-coordinate mean and std of
      LeakyReLU_5(mapping(z)) over --fit-samples seeded normal z (tensors latent_proxy.mean
      and latent_proxy.std); without latent_avg in the checkpoint, the mean of mapping(z) is
      stored under that name. Same input and seed give the same bytes.
        iloc convert stylegan2-ffhq-256.pt -o models/ffhq256.safetensors
        iloc convert stylegan2-ffhq-config-f.pkl -o models/ffhq1024.safetensors
        iloc convert models/cache/gan_face_generate/weights.tar -o models/dcgan-face64.safetensors
      """
  )

  @Argument(help: "The checkpoint (.pt/.pth/.tar, .safetensors with the same keys, or an NVIDIA .pkl).")
  var checkpoint: String

  @Option(name: [.short, .customLong("output")], help: "Output file, ending in .safetensors (the .json goes beside it).")
  var output: String

  @Option(help: "Latents used to fit the StyleGAN2 latent proxy.")
  var fitSamples: Int = 100_000

  @Option(help: "Seed of the latents (SplitMix64).")
  var seed: UInt64 = 0

  @Option(name: .customLong("class"), help: ArgumentHelp("StyleGAN2: the class of a conditional generator that the "
    + "latent proxy is fitted for (0 <= N < its class count; recorded in the JSON)."))
  var classIndex: Int?

  @Option(help: "Latents per mapping-network run.")
  var batch: Int = 2000

  @OptionGroup var engineOptions: EngineOptions

  func validate() throws {
    guard fitSamples >= 2 else { throw ValidationError("--fit-samples must be at least 2, got \(fitSamples)") }
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
  }

  func run() throws {
    let source = URL(fileURLWithPath: checkpoint), out = URL(fileURLWithPath: output)
    if engineOptions.validate {
      // Both engines on the mapping network (64 of the fit's latents).
      if case .styleGAN2(let c) = try GeneratorCheckpoint.load(source, classIndex: classIndex) {
        let n = Swift.min(64, fitSamples)
        let mg = try LatentProxyFit.graph(c.config, batch: n)
        var feed = try mg.bind(c.stateDict).mapValues(\.values)
        feed["z"] = LatentProxyFit.latents(seed: seed, samples: n, styleDim: c.config.styleDim)
        printValidation(try validateEngines(mg.graph, feed: feed))
      } else {
        print("validate: nothing to compare (a DCGAN conversion runs no graph)")
      }
    }
    var options = ModelConverter.Options()
    options.fitSamples = fitSamples
    options.seed = seed
    options.batch = batch
    options.classIndex = classIndex
    options.engine = engineOptions.engine
    var lastShown = Date()
    let report = try ModelConverter.convert(source, to: out, options: options) { done, total in
      if Date().timeIntervalSince(lastShown) > 2 || done == total {
        lastShown = Date()
        FileHandle.standardError.write(Data("latent proxy fit: \(done)/\(total) samples\r".utf8))
        if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
      }
    }
    print("\(report.summary) from \(report.manifest.source.file) (sha256 \(report.manifest.source.sha256.prefix(16))...)")
    for line in report.manifest.networkPickle?.reportLines ?? [] { print(line) }
    if let fit = report.proxy {
      let p = report.manifest.latentProxy!
      print(String(format: "latent proxy: %d samples, seed %llu, %@ engine, %.1f s; mean of means %.4f, mean of stds %.4f; latent_avg %@",
                   fit.samples, seed, engineOptions.engine.rawValue, fit.seconds, p.meanAverage, p.stdAverage,
                   report.manifest.latentAvg ?? "-"))
    }
    if !report.skipped.isEmpty { print("left out (integer buffers the generator does not read): \(report.skipped.joined(separator: ", "))") }
    print("wrote \(report.weights.path) (\(report.manifest.tensorCount) tensors) and \(report.manifestURL.path)")
  }
}

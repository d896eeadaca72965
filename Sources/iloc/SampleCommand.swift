import ArgumentParser
import Foundation
import GraphIR
import Models
import Runtime

/// `iloc sample`: draws images from a generator (a StyleGAN2 or DCGAN checkpoint, or the
/// shipped `dcgan`) and writes them as one PNG grid, on the compiled engine (default) or the
/// reference interpreter.
struct SampleCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "sample",
    abstract: "Draw images from a generator and write them as a PNG grid.",
    discussion: """
      The same seed gives the same images on every machine (SplitMix64 normals for z and noise).
        iloc sample --model dcgan --seed 1 --count 4 -o faces.png
        iloc sample --model stylegan2-ffhq-256.pt --seed 7 --truncation 0.7 -o face.png
        iloc sample --model models/ffhq256.json --engine interp -o face.png
      """
  )

  @Option(help: "A checkpoint file (StyleGAN2 or DCGAN, .pt/.pth/.tar/.safetensors, or an NVIDIA StyleGAN2 .pkl), a converted model (.safetensors or .json), or a shipped model name (dcgan).")
  var model: String = "dcgan"

  @Option(name: .customLong("class"), help: "StyleGAN2: the class of a conditional generator (0 <= N < class count).")
  var classIndex: Int?

  @Option(help: "Random seed.")
  var seed: UInt64 = 0

  @Option(help: "Number of images.")
  var count: Int = 1

  @Option(help: "StyleGAN2 truncation psi (1 = none).")
  var truncation: Float = 1

  @Option(name: [.short, .customLong("output")], help: "Output PNG file.")
  var output: String

  @OptionGroup var engineOptions: EngineOptions

  func validate() throws {
    guard (1...256).contains(count) else { throw ValidationError("--count must be between 1 and 256, got \(count)") }
    let dir = URL(fileURLWithPath: output).deletingLastPathComponent().path
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
      throw ValidationError("-o: directory \(dir) does not exist")
    }
    guard truncation.isFinite, truncation >= 0, truncation <= 1 else { throw ValidationError("--truncation must be in [0, 1], got \(truncation)") }
  }

  func run() throws {
    let url = try GeneratorCheckpoint.resolve(model, searchRoots: modelSearchRoots())
    let ckpt = try GeneratorCheckpoint.load(url, classIndex: classIndex)
    let (graph, inputs) = try ckpt.samplingJob(seed: seed, count: count, truncation: truncation)
    if engineOptions.validate { printValidation(try validateEngines(graph, feed: inputs.mapValues(\.values))) }
    let t0 = Date()
    let program = try makeExecutable(graph, engine: engineOptions.engine)
    for (name, t) in inputs { try program.setInput(name, t.values) }
    try program.run()
    let image = try program.output("image")
    let (h, w) = (image.shape[2], image.shape[3])
    let n = 3 * h * w
    let tiles = (0..<count).map { RGBImage(chw: image.values[($0 * n)..<(($0 + 1) * n)], height: h, width: w) }
    let columns = Int(Double(count).squareRoot().rounded(.up))
    try PNG.write(count == 1 ? tiles[0] : RGBImage.grid(tiles, columns: columns), to: URL(fileURLWithPath: output))
    print(String(format: "%@: %d image(s) of %dx%d, seed %llu, %@ %.1f s -> %@",
                 ckpt.summary, count, w, h, seed, engineOptions.engine == .jit ? "compiled" : "interpreter",
                 Date().timeIntervalSince(t0), output))
  }
}

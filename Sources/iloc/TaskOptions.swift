import ArgumentParser
import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime

extension Task: ExpressibleByArgument {}
extension Method: ExpressibleByArgument {}

/// The task and its operator's parameters, shared by `invert` and `degrade`.
struct TaskOptions: ParsableArguments {
  @Option(help: "Task: inpaint, superres, denoise, cs-circulant, cs-gaussian, colorize.")
  var task: Task

  @OptionGroup var operatorOptions: OperatorOptions

  var mask: String? {
    get { operatorOptions.mask }
    set { operatorOptions.mask = newValue }
  }
  var operatorFile: String? { operatorOptions.operatorFile }

  /// Reads an input PNG as a [1, 3, H, W] tensor, within `--max-pixels`.
  func readImage(_ path: String) throws -> HostTensor<Float> { try operatorOptions.readImage(path) }

  /// The forward operator for images of `size`; `observation` is needed for `--mask black`.
  func makeOperator(size: Int, observation: HostTensor<Float>?, compatReference: Bool) throws -> any ForwardOperator {
    try operatorOptions.makeOperator(task: task, size: size, observation: observation, compatReference: compatReference)
  }
}

/// The forward operator's parameters besides the task (`iloc profile` takes them with an
/// optional `--task`).
struct OperatorOptions: ParsableArguments {
  @Option(help: "inpaint: a mask PNG (white = known), 'black' (black pixels of the observation are missing), 'random:P' (keep each pixel with probability P) or 'box:TOP,LEFT,H,W' (a missing box). Default: black.")
  var mask: String?

  @Option(help: "superres: downsampling factor (2...32).")
  var factor: Int?

  @Option(parsing: .unconditional, help: "denoise: noise standard deviation (in [-1, 1] image units, at most 10).")
  var sigma: Float?

  @Option(parsing: .unconditional, help: "cs-*: number of measurements, or a fraction of 3*S*S when below 1.")
  var measurements: Double?

  @Option(help: "Seed of generated masks, noise and measurement operators.")
  var operatorSeed: UInt64 = 0

  @Option(help: "Load the operator from a file written by `iloc degrade --operator-out` (overrides the task flags).")
  var operatorFile: String?

  @Option(help: "Refuse input images (PNG) with more pixels than this (width x height), before decoding them.")
  var maxPixels: Int = PNG.defaultMaxPixels

  func validate() throws {
    guard maxPixels >= 1, maxPixels <= PNG.maxPixelsCeiling else {
      throw ValidationError("--max-pixels must be in 1...\(PNG.maxPixelsCeiling), got \(maxPixels)")
    }
  }

  /// Reads an input PNG as a [1, 3, H, W] tensor, within `--max-pixels`.
  func readImage(_ path: String) throws -> HostTensor<Float> {
    try ImageIO.readTensor(URL(fileURLWithPath: path), maxPixels: maxPixels)
  }

  /// The forward operator of `task` for images of `size`; `observation` is needed for `--mask black`.
  func makeOperator(task: Task, size: Int, observation: HostTensor<Float>?, compatReference: Bool) throws
    -> any ForwardOperator
  {
    if let path = operatorFile {
      let rec = try OperatorRecord.load(from: URL(fileURLWithPath: path))
      guard rec.task == task else { throw ValidationFailure("\(path): the operator is for task \(rec.task.rawValue), not \(task.rawValue)") }
      return try rec.makeOperator(imageSize: size)
    }
    switch task {
    case .inpaint:
      if mask == nil { print("note: no --mask given: using --mask black (the observation's black pixels are missing)") }
      let spec = mask ?? "black"
      if spec == "black" {
        guard let y = observation else { throw ValidationFailure("--mask black needs the observed image") }
        return try InpaintMask(blackPixelsOf: y.values, batch: 1, height: size, width: size)
      }
      if spec.hasPrefix("random:") {
        guard let p = Double(spec.dropFirst(7)), p > 0, p <= 1 else { throw ValidationFailure("--mask random:P needs 0 < P <= 1, got '\(spec)'") }
        return try InpaintMask(keepProbability: p, seed: operatorSeed, height: size, width: size)
      }
      if spec.hasPrefix("box:") {
        let v = spec.dropFirst(4).split(separator: ",").compactMap { Int($0) }
        guard v.count == 4 else { throw ValidationFailure("--mask box:TOP,LEFT,H,W needs four integers, got '\(spec)'") }
        return try InpaintMask(box: v[0], left: v[1], boxHeight: v[2], boxWidth: v[3], height: size, width: size)
      }
      let img = try PNG.read(URL(fileURLWithPath: spec), maxPixels: maxPixels)
      guard img.width == size && img.height == size else {
        throw ValidationFailure("mask \(spec) is \(img.width)x\(img.height) but the model makes \(size)x\(size) images")
      }
      return try InpaintMask(maskImage: img.pixels, height: size, width: size, channels: 3)
    case .superres:
      guard let f = factor else { throw ValidationFailure("--task superres needs --factor") }
      return try BicubicDownsampler(factor: f, referenceFactorOne: compatReference)
    case .denoise:
      guard let s = sigma else { throw ValidationFailure("--task denoise needs --sigma") }
      return try NoiseAddition(sigma: s, seed: operatorSeed)
    case .csCirculant, .csGaussian:
      guard let m = measurements else { throw ValidationFailure("--task \(task.rawValue) needs --measurements (a count, or a fraction below 1)") }
      let count = try CirculantSensing.measurementCount(m, imageSize: size, task: task)
      return task == .csCirculant ? try CirculantSensing(imageSize: size, measurements: count, seed: operatorSeed)
        : try GaussianSensing(imageSize: size, measurements: count, seed: operatorSeed)
    case .colorize:
      return Colorizer()
    }
  }
}

/// Resolves and loads a generator (`--model`): a file, or a shipped model name.
/// `classIndex` picks the class of a conditional StyleGAN2 generator.
func loadGenerator(_ model: String, fitSamples: Int, proxy given: LatentProxy? = nil, classIndex: Int? = nil) throws
  -> InvertibleGenerator
{
  let url = try GeneratorCheckpoint.resolve(model, searchRoots: modelSearchRoots())
  switch try GeneratorCheckpoint.load(url, classIndex: classIndex) {
  case .dcgan(let c):
    if given != nil {
      throw ValidationFailure("a latent proxy applies to StyleGAN2 models only; \(url.lastPathComponent) is a DCGAN")
    }
    return DCGANGenerator(checkpoint: c)
  case .styleGAN2(let c):
    if let g = given, g.mean.count != c.config.styleDim {
      throw ValidationFailure("the latent proxy has \(g.mean.count) coordinates but \(url.lastPathComponent) "
        + "has style dimension \(c.config.styleDim)")
    }
    if let proxy = given ?? c.latentProxy { return StyleGAN2Generator(checkpoint: c, proxy: proxy) }
    print("note: \(url.lastPathComponent) has no latent proxy (convert it with `iloc convert`); fitting one on \(fitSamples) samples")
    return StyleGAN2Generator(checkpoint: c, proxy: try LatentProxyFit.fit(c, samples: fitSamples, seed: 0).proxy)
  }
}

/// Runs a graph fragment (an operator on an image) once with the compiled engine.
func applyOperator(_ op: any ForwardOperator, to image: HostTensor<Float>) throws -> HostTensor<Float> {
  let g = Graph("apply-\(op.task.rawValue)")
  let x = g.input("x", image.shape)
  g.output("y", op.apply(x))
  try g.check()
  var feed = ["x": image]
  for ri in op.runtimeInputs(batch: 1, size: image.shape[2]) {
    var buf = [Float](repeating: 0, count: ri.shape.elementCount)
    (op as? NoiseAddition)?.fill(&buf, step: 0)
    feed[ri.name] = HostTensor(shape: ri.shape, values: buf)
  }
  return try Program(g).run(inputs: feed)["y"]!
}

import ArgumentParser
import Artifact
import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime

/// `iloc compile`: one inversion setup -> an artifact directory that `iloc run` executes with
/// every kernel compiled ahead of time (no LLVM at run time).
struct CompileCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "compile",
    abstract: "Compile an inversion setup ahead of time into an artifact that `iloc run` executes without LLVM.",
    discussion: """
      Builds every program the setup runs (each round's stage program, the operator applied to
      the observation, the naive reconstruction) exactly as `iloc invert` would with the same
      flags, and writes into the output directory: kernels.so (all their kernels, linked with
      the system C compiler driver `cc -shared`), weights.safetensors (the generator, with the
      StyleGAN2 latent proxy) and manifest.json (format version, target CPU and features, LLVM
      version, per-round program layout and buffer plan, the flags, SHA-256 of every file) \
      and, with --sign-key, manifest.sig (an Ed25519 signature over the manifest).
        iloc compile --model dcgan --task inpaint --mask box:20,16,24,32 --steps 50,50,25,25 -o art/
        iloc run art/ --task inpaint --mask box:20,16,24,32 --observed holes.png -o out/
      The observation is not needed: a synthetic one of the right shape stands in for it.
      """
  )

  @OptionGroup var taskOptions: TaskOptions
  @Option(help: "Generator: a StyleGAN2 or DCGAN checkpoint, or a shipped model name (dcgan).")
  var model = "dcgan"
  @Option(help: "Image size the setup is for (checked against the model).")
  var size: Int?
  @OptionGroup var inversion: InversionOptions
  @Option(help: "Target CPU (LLVM name): x86-64, x86-64-v2, x86-64-v3 or x86-64-v4 for a fleet; another LLVM CPU name needs --target-features. Default: this machine's CPU.")
  var targetCPU: String?
  @Option(help: "Target features (LLVM syntax, '+avx2,+fma'); with --target-cpu only.")
  var targetFeatures: String?
  @Option(name: [.short, .customLong("output")], help: "Artifact directory.")
  var output: String
  @Option(help: """
    Sign the manifest with this Ed25519 private key (made by `iloc keygen`); \
    `iloc run --trusted-key KEY.pub` then accepts the artifact.
    """)
  var signKey: String?

  func run() throws {
    let start = DispatchTime.now().uptimeNanoseconds
    // the key is read before any work, so a bad one fails at once
    let signingKey = try signKey.map { try Signing.SigningKey(contentsOf: URL(fileURLWithPath: $0)) }
    var settings = try inversion.settings()
    try settings.validateValues()
    if inversion.lpips > 0 || inversion.lpipsBackbone != nil {
      throw ValidationFailure("artifacts do not support the LPIPS loss yet (leave out --lpips and --lpips-backbone)")
    }
    if targetFeatures != nil && targetCPU == nil { throw ValidationFailure("--target-features needs --target-cpu") }
    let dir = URL(fileURLWithPath: output, isDirectory: true)
    let generator = try loadGenerator(model, fitSamples: inversion.fitSamples, proxy: try inversion.givenLatentProxy(),
                                      classIndex: inversion.classIndex)
    settings = try inversion.settings(task: taskOptions.task, maxRounds: generator.maxRounds)
      .resolved(for: taskOptions.task)
    let imageSize = generator.imageSize
    if let s = size, s != imageSize {
      throw ValidationFailure("--size \(s), but \(model) makes \(imageSize)x\(imageSize) images")
    }
    try settings.validate(maxRounds: generator.maxRounds)
    let builder = ArtifactBuilder(
      model: model, generator: generator, task: taskOptions.task, settings: settings,
      lossTerms: lossTermNames(inversion, generator: generator, perceptual: false),
      flags: Array(CommandLine.arguments.dropFirst()), ilocVersion: ILOC.configuration.version,
      targetCPU: targetCPU, targetFeatures: targetFeatures)
    let manifest = try builder.build(into: dir, signingKey: signingKey) {
      try exampleProblem(generator, compatReference: settings.compatReference)
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let soBytes = manifest.files[ArtifactManifest.kernelLibrary]!.bytes
    print(String(format: "compiled %d kernels of %d programs for %@ (%@) into %@: %@ %.1f MB, %@, %@ in %.1f s",
                 manifest.kernels.count, manifest.stages.count, manifest.target.cpu,
                 targetCPU == nil ? "this machine" : "named target", dir.path, ArtifactManifest.kernelLibrary,
                 Double(soBytes) / 1e6, ArtifactManifest.weightsFile, ArtifactManifest.fileName, seconds))
  }

  /// The problem the artifact is compiled for, on a synthetic observation of the right shape.
  func exampleProblem(_ generator: InvertibleGenerator, compatReference: Bool) throws -> InversionProblem {
    let example = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-compile-\(UUID().uuidString).png")
    defer { try? FileManager.default.removeItem(at: example) }
    try Self.writeExampleObservation(to: example, taskOptions: taskOptions, size: generator.imageSize,
                                     compatReference: compatReference)
    let (op, observation) = try makeObservation(example.path, taskOptions: taskOptions, size: generator.imageSize,
                                                compatReference: compatReference)
    return InversionProblem(generator: generator, forward: op, observation: observation, mask: op as? InpaintMask)
  }

  /// A stand-in observation of the shape `iloc invert` expects for this task: deterministic
  /// texture with values in (-0.9, 0.9) (never a constant, so no graph pass folds it away)
  /// and, for `--mask black`, a black box.
  static func writeExampleObservation(to url: URL, taskOptions: TaskOptions, size: Int, compatReference: Bool) throws {
    var probe = taskOptions
    if taskOptions.task == .inpaint && (taskOptions.mask ?? "black") == "black" { probe.mask = "box:0,0,1,1" }
    let want = try probe.makeOperator(size: size, observation: nil, compatReference: compatReference).outputShape(batch: 1, size: size)
    let (h, w) = want.count == 4 && want[1] == 3 ? (want[2], want[3]) : (size, size)
    var pixels = [UInt8](repeating: 0, count: h * w * 3)
    var state: UInt64 = 0x1234_5678
    for i in pixels.indices {
      state = state &* 6364136223846793005 &+ 1442695040888963407
      pixels[i] = UInt8(20 + (state >> 33) % 216)
    }
    if taskOptions.task == .inpaint && (taskOptions.mask ?? "black") == "black" {
      for y in h / 4..<(h / 2) { for x in w / 4..<(w / 2) { for c in 0..<3 { pixels[(y * w + x) * 3 + c] = 0 } } }
    }
    try PNG.write(RGBImage(width: w, height: h, pixels: pixels), to: url)
  }
}

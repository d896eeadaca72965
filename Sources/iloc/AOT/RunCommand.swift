import ArgumentParser
import Artifact
import Codegen
import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime

/// `iloc run`: runs the inversion of an artifact made by `iloc compile`. Every kernel comes
/// from the artifact's kernels.so (dlopen/dlsym): no LLVM is initialized and nothing is
/// JIT-compiled. With the same flags and seed the outputs equal `iloc invert`'s bit for bit
/// (for an artifact built for this machine's CPU).
struct RunCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "run",
    abstract: "Run an inversion from an artifact made by `iloc compile`, with no compiler at run time.",
    discussion: """
      Checks the artifact first (with --trusted-key its signature, before anything else; then \
      the format version, that every file it lists is a regular file inside the artifact \
      directory with the recorded size and SHA-256, the CPU features it was built for), then \
      writes the same files as `iloc invert`: result.png, strip.png, report.json, \
      state.safetensors. The task flags must describe the task it was compiled for.
        iloc run art/ --task inpaint --mask box:20,16,24,32 --observed holes.png -o out/
      """
  )

  @Argument(help: "The artifact directory written by `iloc compile`.")
  var artifact: String
  @OptionGroup var taskOptions: TaskOptions
  @Option(help: "The observation: a PNG (for cs-* tasks an image to measure, or a .safetensors written by `iloc degrade`).")
  var observed: String
  @Option(help: "The clean image, for metrics and the strip.")
  var groundTruth: String?
  @Option(help: "Random seed of the initial latents and noises (default: the one compiled in).")
  var seed: UInt64?
  @Option(name: [.short, .customLong("output")], help: "Output directory.")
  var output: String
  @Option(help: """
    Accept only an artifact whose manifest is signed by this Ed25519 public key \
    (KEY.pub from `iloc keygen`); checked before any other file is read.
    """)
  var trustedKey: String?

  func run() throws {
    let start = DispatchTime.now().uptimeNanoseconds
    StopSignals.install()
    let dir = URL(fileURLWithPath: artifact, isDirectory: true)
    let key = try trustedKey.map { try Signing.TrustedKey(contentsOf: URL(fileURLWithPath: $0)) }
    let artifact = try Artifact.load(dir, trustedKey: key)
    let manifest = artifact.manifest
    guard taskOptions.task.rawValue == manifest.task else {
      throw ValidationFailure("artifact \(dir.lastPathComponent) was compiled for task \(manifest.task), not \(taskOptions.task.rawValue)")
    }
    var settings = manifest.runSettings
    if let s = seed { settings.seed = s }
    try settings.validateValues()
    // checked and locked before any work
    let out = try OutputDirectory(URL(fileURLWithPath: output, isDirectory: true))

    let generator = artifact.generator
    let size = generator.imageSize
    let (op, observation) = try makeObservation(observed, taskOptions: taskOptions, size: size, compatReference: settings.compatReference)
    let truth = try readGroundTruth(groundTruth, size: size)
    print("\(generator.description), task \(manifest.task), method \(settings.method.rawValue), artifact \(dir.lastPathComponent) (\(manifest.target.cpu), \(manifest.kernels.count) kernels); loss terms: \(manifest.lossTerms.joined(separator: ", "))")
    let problem = InversionProblem(generator: generator, forward: op, observation: observation, mask: op as? InpaintMask)
    let inverter = try Inverter(problem: problem, settings: settings, engine: .jit)
    try runAndWriteOutputs(
      inverter, to: out,
      RunDescription(model: manifest.model, task: taskOptions.task, engine: "aot", terms: manifest.lossTerms, truth: truth, lpipsNet: nil))
    let compilers = KernelCompiler.instancesCreated
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    // No KernelCompiler was created, so LLVM was never initialized and no JIT existed.
    print(String(format: "LLVM initialized: %@; %d kernels loaded from %@; total %.2f s",
                 compilers == 0 ? "no (nothing JIT-compiled)" : "yes (\(compilers) kernel compilers created)",
                 artifact.kernels.loadedCount, ArtifactManifest.kernelLibrary, seconds))
  }
}

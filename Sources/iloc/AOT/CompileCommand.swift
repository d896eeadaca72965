import ArgumentParser
import Codegen
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

    // The target: this machine (the JIT's own options, so objects equal the JIT's) or a named CPU.
    let compiler: KernelCompiler
    let required: [String]
    if let cpu = targetCPU {
      if let level = CPUFeatures.levels[cpu] {
        compiler = try KernelCompiler(options: CompilerOptions(cpu: cpu, features: targetFeatures ?? ""))
        required = (level + CPUFeatures.checkable(targetFeatures ?? "")).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.sorted()
      } else {
        guard let f = targetFeatures else {
          throw ValidationFailure("--target-cpu \(cpu): iloc knows the features of x86-64, x86-64-v2, x86-64-v3 and x86-64-v4 only; give the CPU's features with --target-features '+avx2,+fma,...'")
        }
        compiler = try KernelCompiler(options: CompilerOptions(cpu: cpu, features: f))
        required = CPUFeatures.checkable(f)
      }
    } else {
      compiler = Program.sharedCompiler
      required = CPUFeatures.checkable(compiler.features)
    }

    // Build every program `iloc invert` builds, recording their kernels (JIT-compiled here).
    let recorder = RecordingKernelProvider(base: Program.sharedCompiler)
    Program.defaultProvider = recorder
    let generator = try loadGenerator(model, fitSamples: inversion.fitSamples)
    settings = try inversion.settings(task: taskOptions.task, maxRounds: generator.maxRounds)
    let imageSize = generator.imageSize
    if let s = size, s != imageSize { throw ValidationFailure("--size \(s), but \(model) makes \(imageSize)x\(imageSize) images") }
    try settings.validate(maxRounds: generator.maxRounds)
    let example = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-compile-\(UUID().uuidString).png")
    defer { try? FileManager.default.removeItem(at: example) }
    try Self.writeExampleObservation(to: example, taskOptions: taskOptions, size: imageSize, compatReference: settings.compatReference)
    let (op, observation) = try makeObservation(example.path, taskOptions: taskOptions, size: imageSize, compatReference: settings.compatReference)
    _ = try NaiveReconstruction.compute(op, observation: observation, size: imageSize)
    let problem = InversionProblem(generator: generator, forward: op, observation: observation, mask: op as? InpaintMask)
    let rounds = settings.method == .ilo ? settings.rounds.count : 1
    var stages: [ArtifactManifest.ProgramRecord] = []
    for r in 0..<rounds {
      let stage = try StageProgram(problem: problem, round: r, settings: settings, engine: .jit)
      guard let p = stage.executable as? Program else { throw ValidationFailure("round \(r) did not compile to a program") }
      stages.append(.init(name: "round \(r)", graphNodes: stage.graph.nodes.count, layout: p.layout))
    }
    Program.defaultProvider = nil
    let kernels = recorder.kernels

    // Objects -> kernels.so; weights; manifest.
    let fm = FileManager.default
    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    let objects = fm.temporaryDirectory.appendingPathComponent("iloc-objects-\(UUID().uuidString)")
    defer { try? fm.removeItem(at: objects) }
    let files = try compiler.writeObjects(kernels, to: objects)
    let library = dir.appendingPathComponent(ArtifactManifest.kernelLibrary)
    try Self.link(files.map(\.path), to: library)
    let weights = dir.appendingPathComponent(ArtifactManifest.weightsFile)
    var tensors: [String: TensorData] = [:]
    for (k, t) in generator.stateDict.tensors where !t.dtype.isInteger { tensors[k] = TensorData(shape: t.shape, values: t.values) }
    var architecture = "dcgan"
    var lrMul: Float?
    if let sg = generator as? StyleGAN2Generator {
      architecture = "stylegan2"
      lrMul = sg.config.lrMul
      tensors[LatentProxy.meanKey] = TensorData(shape: [sg.proxy.mean.count], values: sg.proxy.mean)
      tensors[LatentProxy.stdKey] = TensorData(shape: [sg.proxy.std.count], values: sg.proxy.std)
    }
    try SafeTensorsFile(tensors: tensors, metadata: ["format": "iloc-artifact-weights"]).write(to: weights)

    let manifest = ArtifactManifest(
      ilocVersion: ILOC.configuration.version,
      target: .init(cpu: compiler.cpu, features: compiler.features, requiredFeatures: required, triple: compiler.targetTriple,
                    llvmVersion: compiler.llvmVersion, hostBuild: targetCPU == nil),
      model: model, architecture: architecture, modelDescription: generator.description, imageSize: imageSize, lrMul: lrMul,
      task: taskOptions.task.rawValue, operatorRecord: op.record, settings: settings,
      lossTerms: lossTermNames(inversion, generator: generator, perceptual: false),
      flags: Array(CommandLine.arguments.dropFirst()), kernels: files.map(\.symbol), stages: stages,
      files: [ArtifactManifest.kernelLibrary: try ArtifactManifest.record(library),
              ArtifactManifest.weightsFile: try ArtifactManifest.record(weights)])
    try manifest.write(to: dir, signingKey: signingKey)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let soBytes = manifest.files[ArtifactManifest.kernelLibrary]!.bytes
    print(String(format: "compiled %d kernels of %d programs for %@ (%@) into %@: %@ %.1f MB, %@, %@ in %.1f s",
                 files.count, rounds, compiler.cpu, targetCPU == nil ? "this machine" : "named target", dir.path,
                 ArtifactManifest.kernelLibrary, Double(soBytes) / 1e6, ArtifactManifest.weightsFile, ArtifactManifest.fileName, seconds))
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

  /// Links position-independent objects into a shared library with the system's C compiler
  /// driver (which runs the system linker).
  static func link(_ objects: [URL], to library: URL) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["cc", "-shared", "-Wl,-z,noexecstack", "-o", library.path] + objects.map(\.path)
    let err = Pipe()
    p.standardError = err
    do { try p.run() } catch { throw ValidationFailure("cannot run the linker (cc): \(error.localizedDescription)") }
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
      throw ValidationFailure("linking \(library.lastPathComponent) failed: \(text.split(separator: "\n").first ?? "cc exited with \(p.terminationStatus)")")
    }
  }
}

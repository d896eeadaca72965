import Codegen
import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime

/// Builds an ahead-of-time artifact (`iloc compile`): every program an inversion setup runs
/// is built exactly as `iloc invert` builds it while its kernels are recorded; the kernels are
/// compiled to objects for the target CPU and linked into kernels.so; the generator's weights
/// and the manifest (with per-file checksums, optionally signed) are written beside them.
public struct ArtifactBuilder {
  /// What the artifact is for: the `--model` name, the generator, the task, the settings, the
  /// loss terms and the command line (recorded in the manifest).
  public var model: String
  public var generator: InvertibleGenerator
  public var task: Task
  public var settings: InversionSettings
  public var lossTerms: [String]
  public var flags: [String]
  public var ilocVersion: String
  /// Target CPU (LLVM name) and features; nil: this machine's CPU (objects equal the JIT's).
  public var targetCPU: String?
  public var targetFeatures: String?

  public init(model: String, generator: InvertibleGenerator, task: Task, settings: InversionSettings,
              lossTerms: [String], flags: [String], ilocVersion: String, targetCPU: String?, targetFeatures: String?) {
    self.model = model; self.generator = generator; self.task = task; self.settings = settings
    self.lossTerms = lossTerms; self.flags = flags; self.ilocVersion = ilocVersion
    self.targetCPU = targetCPU; self.targetFeatures = targetFeatures
  }

  /// Builds into `dir`. `makeProblem` makes the example problem (operator and observation);
  /// it runs while kernels are recorded, so programs it builds (applying the operator) are
  /// part of the artifact. Returns the manifest written.
  public func build(into dir: URL, signingKey: Signing.SigningKey?, makeProblem: () throws -> InversionProblem) throws
    -> ArtifactManifest
  {
    if targetFeatures != nil && targetCPU == nil { throw ArtifactError("--target-features needs --target-cpu") }
    let (compiler, required) = try makeCompiler()
    let (problem, stages, kernels) = try recordPrograms(makeProblem)
    let fm = FileManager.default
    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
    let objects = fm.temporaryDirectory.appendingPathComponent("iloc-objects-\(UUID().uuidString)")
    defer { try? fm.removeItem(at: objects) }
    let files = try compiler.writeObjects(kernels, to: objects)
    var linked = files.map(\.path)
    // Host builds carry the own GEMM kernel and the choices made; other targets use OpenBLAS.
    let gemm = targetCPU == nil ? try GEMMRecord.make(router: GEMMRouter.forProvider(compiler), compiler: compiler) : nil
    for (symbol, data) in gemm?.objects ?? [] {
      let url = objects.appendingPathComponent(symbol + ".o")
      try data.write(to: url)
      linked.append(url)
    }
    let library = dir.appendingPathComponent(ArtifactManifest.kernelLibrary)
    try Self.link(linked, to: library)
    let (weights, w) = try writeWeights(to: dir.appendingPathComponent(ArtifactManifest.weightsFile))
    // A host build makes the JIT's objects: no --target-cpu and no ILOC_TARGET level.
    let hostBuild = targetCPU == nil && compiler.cpu == KernelCompiler.hostCPU
    let manifest = ArtifactManifest(
      ilocVersion: ilocVersion,
      target: .init(cpu: compiler.cpu, features: compiler.features, requiredFeatures: required,
                    triple: compiler.targetTriple, llvmVersion: compiler.llvmVersion, hostBuild: hostBuild),
      model: model, architecture: w.architecture, modelDescription: generator.description,
      imageSize: generator.imageSize, lrMul: w.lrMul, convClamp: w.convClamp, classIndex: w.classIndex,
      task: task.rawValue, operatorRecord: problem.forward.record,
      settings: settings, lossTerms: lossTerms, flags: flags, kernels: files.map(\.symbol), gemm: gemm?.0, stages: stages,
      files: [ArtifactManifest.kernelLibrary: try ArtifactManifest.record(library),
              ArtifactManifest.weightsFile: try ArtifactManifest.record(weights)])
    try manifest.write(to: dir, signingKey: signingKey)
    return manifest
  }

  /// The kernel compiler for the target and the CPU features (LLVM names) it requires.
  func makeCompiler() throws -> (KernelCompiler, [String]) {
    guard let cpu = targetCPU else {
      let c = Program.sharedCompiler
      return (c, CPUFeatures.checkable(c.features))
    }
    if let level = CPUFeatures.levels[cpu] {
      let c = try KernelCompiler(options: CompilerOptions(cpu: cpu, features: targetFeatures ?? ""))
      let all = level + CPUFeatures.checkable(targetFeatures ?? "")
      return (c, all.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.sorted())
    }
    guard let f = targetFeatures else {
      throw ArtifactError("--target-cpu \(cpu): iloc knows the features of x86-64, x86-64-v2, x86-64-v3 and x86-64-v4 "
                          + "only; give the CPU's features with --target-features '+avx2,+fma,...'")
    }
    return (try KernelCompiler(options: CompilerOptions(cpu: cpu, features: f)), CPUFeatures.checkable(f))
  }

  /// Builds every program `iloc invert` builds for the setup (the example problem, the naive
  /// reconstruction, the data-consistency step, each round's stage program) with their kernels recorded.
  func recordPrograms(_ makeProblem: () throws -> InversionProblem) throws
    -> (InversionProblem, [ArtifactManifest.ProgramRecord], [Kernel])
  {
    let recorder = RecordingKernelProvider(base: Program.sharedCompiler)
    Program.defaultProvider = recorder
    defer { Program.defaultProvider = nil }
    let problem = try makeProblem()
    _ = try NaiveReconstruction.compute(problem.forward, observation: problem.observation, size: generator.imageSize)
    if settings.consistencyApplies(to: problem.forward.task) {
      _ = try DataConsistency(problem.forward, observation: problem.observation, size: generator.imageSize)
    }
    let rounds = settings.method == .ilo ? settings.rounds.count : 1
    var stages: [ArtifactManifest.ProgramRecord] = []
    for r in 0..<rounds {
      let stage = try StageProgram(problem: problem, round: r, settings: settings, engine: .jit)
      guard let p = stage.executable as? Program else { throw ArtifactError("round \(r) did not compile to a program") }
      stages.append(.init(name: "round \(r)", graphNodes: stage.graph.nodes.count, layout: p.layout))
    }
    return (problem, stages, recorder.kernels)
  }

  /// What the manifest records of the generator beside its weights.
  struct GeneratorFacts {
    var architecture = "dcgan"
    var lrMul: Float?, convClamp: Float?, classIndex: Int?
  }

  /// The generator's float tensors (with the StyleGAN2 latent proxy), and its architecture name,
  /// mapping learning-rate multiplier, `conv_clamp` and class (conditional models).
  func writeWeights(to url: URL) throws -> (URL, GeneratorFacts) {
    var tensors: [String: TensorData] = [:]
    for (k, t) in generator.stateDict.tensors where !t.dtype.isInteger {
      tensors[k] = TensorData(shape: t.shape, values: t.values)
    }
    var facts = GeneratorFacts()
    if let sg = generator as? StyleGAN2Generator {
      facts = GeneratorFacts(architecture: "stylegan2", lrMul: sg.config.lrMul, convClamp: sg.config.convClamp,
                             classIndex: sg.checkpoint.classIndex)
      tensors[LatentProxy.meanKey] = TensorData(shape: [sg.proxy.mean.count], values: sg.proxy.mean)
      tensors[LatentProxy.stdKey] = TensorData(shape: [sg.proxy.std.count], values: sg.proxy.std)
    }
    try SafeTensorsFile(tensors: tensors, metadata: ["format": "iloc-artifact-weights"]).write(to: url)
    return (url, facts)
  }

  /// Links position-independent objects into a shared library with the system's C compiler
  /// driver (which runs the system linker).
  static func link(_ objects: [URL], to library: URL) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["cc", "-shared", "-Wl,-z,noexecstack", "-o", library.path] + objects.map(\.path)
    let err = Pipe()
    p.standardError = err
    do { try p.run() } catch { throw ArtifactError("cannot run the linker (cc): \(error.localizedDescription)") }
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
      let first = text.split(separator: "\n").first.map(String.init) ?? "cc exited with \(p.terminationStatus)"
      throw ArtifactError("linking \(library.lastPathComponent) failed: \(first)")
    }
  }
}

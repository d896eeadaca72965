import ArgumentParser
import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime

/// `iloc invert`: recover an image from a degraded observation by ILO (or a baseline).
struct InvertCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "invert",
    abstract: "Recover a clean image from a damaged observation by Intermediate Layer Optimization.",
    discussion: """
      Writes into the output directory: result.png, strip.png (ground truth | observation |
      result after each round), report.json (per round: steps, time, compile ms, loss terms,
      MSE/PSNR/SSIM) and state.safetensors (re-render it with `iloc render`).
      Examples:
        iloc invert --task inpaint --model dcgan --observed holes.png --mask black -o out/
        iloc invert --task superres --factor 4 --model dcgan --observed small.png --ground-truth face.png -o out/
        iloc invert --task cs-gaussian --measurements 0.1 --model G.pt --observed face.png -o out/ --method csgm
      Ctrl-C stops after the current step and writes the best result so far.
      """
  )

  @OptionGroup var taskOptions: TaskOptions
  @Option(help: "Generator: a StyleGAN2 or DCGAN checkpoint, or a shipped model name (dcgan).")
  var model = "dcgan"
  @Option(help: "The observation: a PNG (for cs-* tasks an image to measure, or a .safetensors written by `iloc degrade`).")
  var observed: String
  @Option(help: "The clean image, for metrics and the strip.")
  var groundTruth: String?
  @Option(name: [.short, .customLong("output")], help: "Output directory.")
  var output: String
  @Option(help: "Method: ilo, csgm (latent-only Adam) or pulse (latent-only, sphere, GeoCross, one-cycle).")
  var method: Method = .ilo
  @Option(help: "Steps per round, comma separated (one round per value).")
  var steps = "50,50,25,25"
  @Flag(help: "Switch layers when the loss flattens instead of after fixed step counts (--steps gives each round's maximum).")
  var auto = false
  @Option(help: "Flattening: relative improvement threshold over the window.")
  var flatThreshold = 1e-3
  @Option(help: "Flattening: window in steps.")
  var flatWindow = 10
  @Option(help: "Learning-rate schedule: ilo (ramp), pulse (one-cycle) or constant; default: the method's own.")
  var schedule: LearningRateSchedule?
  @Option(help: "Base learning rate per round (one value or one per round).")
  var lr = "0.1"
  @Option(help: "Weight of the MSE term.") var mse: Float = 1
  @Option(help: "Weight of the LPIPS term (needs --lpips-backbone).") var lpips: Float = 0
  @Option(help: "Weight of GeoCross.") var geocross: Float = 0.01
  @Option(help: "Weight of the dead-zone L1 term.") var deadZone: Float = 0
  @Option(help: "l1-ball radius around each round's start for h (one or one per round).") var radiusState: String?
  @Option(help: "l1-ball radius for the latents.") var radiusLatent: String?
  @Option(help: "l1-ball radius for the noises.") var radiusNoise: String?
  @Flag(help: "Disable the sphere projection of latents and noises.") var noProject = false
  @Option(help: "Random seed of the initial latents and noises.") var seed: UInt64 = 42
  @Option(help: "'reference' reproduces the published code's behaviour (skip dropped, GeoCross only in round 0, BDS(1) filter).")
  var compat: String?
  @Option(help: "torchvision VGG16 weights (vgg16-397923af.pth) for the LPIPS loss and metric.")
  var lpipsBackbone: String?
  @Option(help: "CSGM: weight of ||z||^2.") var latentPrior: Float = 0
  @Option(help: "Random restarts of the first round (the lowest data loss is carried on).") var restarts = 1
  @Option(help: "StyleGAN2: samples for fitting the latent proxy when the model file has none.") var fitSamples = 20000
  @OptionGroup var engineOptions: EngineOptions

  func parseList<T>(_ s: String, _ name: String, _ f: (Substring) -> T?) throws -> [T] {
    let v = s.split(separator: ",").map { f($0.trimmingCharacters(in: .whitespaces)[...]) }
    guard !v.isEmpty, v.allSatisfy({ $0 != nil }) else { throw ValidationError("\(name): cannot read '\(s)'") }
    return v.map { $0! }
  }

  func settings() throws -> InversionSettings {
    var s = InversionSettings()
    s.method = method
    let st = try parseList(steps, "--steps") { Int($0) }
    s.rounds = st.map { auto ? .auto(window: flatWindow, threshold: flatThreshold, minSteps: min(flatWindow, $0), maxSteps: $0) : .fixed($0) }
    if method != .ilo { s.rounds = [s.rounds[0]] }
    s.learningRates = try parseList(lr, "--lr") { Float($0) }
    s.lossWeights = [LossWeightsRecord(mse: mse, lpips: lpips, geoCross: method == .csgm ? 0 : geocross, deadZone: deadZone)]
    s.sphereProjection = !noProject
    s.radiusState = try radiusState.map { try parseList($0, "--radius-state") { Float($0) } }
    s.radiusLatent = try radiusLatent.map { try parseList($0, "--radius-latent") { Float($0) } }
    s.radiusNoise = try radiusNoise.map { try parseList($0, "--radius-noise") { Float($0) } }
    s.seed = seed
    if let c = compat { guard c == "reference" else { throw ValidationError("--compat takes 'reference'") }; s.compatReference = true }
    s.latentPrior = latentPrior
    s.schedule = schedule
    s.restarts = restarts
    return s
  }

  func run() throws {
    let settings = try settings()
    let out = URL(fileURLWithPath: output, isDirectory: true)
    let generator = try loadGenerator(model, fitSamples: fitSamples)
    let size = generator.imageSize
    try settings.validate(maxRounds: generator.maxRounds)

    // Observation and operator.
    var image: HostTensor<Float>?
    var observation: HostTensor<Float>
    let op: any ForwardOperator
    if observed.hasSuffix(".safetensors") {
      let f = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: observed))
      guard let t = f.tensors["observation"] else { throw ValidationFailure("\(observed): no 'observation' tensor") }
      observation = HostTensor(shape: t.shape, values: t.values)
      op = try taskOptions.makeOperator(size: size, observation: nil, compatReference: settings.compatReference)
    } else {
      let y = try ImageIO.readTensor(URL(fileURLWithPath: observed))
      image = y
      op = try taskOptions.makeOperator(size: size, observation: y, compatReference: settings.compatReference)
      let want = try op.outputShape(batch: 1, size: size)
      if want.count == 4 && want[1] == 3 {
        guard y.shape == want else {
          throw ValidationFailure("\(observed) is \(y.shape[3])x\(y.shape[2]) but \(taskOptions.task.rawValue) with this \(size)x\(size) model expects \(want[3])x\(want[2])")
        }
        observation = taskOptions.task == .inpaint ? try applyOperator(op, to: y) : y
      } else {
        guard y.shape == [1, 3, size, size] else {
          throw ValidationFailure("\(observed) is \(y.shape[3])x\(y.shape[2]); the image to measure must be \(size)x\(size)")
        }
        observation = try applyOperator(op, to: y)  // measure the given image
      }
    }
    let want = try op.outputShape(batch: 1, size: size)
    guard observation.shape == want else {
      throw ValidationFailure("the observation has shape \(observation.shape.shapeText), the operator produces \(want.shapeText)")
    }
    let truth = try groundTruth.map { try ImageIO.readTensor(URL(fileURLWithPath: $0)) }
    if let t = truth, t.shape != [1, 3, size, size] {
      throw ValidationFailure("\(groundTruth!) is \(t.shape[3])x\(t.shape[2]) but the model makes \(size)x\(size) images")
    }

    // Loss terms actually used.
    var perceptual: PerceptualLoss?
    if let bb = lpipsBackbone {
      let heads = try GeneratorCheckpointPaths.lpipsHeads()
      perceptual = PerceptualLoss(lpips: LPIPS(net: .vgg), weights: try LPIPS(net: .vgg).loadWeights(backbone: URL(fileURLWithPath: bb), heads: heads))
    }
    var terms = ["mse"]
    if lpips > 0 { if perceptual != nil { terms.append("lpips") } else { print("note: LPIPS term disabled: no VGG16 backbone weights (give --lpips-backbone PATH)") } }
    if geocross > 0 && method != .csgm && generator is StyleGAN2Generator { terms.append("geocross") }
    if deadZone > 0 { terms.append("dead-zone") }
    print("\(generator.description), task \(taskOptions.task.rawValue), method \(method.rawValue), engine \(engineOptions.engine.rawValue); loss terms: \(terms.joined(separator: ", "))")

    let problem = InversionProblem(generator: generator, forward: op, observation: observation, mask: op as? InpaintMask, perceptual: perceptual)
    if engineOptions.validate { try validateFirstSteps(problem, settings) }
    let inverter = try Inverter(problem: problem, settings: settings, engine: engineOptions.engine)
    let progress = ProgressPrinter()
    inverter.observer = progress
    signal(SIGINT) { _ in Inverter.interruptRequested.set() }
    let result = try inverter.run()
    signal(SIGINT, SIG_DFL)

    // Report and files, written to a temporary folder first and moved in at the end.
    let naive = try NaiveReconstruction.compute(op, observation: observation, size: size)
    var report = RunReport(model: model, modelDescription: generator.description, task: taskOptions.task.rawValue, method: method.rawValue,
                           engine: engineOptions.engine.rawValue, settings: settings, lossTerms: terms, rounds: result.rounds,
                           interrupted: result.interrupted)
    for (k, img) in result.roundImages.enumerated() {
      if let t = truth {
        report.rounds[k].metrics = try Scoring.image(img, against: t)
        if let p = perceptual { report.rounds[k].metrics["lpips"] = try Scoring.lpips(img, t, p) }
      }
    }
    report.final["measurement_mse"] = try Scoring.measurement(result.prediction, observation)
    if let t = truth {
      for (k, v) in try Scoring.image(result.image, against: t) { report.final[k] = v }
      for (k, v) in try Scoring.image(naive, against: t) { report.naive[k] = v }
      if let p = perceptual {
        report.final["lpips"] = try Scoring.lpips(result.image, t, p)
        report.naive["lpips"] = try Scoring.lpips(naive, t, p)
      } else {
        report.notes.append("LPIPS metric not computed: it needs trained VGG16 backbone weights (--lpips-backbone)")
      }
    }
    let fm = FileManager.default
    try fm.createDirectory(at: out, withIntermediateDirectories: true)
    let tmp = out.appendingPathComponent(".iloc-partial-\(ProcessInfo.processInfo.processIdentifier)")
    try? fm.removeItem(at: tmp)
    try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
    do {
      try ImageIO.writePNG(result.image, to: tmp.appendingPathComponent("result.png"))
      var tiles: [HostTensor<Float>] = []
      if let t = truth { tiles.append(t) }
      tiles.append(naive)
      tiles += result.roundImages
      try PNG.write(ImageIO.strip(tiles, size: size), to: tmp.appendingPathComponent("strip.png"))
      let meta = SavedState.Metadata(round: result.state.round, model: model, modelDescription: generator.description, settings: settings,
                                     operatorRecord: op.record, observationShape: observation.shape,
                                     lpipsNet: perceptual != nil && lpips > 0 ? "vgg" : nil)
      var stateValues = result.state.values
      if let sg = generator as? StyleGAN2Generator {  // the proxy is part of the model the state was found for
        stateValues[LatentProxy.meanKey] = HostTensor(shape: [sg.proxy.mean.count], values: sg.proxy.mean)
        stateValues[LatentProxy.stdKey] = HostTensor(shape: [sg.proxy.std.count], values: sg.proxy.std)
      }
      try SavedState(metadata: meta, values: stateValues).write(to: tmp.appendingPathComponent("state.safetensors"))
      let enc = JSONEncoder()
      enc.outputFormatting = [.prettyPrinted, .sortedKeys]
      enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
      try enc.encode(report).write(to: tmp.appendingPathComponent("report.json"))
      for name in ["result.png", "strip.png", "state.safetensors", "report.json"] {
        let dst = out.appendingPathComponent(name)
        try? fm.removeItem(at: dst)
        try fm.moveItem(at: tmp.appendingPathComponent(name), to: dst)
      }
      try? fm.removeItem(at: tmp)
    } catch {
      try? fm.removeItem(at: tmp)
      throw error
    }
    var summary = "wrote \(out.path)/{result.png, strip.png, report.json, state.safetensors}"
    if let p = report.final["psnr"], let q = report.naive["psnr"] { summary += String(format: "; PSNR %.2f dB (naive %.2f dB), SSIM %.3f", p, q, report.final["ssim"]!) }
    print(summary)
    if result.interrupted { print("interrupted: wrote the best result so far"); throw ExitCode(130) }
  }

  /// `--validate`: the first steps' losses on both engines.
  func validateFirstSteps(_ problem: InversionProblem, _ settings: InversionSettings) throws {
    var s = settings
    s.rounds = [.fixed(3)]
    s.method = .ilo
    var losses: [Engine: [Float]] = [:]
    for e in Engine.allCases {
      let recorder = LossRecorder()
      let inv = try Inverter(problem: problem, settings: s, engine: e)
      inv.observer = recorder
      _ = try inv.run()
      losses[e] = recorder.losses
    }
    let a = losses[.jit]!, b = losses[.interp]!
    let d = zip(a, b).map { Swift.abs($0 - $1) / Swift.max(Swift.abs($1), 1e-12) }.max() ?? 0
    print(String(format: "validate: first %d losses, jit vs interp, largest relative difference %.2e", a.count, d))
  }
}

/// The JSON report of a run.
struct RunReport: Encodable {
  var format = "iloc-report"
  var version = 1
  var model: String
  var modelDescription: String
  var task: String
  var method: String
  var engine: String
  var settings: InversionSettings
  var lossTerms: [String]
  var rounds: [RoundReport]
  var interrupted: Bool
  var final: [String: Double] = [:]
  var naive: [String: Double] = [:]
  var notes: [String] = []
}

final class LossRecorder: InversionObserver {
  var losses: [Float] = []
  func roundStarted(_ round: Int, of rounds: Int, program: StageProgram) {}
  func step(_ round: Int, _ step: Int, dataLoss: Float, objective: Float, stepsPerSecond: Double) { losses.append(objective) }
  func roundFinished(_ report: RoundReport, image: HostTensor<Float>) {}
}

/// A progress bar on a terminal; plain lines otherwise.
final class ProgressPrinter: InversionObserver {
  let tty = isatty(1) != 0
  var rounds = 0
  var total = 0
  func roundStarted(_ round: Int, of rounds: Int, program: StageProgram) {
    self.rounds = rounds
    let s = program.stats.map { String(format: "%d kernels, compiled in %.0f ms (%d cached)", $0.kernels, program.compileMilliseconds, $0.cacheHits) }
      ?? String(format: "interpreter, %.0f ms setup", program.compileMilliseconds)
    print("round \(round + 1)/\(rounds): \(program.variables.map(\.name).joined(separator: ", ")) - \(s)")
  }
  func step(_ round: Int, _ step: Int, dataLoss: Float, objective: Float, stepsPerSecond: Double) {
    let line = String(format: "round %d step %4d  loss %.5f  data %.5f  %.1f steps/s", round + 1, step + 1, objective, dataLoss, stepsPerSecond)
    if tty { print("\r" + line, terminator: ""); fflush(stdout) } else if step % 10 == 0 { print(line) }
  }
  func roundFinished(_ report: RoundReport, image: HostTensor<Float>) {
    if tty { print("") }
    print(String(format: "round %d done: %d steps in %.2f s, best data loss %.5f at step %d (%@)", report.round + 1, report.steps, report.seconds,
                 report.bestDataLoss, report.bestStep + 1, report.switchReason))
  }
}

/// Where the LPIPS v0.1 heads are found.
enum GeneratorCheckpointPaths {
  static func lpipsHeads() throws -> URL {
    let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
    var roots = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<4 { roots.append(dir); dir = dir.deletingLastPathComponent() }
    for r in roots {
      let u = r.appendingPathComponent("models/cache/lpips/v0.1/vgg.pth")
      if FileManager.default.fileExists(atPath: u.path) { return u }
    }
    throw ValidationFailure("LPIPS heads models/cache/lpips/v0.1/vgg.pth not found (run `bash models/fetch.sh`)")
  }
}

extension LearningRateSchedule: ExpressibleByArgument {}

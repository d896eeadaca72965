import Artifact
import ArgumentParser
import Batch
import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime

/// What every row of a shard shares: the generator (loaded once), the settings, the engine
/// and the compiled stage programs (one per setup; a row only rebinds its observation).
final class BatchSetup {
  let generator: InvertibleGenerator
  let settings: InversionSettings
  let engine: Engine
  /// How rows are reported: the model, the engine's name, the loss terms.
  let model: String, engineName: String, terms: [String]
  /// The task an artifact was compiled for (rows of other tasks fail).
  let artifactTask: String?
  let programs = StageProgramCache()
  /// The LPIPS loss and metric (`--lpips-backbone`), loaded once; its net's name when the loss uses it.
  let perceptual: PerceptualLoss?, lpipsNet: String?
  /// Whether each row gets its task's default validation split (`--validation` not given).
  let taskDefaultValidation: Bool
  let summary: String

  /// Loads `model` once and checks the shared flags.
  init(model: String, inversion: InversionOptions, engine: Engine) throws {
    try inversion.settings().validateValues()
    generator = try loadGenerator(model, fitSamples: inversion.fitSamples)
    // the rounds the generator has; the validation split is each row's task's default unless given
    let s = try inversion.settings(task: .inpaint, maxRounds: generator.maxRounds)
    try s.validate(maxRounds: generator.maxRounds)
    taskDefaultValidation = inversion.validation == nil
    settings = s; self.engine = engine; self.model = model; engineName = engine.rawValue; artifactTask = nil
    perceptual = try loadPerceptualLoss(inversion.lpipsBackbone)
    lpipsNet = inversion.lpips > 0 ? perceptual?.lpips.net.rawValue : nil
    terms = lossTermNames(inversion, generator: generator, perceptual: perceptual != nil)
    summary = "\(generator.description), method \(s.method.rawValue), engine \(engine.rawValue)"
  }

  /// Verifies an `iloc compile` artifact once and takes its kernels, weights and settings.
  init(artifact path: String, trustedKey: String?) throws {
    let dir = URL(fileURLWithPath: path, isDirectory: true)
    let key = try trustedKey.map { try Signing.TrustedKey(contentsOf: URL(fileURLWithPath: $0)) }
    let loaded = try Artifact.load(dir, trustedKey: key)
    generator = loaded.generator
    settings = loaded.manifest.runSettings
    engine = .jit; engineName = "aot"; model = loaded.manifest.model; terms = loaded.manifest.lossTerms
    artifactTask = loaded.manifest.task
    perceptual = nil; lpipsNet = nil
    taskDefaultValidation = false
    summary = "artifact \(dir.lastPathComponent) (\(loaded.manifest.target.cpu), task \(loaded.manifest.task)), "
      + "\(generator.description), method \(settings.method.rawValue)"
  }
}

/// How a row ended.
enum RowOutcome {
  case done(RowMarker)
  case failed(RowMarker)
  /// Stopped by a signal: nothing of the row was kept.
  case abandoned
}

/// Inverts one row into OUT/rows/ID/: the four files of `iloc invert` and the marker, as one
/// unit; or, when the row is bad, the marker alone with the error.
struct RowRunner {
  let row: BatchRow
  let setup: BatchSetup
  let layout: BatchLayout
  let shard: Shard

  func run() -> RowOutcome {
    let start = DispatchTime.now().uptimeNanoseconds
    let elapsed = { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
    var method = setup.settings.method.rawValue
    do {
      // locked before any work: a second process on this row fails here, not after the work
      let out = try OutputDirectory(layout.rowFolder(row.id))
      do {
        let (inverter, truth) = try prepare()
        method = inverter.settings.method.rawValue
        let result = try inverter.run()
        if result.interrupted { return .abandoned }
        return .done(try commit(inverter, result, truth: truth, to: out, seconds: elapsed()))
      } catch {
        let m = RowMarker(id: row.id, status: .failed, task: row.task, method: method, shard: shard.description,
                          seconds: elapsed(), error: Self.oneLine(error))
        try out.commit(last: BatchLayout.markerName) {
          try BatchLayout.writeJSON(m, to: $0.appendingPathComponent(BatchLayout.markerName))
        }
        return .failed(m)
      }
    } catch {
      // the row folder itself could not be used (locked by another process, not writable)
      return .failed(RowMarker(id: row.id, status: .failed, task: row.task, method: method, shard: shard.description,
                               seconds: elapsed(), error: Self.oneLine(error)))
    }
  }

  /// The row's inverter (sharing the setup's generator and programs) and its ground truth.
  func prepare() throws -> (Inverter, HostTensor<Float>?) {
    let taskOptions: TaskOptions
    do { taskOptions = try TaskOptions.parse(row.taskArguments) } catch {
      throw ValidationFailure(TaskOptions.message(for: error))
    }
    if let t = setup.artifactTask, t != row.task {
      throw ValidationFailure("the artifact was compiled for task \(t), not \(row.task)")
    }
    var settings = setup.settings
    if setup.taskDefaultValidation { settings.validation = InversionSettings.defaultValidation(for: taskOptions.task) }
    if let s = row.seed {
      guard let v = UInt64(s) else { throw ValidationFailure("seed '\(s)' is not a non-negative integer") }
      settings.seed = v
    }
    let size = setup.generator.imageSize
    let (op, observation) = try makeObservation(row.observed, taskOptions: taskOptions, size: size,
                                                compatReference: settings.compatReference)
    let truth = try readGroundTruth(row.groundTruth, size: size)
    let problem = InversionProblem(generator: setup.generator, forward: op, observation: observation,
                                   mask: op as? InpaintMask, perceptual: setup.perceptual)
    let inverter = try Inverter(problem: problem, settings: settings, engine: setup.engine)
    inverter.programs = setup.programs
    return (inverter, truth)
  }

  /// Writes the four files and the marker (last) into the row's folder as one unit.
  func commit(_ inverter: Inverter, _ result: InversionResult, truth: HostTensor<Float>?, to out: OutputDirectory,
              seconds: Double) throws -> RowMarker {
    let d = RunDescription(model: setup.model, task: inverter.problem.forward.task, engine: setup.engineName,
                           terms: setup.terms, truth: truth, lpipsNet: setup.lpipsNet)
    let naive = try NaiveReconstruction.compute(inverter.problem.forward, observation: inverter.problem.observation,
                                                size: inverter.problem.generator.imageSize)
    let report = try makeReport(inverter, result, naive: naive, d)
    let m = RowMarker(id: row.id, status: .done, task: row.task, method: inverter.settings.method.rawValue,
                      shard: shard.description, seconds: seconds, metrics: report.final, hasGroundTruth: truth != nil)
    try out.commit(last: BatchLayout.markerName) { dir in
      try writeResultSet(inverter, result, naive: naive, report: report, d, into: dir)
      try BatchLayout.writeJSON(m, to: dir.appendingPathComponent(BatchLayout.markerName))
    }
    return m
  }

  static func oneLine(_ error: Error) -> String {
    String(describing: error).split(whereSeparator: \.isNewline).joined(separator: " ")
  }
}

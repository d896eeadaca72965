import ArgumentParser
import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime

// The parts of an inversion run shared by `iloc invert` and `iloc run` (the ahead-of-time
// artifact): reading the observation, running the inverter, writing the four outputs.

/// The forward operator and the observation y for `observed` (a PNG, or a `.safetensors`
/// written by `iloc degrade`), checked against the operator's output shape.
func makeObservation(_ observed: String, taskOptions: TaskOptions, size: Int, compatReference: Bool) throws
  -> (op: any ForwardOperator, observation: HostTensor<Float>)
{
  var observation: HostTensor<Float>
  let op: any ForwardOperator
  if observed.hasSuffix(".safetensors") {
    let f = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: observed))
    guard let t = f.tensors["observation"] else { throw ValidationFailure("\(observed): no 'observation' tensor") }
    observation = HostTensor(shape: t.shape, values: t.values)
    op = try taskOptions.makeOperator(size: size, observation: nil, compatReference: compatReference)
  } else {
    let y = try taskOptions.readImage(observed)
    op = try taskOptions.makeOperator(size: size, observation: y, compatReference: compatReference)
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
  return (op, observation)
}

/// `--ground-truth`, checked against the model's image size.
func readGroundTruth(_ path: String?, size: Int) throws -> HostTensor<Float>? {
  let truth = try path.map { try ImageIO.readTensor(URL(fileURLWithPath: $0)) }
  if let t = truth, t.shape != [1, 3, size, size] {
    throw ValidationFailure("\(path!) is \(t.shape[3])x\(t.shape[2]) but the model makes \(size)x\(size) images")
  }
  return truth
}

/// The loss terms a run actually uses (printed and written to the report).
/// The LPIPS loss and metric of `--lpips-backbone PATH` (the net recognised by the file's keys,
/// with the fetched v0.1 heads), or nil without a backbone.
func loadPerceptualLoss(_ backbone: String?) throws -> PerceptualLoss? {
  guard let bb = backbone else { return nil }
  let lp = try LPIPS.detect(backbone: URL(fileURLWithPath: bb))
  let heads = try GeneratorCheckpointPaths.lpipsHeads(lp.net)
  return PerceptualLoss(lpips: lp, weights: try lp.loadWeights(backbone: URL(fileURLWithPath: bb), heads: heads))
}

func lossTermNames(_ o: InversionOptions, generator: InvertibleGenerator, perceptual: Bool) -> [String] {
  var terms = ["mse"]
  if o.lpips > 0 { if perceptual { terms.append("lpips") } else { print("note: LPIPS term disabled: no backbone weights (give --lpips-backbone PATH)") } }
  if o.geocross > 0 && o.method != .csgm && generator is StyleGAN2Generator { terms.append("geocross") }
  if o.deadZone > 0 { terms.append("dead-zone") }
  return terms
}

/// What the report and the saved state say about a run besides the inverter's own fields.
struct RunDescription {
  var model: String
  var task: Task
  var engine: String
  var terms: [String]
  var truth: HostTensor<Float>?
  var lpipsNet: String?
}

/// Runs `inverter` and writes result.png, strip.png, state.safetensors and report.json into
/// `out` as one unit (the report last). A stop signal (`StopSignals`, installed by the command
/// before any work) ends the optimization after the current step; the best result so far is
/// written and the process exits with 128 + the signal number.
func runAndWriteOutputs(_ inverter: Inverter, to out: OutputDirectory, _ d: RunDescription) throws {
  let progress = ProgressPrinter()  // the inverter holds its observer weakly
  inverter.observer = progress
  StopSignals.install()
  let result = try withExtendedLifetime(progress) { try inverter.run() }
  let naive = try NaiveReconstruction.compute(inverter.problem.forward, observation: inverter.problem.observation,
                                              size: inverter.problem.generator.imageSize)
  let report = try makeReport(inverter, result, naive: naive, d)
  try out.commit(last: "report.json") { dir in
    try writeResultSet(inverter, result, naive: naive, report: report, d, into: dir)
  }
  var summary = "wrote \(out.url.path)/{result.png, strip.png, report.json, state.safetensors}"
  if let p = report.final["psnr"], let q = report.naive["psnr"] {
    summary += String(format: "; PSNR %.2f dB (naive %.2f dB), SSIM %.3f", p, q, report.final["ssim"]!)
  }
  print(summary)
  print("result: \(result.selection)")
  if result.interrupted {
    let sig = StopSignals.received ?? SIGINT
    print("interrupted by \(StopSignals.name(sig)): wrote the best result so far")
    throw ExitCode(StopSignals.exitStatus(sig))
  }
}

/// The JSON report of a finished (or interrupted) run: settings, rounds and metrics.
func makeReport(_ inverter: Inverter, _ result: InversionResult, naive: HostTensor<Float>, _ d: RunDescription) throws
  -> RunReport
{
  let problem = inverter.problem, settings = inverter.settings
  var report = RunReport(model: d.model, modelDescription: problem.generator.description, task: d.task.rawValue,
                         method: settings.method.rawValue, engine: d.engine, settings: settings, lossTerms: d.terms,
                         rounds: result.rounds, interrupted: result.interrupted)
  if result.interrupted { report.signal = StopSignals.received.map(StopSignals.name) }
  report.selectedRound = result.selectedRound + 1
  report.selection = result.selection
  if !result.starts.isEmpty { report.restarts = result.starts }
  report.consistency = result.consistency
  report.combinedRounds = result.combinedRounds.map { $0.map { $0 + 1 } }
  if !result.members.isEmpty { report.members = try memberReports(result, d, perceptual: problem.perceptual) }
  let perceptual = problem.perceptual
  if let t = d.truth {
    for (k, img) in result.roundImages.enumerated() {
      report.rounds[k].metrics = try Scoring.image(img, against: t)
      if let p = perceptual { report.rounds[k].metrics["lpips"] = try Scoring.lpips(img, t, p) }
    }
    for (k, img) in result.ensembleRoundImages.enumerated() where k < report.rounds.count {
      report.rounds[k].ensembleMetrics = try Scoring.image(img, against: t)
      if let p = perceptual { report.rounds[k].ensembleMetrics?["lpips"] = try Scoring.lpips(img, t, p) }
    }
  }
  report.final["measurement_mse"] = try Scoring.measurement(result.prediction, problem.observation)
  if let t = d.truth {
    for (k, v) in try Scoring.image(result.image, against: t) { report.final[k] = v }
    for (k, v) in try Scoring.image(naive, against: t) { report.naive[k] = v }
    if let g = result.generatorImage { report.generator = try Scoring.image(g, against: t) }
    if let p = perceptual {
      report.final["lpips"] = try Scoring.lpips(result.image, t, p)
      report.naive["lpips"] = try Scoring.lpips(naive, t, p)
      if let g = result.generatorImage { report.generator?["lpips"] = try Scoring.lpips(g, t, p) }
    } else {
      report.notes.append("LPIPS metric not computed: it needs trained backbone weights (--lpips-backbone)")
    }
  }
  return report
}

/// Each ensemble run's report, with its own image's metrics when the truth is known.
func memberReports(_ result: InversionResult, _ d: RunDescription, perceptual: PerceptualLoss?) throws -> [MemberReport] {
  var members = result.members
  guard let t = d.truth else { return members }
  for (k, img) in result.memberImages.enumerated() {
    members[k].metrics = try Scoring.image(img, against: t)
    if let p = perceptual { members[k].metrics["lpips"] = try Scoring.lpips(img, t, p) }
  }
  return members
}

/// Writes the four output files of a run into `dir` (a staging folder).
func writeResultSet(_ inverter: Inverter, _ result: InversionResult, naive: HostTensor<Float>, report: RunReport,
                    _ d: RunDescription, into dir: URL) throws {
  let problem = inverter.problem, generator = problem.generator, size = generator.imageSize
  try ImageIO.writePNG(result.image, to: dir.appendingPathComponent("result.png"))
  // the result last when it is none of the rounds (a mean of rounds or of runs)
  let answer = result.roundImages.contains { $0.values == result.image.values } ? [] : [result.image]
  let tiles = (d.truth.map { [$0] } ?? []) + [naive] + result.roundImages + answer
  try PNG.write(ImageIO.strip(tiles, size: size), to: dir.appendingPathComponent("strip.png"))
  let meta = SavedState.Metadata(round: result.state.round, model: d.model, modelDescription: generator.description,
                                 settings: inverter.settings, operatorRecord: problem.forward.record,
                                 observationShape: problem.observation.shape, lpipsNet: d.lpipsNet)
  var stateValues = result.state.values
  if let sg = generator as? StyleGAN2Generator {  // the proxy is part of the model the state was found for
    stateValues[LatentProxy.meanKey] = HostTensor(shape: [sg.proxy.mean.count], values: sg.proxy.mean)
    stateValues[LatentProxy.stdKey] = HostTensor(shape: [sg.proxy.std.count], values: sg.proxy.std)
  }
  try SavedState(metadata: meta, values: stateValues).write(to: dir.appendingPathComponent("state.safetensors"))
  try ReportJSON.encode(report).write(to: dir.appendingPathComponent("report.json"))
}

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
func lossTermNames(_ o: InversionOptions, generator: InvertibleGenerator, perceptual: Bool) -> [String] {
  var terms = ["mse"]
  if o.lpips > 0 { if perceptual { terms.append("lpips") } else { print("note: LPIPS term disabled: no VGG16 backbone weights (give --lpips-backbone PATH)") } }
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

/// Runs `inverter` (Ctrl-C stops after the current step) and writes result.png, strip.png,
/// report.json and state.safetensors into `out`, through a temporary folder moved in at the end.
func runAndWriteOutputs(_ inverter: Inverter, to out: URL, _ d: RunDescription) throws {
  let problem = inverter.problem, settings = inverter.settings, generator = problem.generator
  let op = problem.forward, observation = problem.observation, size = generator.imageSize
  let progress = ProgressPrinter()
  inverter.observer = progress
  signal(SIGINT) { _ in Inverter.interruptRequested.set() }
  let result = try inverter.run()
  signal(SIGINT, SIG_DFL)

  let naive = try NaiveReconstruction.compute(op, observation: observation, size: size)
  var report = RunReport(model: d.model, modelDescription: generator.description, task: d.task.rawValue, method: settings.method.rawValue,
                         engine: d.engine, settings: settings, lossTerms: d.terms, rounds: result.rounds,
                         interrupted: result.interrupted)
  let perceptual = problem.perceptual
  for (k, img) in result.roundImages.enumerated() {
    if let t = d.truth {
      report.rounds[k].metrics = try Scoring.image(img, against: t)
      if let p = perceptual { report.rounds[k].metrics["lpips"] = try Scoring.lpips(img, t, p) }
    }
  }
  report.final["measurement_mse"] = try Scoring.measurement(result.prediction, observation)
  if let t = d.truth {
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
    if let t = d.truth { tiles.append(t) }
    tiles.append(naive)
    tiles += result.roundImages
    try PNG.write(ImageIO.strip(tiles, size: size), to: tmp.appendingPathComponent("strip.png"))
    let meta = SavedState.Metadata(round: result.state.round, model: d.model, modelDescription: generator.description, settings: settings,
                                   operatorRecord: op.record, observationShape: observation.shape, lpipsNet: d.lpipsNet)
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

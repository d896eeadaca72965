import Foundation
import GraphIR
import Inversion
import Models
import Runtime

// A state file is user input: its metadata is checked field by field against the generator
// before anything is built or allocated from it (a round that does not exist, an operator for
// another image size, an observation shape that is negative or would take 100 GB, settings
// with no loss weights), and its tensors against the stage program they feed. Each problem is
// a one-line error that names the field.

extension SavedState {
  /// Checks the metadata against `generator` (see above); `render` calls it first.
  public func validate(for generator: InvertibleGenerator) throws {
    let m = metadata, size = generator.imageSize
    guard m.modelDescription == generator.description else {
      throw stateError("it was made with \(m.modelDescription), but the model is \(generator.description)")
    }
    do { try m.settings.validate(maxRounds: generator.maxRounds) } catch { throw stateError("settings: \(error)") }
    let rounds = m.settings.method == .ilo ? m.settings.rounds.count : 1
    guard m.round >= 0 && m.round < rounds else {
      throw stateError("round \(m.round) does not exist (the settings have \(rounds) round\(rounds == 1 ? "" : "s"))")
    }
    try checkOperatorRecord(m.operatorRecord, size: size)
    let op: any ForwardOperator
    do { op = try m.operatorRecord.makeOperator(imageSize: size) } catch { throw stateError("operator: \(error)") }
    let want: Shape
    do { want = try op.outputShape(batch: 1, size: size) } catch { throw stateError("operator: \(error)") }
    guard m.observationShape == want else {
      throw stateError("observationShape \(m.observationShape) is not the operator's output shape \(want) "
                       + "for \(size)x\(size) images")
    }
    if let name = m.lpipsNet, LPIPSNet(rawValue: name) == nil { throw stateError("unknown lpipsNet '\(name)'") }
    if let sg = generator as? StyleGAN2Generator { try checkProxy(sg) }
  }

  /// Checks that every input the stage program optimizes or holds fixed is in the state with
  /// exactly the program's shape (a missing tensor would otherwise render silently as zeros).
  func checkTensors(for stage: StageProgram) throws {
    for (name, shape) in stage.variables.map({ ($0.name, $0.shape) }) + stage.fixed.map({ ($0.name, $0.shape) }) {
      guard let v = values[name] else { throw stateError("tensor '\(name)' of round \(metadata.round) is missing") }
      guard v.shape == shape else {
        throw stateError("tensor '\(name)' has shape \(v.shape), round \(metadata.round) needs \(shape)")
      }
      guard v.values.allSatisfy(\.isFinite) else { throw stateError("tensor '\(name)' holds non-finite values") }
    }
  }

  /// The operator's parameters against the model's image size, before the operator (and its
  /// mask or matrix) is built: its dimensions are bounded by the model, not by the file.
  func checkOperatorRecord(_ r: OperatorRecord, size: Int) throws {
    guard r.format == "iloc-operator" && r.version == 1 else {
      throw stateError("operator: unsupported format \(r.format) version \(r.version)")
    }
    switch r.task {
    case .inpaint:
      guard let mask = r.mask else { throw stateError("operator: an inpaint operator needs a mask") }
      guard mask.height == size && mask.width == size && (mask.batch ?? 1) == 1 else {
        let dims = "\(mask.batch ?? 1)x\(mask.height)x\(mask.width)"
        throw stateError("operator: the mask is \(dims), the model makes \(size)x\(size) images")
      }
    case .csCirculant, .csGaussian:
      guard r.imageSize == size else {
        let measured = r.imageSize.map { "\($0)x\($0)" } ?? "no"
        throw stateError("operator: measures \(measured) images, the model makes \(size)x\(size)")
      }
      guard let n = r.measurements, n >= 1 && n <= 3 * size * size else {
        let got = r.measurements.map(String.init) ?? "none"
        throw stateError("operator: measurements must be in 1...\(3 * size * size), got \(got)")
      }
    case .superres:
      guard let f = r.factor, f >= 1 && f <= size else {
        throw stateError("operator: superres factor must be in 1...\(size)")
      }
    case .denoise, .colorize: break
    }
  }

  /// The latent proxy the state carries, against the generator's style dimension.
  func checkProxy(_ sg: StyleGAN2Generator) throws {
    let d = sg.config.styleDim
    for (key, v) in [(LatentProxy.meanKey, sg.proxy.mean), (LatentProxy.stdKey, sg.proxy.std)] {
      guard v.count == d else { throw stateError("'\(key)' has \(v.count) values, the model's latents have \(d)") }
      guard v.allSatisfy(\.isFinite) else { throw stateError("'\(key)' holds non-finite values") }
    }
    guard sg.proxy.std.allSatisfy({ $0 >= 0 }) else {
      throw stateError("'\(LatentProxy.stdKey)' holds negative values")
    }
  }

  func stateError(_ message: String) -> InversionError { InversionError("state file: \(message)") }
}

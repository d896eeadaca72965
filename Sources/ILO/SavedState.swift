import Foundation
import GraphIR
import Inversion
import Models
import Runtime

/// A saved inversion: the state tensors plus everything needed to rebuild the exact stage
/// program that produced the result, so `render` reproduces the image bit for bit.
public struct SavedState {
  public static let format = "iloc-state"
  public static let version = 1

  public struct Metadata: Codable {
    public var format = SavedState.format
    public var version = SavedState.version
    public var round: Int
    /// The generator checkpoint (as given on the command line) and its description.
    public var model: String
    public var modelDescription: String
    public var settings: InversionSettings
    public var operatorRecord: OperatorRecord
    public var observationShape: [Int]
    /// LPIPS backbone used in the loss of that round (nil when none).
    public var lpipsNet: String?
    public init(round: Int, model: String, modelDescription: String, settings: InversionSettings, operatorRecord: OperatorRecord,
                observationShape: [Int], lpipsNet: String?) {
      self.round = round; self.model = model; self.modelDescription = modelDescription; self.settings = settings
      self.operatorRecord = operatorRecord; self.observationShape = observationShape; self.lpipsNet = lpipsNet
    }
  }

  public var metadata: Metadata
  public var values: [String: HostTensor<Float>]

  public init(metadata: Metadata, values: [String: HostTensor<Float>]) { self.metadata = metadata; self.values = values }

  public func write(to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]  // same state, same bytes
    let json = String(decoding: try encoder.encode(metadata), as: UTF8.self)
    let file = SafeTensorsFile(tensors: values.mapValues { TensorData(shape: $0.shape, values: $0.values) }, metadata: ["iloc": json])
    try file.write(to: url)
  }

  public static func read(_ url: URL) throws -> SavedState {
    let file = try SafeTensorsFile(contentsOf: url)
    guard let json = file.metadata["iloc"], let data = json.data(using: .utf8) else {
      throw InversionError("\(url.lastPathComponent): not an iloc state file (no 'iloc' metadata)")
    }
    let meta: Metadata
    do { meta = try JSONDecoder().decode(Metadata.self, from: data) } catch {
      throw InversionError("\(url.lastPathComponent): unreadable iloc state metadata")
    }
    guard meta.format == format else { throw InversionError("\(url.lastPathComponent): not an iloc state file") }
    guard meta.version == version else { throw InversionError("\(url.lastPathComponent): state format version \(meta.version), this iloc reads \(version)") }
    return SavedState(metadata: meta, values: file.tensors.mapValues { HostTensor(shape: $0.shape, values: $0.values) })
  }

  /// Rebuilds round `metadata.round`'s stage program for `generator` and runs it once at the
  /// saved state; returns the image. The loss inputs do not influence the image. Every field
  /// and tensor is checked first (`validate(for:)`, `checkTensors(for:)`).
  public func render(generator: InvertibleGenerator, engine: Engine = .jit) throws -> HostTensor<Float> {
    try validate(for: generator)
    let op = try metadata.operatorRecord.makeOperator(imageSize: generator.imageSize)
    var perceptual: PerceptualLoss?
    if let name = metadata.lpipsNet, let net = LPIPSNet(rawValue: name) {
      // zero weights of the right shapes: only the graph's structure matters for the image
      let lp = LPIPS(net: net)
      var t: [String: TensorData] = [:]
      for (k, s) in net.backboneShapes + lp.headShapes { t[k] = TensorData(shape: s, values: [Float](repeating: 0, count: s.elementCount)) }
      perceptual = PerceptualLoss(lpips: lp, weights: StateDict(source: "render", tensors: t))
    }
    let obs = HostTensor<Float>(zeros: metadata.observationShape)
    let problem = InversionProblem(generator: generator, forward: op, observation: obs, mask: op as? InpaintMask, perceptual: perceptual)
    let stage = try StageProgram(problem: problem, round: metadata.round, settings: metadata.settings, engine: engine)
    try checkTensors(for: stage)
    for i in stage.graph.inputs where !i.name.hasPrefix("lpips.") && stage.graph.input(named: i.name) != nil {
      if let v = values[i.name] { try stage.executable.setInput(i.name, v.values) }
    }
    for ri in stage.runtimeInputs { try stage.executable.setInput(ri.name, [Float](repeating: 0, count: ri.shape.elementCount)) }
    try stage.executable.run()
    return try stage.executable.output("image")
  }
}

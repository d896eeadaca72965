import ArgumentParser
import Foundation
import GraphIR
import ILO
import Inversion
import Runtime

/// `iloc degrade`: make an observation from a clean image, for trying every task end to end.
struct DegradeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "degrade",
    abstract: "Make an observation (and its operator file) from a clean image.",
    discussion: """
      Image tasks write a PNG (inpaint: missing pixels black; superres: the bicubic-downsampled
      image; denoise: with added noise; colorize: grayscale). cs-* tasks write the measurements
      as .safetensors. --operator-out saves the operator (mask, seeds) for `iloc invert --operator-file`.
        iloc degrade --task inpaint --mask random:0.2 --input models/samples/face64.png -o holes.png --operator-out op.json
        iloc degrade --task superres --factor 4 --input face.png -o small.png
      """
  )
  @OptionGroup var taskOptions: TaskOptions
  @Option(help: "The clean image (PNG).") var input: String
  @Option(name: [.short, .customLong("output")], help: "Output file (.png, or .safetensors for cs-* tasks).") var output: String
  @Option(help: "Also write the operator description (JSON).") var operatorOut: String?

  func run() throws {
    for path in [output] + (operatorOut.map { [$0] } ?? []) { try OutputFile.checkWritable(URL(fileURLWithPath: path)) }
    let x = try taskOptions.readImage(input)
    guard x.shape[2] == x.shape[3] else { throw ValidationFailure("\(input) is \(x.shape[3])x\(x.shape[2]); images must be square") }
    let op = try taskOptions.makeOperator(size: x.shape[2], observation: x, compatReference: false)
    var y = try applyOperator(op, to: x)
    if op.task == .inpaint { y = HostTensor(shape: y.shape, values: zip(y.values, (op as! InpaintMask).values.count == y.count / 3 ? expandMask(op as! InpaintMask) : y.values.map { _ in 1 }).map { $1 > 0 ? $0 : -1 }) }
    if let path = operatorOut { try op.record.save(to: URL(fileURLWithPath: path)) }
    if output.hasSuffix(".safetensors") || y.shape.count != 4 || y.shape[1] != 3 {
      guard output.hasSuffix(".safetensors") else { throw ValidationFailure("task \(op.task.rawValue) produces measurements: give -o FILE.safetensors") }
      try SafeTensorsFile(tensors: ["observation": TensorData(shape: y.shape, values: y.values)]).write(to: URL(fileURLWithPath: output))
    } else {
      try ImageIO.writePNG(y, to: URL(fileURLWithPath: output))
    }
    print("\(op.task.rawValue): \(input) -> \(output) \(y.shape.shapeText)")
  }

  /// The [H*W] mask repeated over the three channels.
  func expandMask(_ m: InpaintMask) -> [Float] { m.values + m.values + m.values }
}

import ArgumentParser
import Foundation
import ILO
import Models
import Runtime

/// `iloc render`: re-render a saved inversion state: bit for bit the generator's image of the
/// run's (first run's) selected round, which is result.png itself unless the run averaged
/// runs or rounds or made the result data-consistent (then the command says so).
struct RenderCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "render",
    abstract: "Render the image of a saved inversion state (state.safetensors from `iloc invert`).",
    discussion: "  iloc render out/state.safetensors -o again.png"
  )
  @Argument(help: "A state file written by `iloc invert`.") var state: String
  @Option(name: [.short, .customLong("output")], help: "Output PNG.") var output: String
  @Option(help: "Generator (default: the one recorded in the state).") var model: String?
  @Option(help: "StyleGAN2: samples for fitting the latent proxy when the model file has none.") var fitSamples = 20000
  @OptionGroup var engineOptions: EngineOptions

  func run() throws {
    let out = URL(fileURLWithPath: output)
    try OutputFile.checkWritable(out)  // before any work
    let saved = try SavedState.read(URL(fileURLWithPath: state))
    // the state carries the latent proxy it was found with (a refit could differ)
    var proxy: LatentProxy?
    if let m = saved.values[LatentProxy.meanKey], let s = saved.values[LatentProxy.stdKey] { proxy = LatentProxy(mean: m.values, std: s.values) }
    let generator = try loadGenerator(model ?? saved.metadata.model, fitSamples: fitSamples, proxy: proxy)
    let image = try saved.render(generator: generator, engine: engineOptions.engine)
    try ImageIO.writePNG(image, to: out)
    print("rendered round \(saved.metadata.round + 1) of \(saved.metadata.modelDescription) -> \(output)")
    if let note = Self.postProcessingNote(saved.metadata) { print(note) }
  }

  /// What result.png has beyond the state's generator image, if anything.
  static func postProcessingNote(_ m: SavedState.Metadata) -> String? {
    let s = m.settings, task = m.operatorRecord.task
    var steps: [String] = []
    if s.ensembleSize(for: task) > 1 { steps.append("the mean of \(s.ensembleSize(for: task)) runs (this state is the first)") }
    if s.meanOfRoundsApplies(to: task) { steps.append("the mean of rounds \(s.meanFirstRound ?? InversionSettings.legacyMeanFirstRound) and later") }
    if s.consistencyApplies(to: task) { steps.append("made consistent with the observation") }
    guard !steps.isEmpty else { return nil }
    return "note: this is the generator's image; the run's result.png is " + steps.joined(separator: ", ")
      + " (iloc invert --ensemble 1 --mean-of-rounds off --consistency off returns the generator's image itself)"
  }
}

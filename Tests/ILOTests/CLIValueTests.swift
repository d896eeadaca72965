import Foundation
import Models
import Runtime
import Testing

/// Flag values and input files that used to trap, allocate without bound, or say the wrong
/// thing: each is one error line naming the problem, with a non-zero exit.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path), "skipped: the iloc executable is not built"))
struct CLIValueTests {
  let dir: URL
  let image: URL

  init() throws {
    dir = try CLITests.tempDir()
    image = dir.appendingPathComponent("x.png")
    try CLITests.png(64, at: image)
  }

  /// Runs `args` and expects a failure whose first (and, but for usage hints, only) stderr
  /// line contains `phrase`.
  func expectError(_ args: [String], _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try CLITests.run(args)
    #expect(r.status != 0, "exit 0 for \(args)", sourceLocation: sourceLocation)
    let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty }
    #expect(lines.first?.contains(phrase) == true, "stderr: \(r.stderr)", sourceLocation: sourceLocation)
    // ArgumentParser adds a usage hint to flag errors; our own errors are one line
    if !r.stderr.contains("Usage:") { #expect(lines.count == 1, "stderr: \(r.stderr)", sourceLocation: sourceLocation) }
  }

  func degrade(_ task: [String], output: String = "o.png") -> [String] {
    ["degrade"] + task + ["--input", image.path, "-o", dir.appendingPathComponent(output).path]
  }

  @Test func trappingValuesAreOneLineErrors() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try expectError(degrade(["--task", "inpaint", "--mask", "box:9223372036854775807,1,1,1"]), "does not fit in 64x64")
    try expectError(degrade(["--task", "cs-circulant", "--measurements", "inf"], output: "o.safetensors"),
                    "cs-circulant: measurements must be a count in 1...12288")
    let op = dir.appendingPathComponent("op.json")
    let record = #"{"format":"iloc-operator","version":1,"task":"inpaint","mask":"#
      + #"{"kind":"random","height":2147483648,"width":64,"keepProbability":0.5,"seed":1}}"#
    try record.write(to: op, atomically: true, encoding: .utf8)
    try expectError(degrade(["--task", "inpaint", "--operator-file", op.path]),
                    "operator file: the mask is 2147483648x64 but the images are 64x64")
  }

  @Test func messagesNameTheRightThing() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    try expectError(degrade(["--task", "cs-gaussian", "--measurements", "1e9"], output: "o.safetensors"), "Error: cs-gaussian: ")
    try expectError(degrade(["--task", "superres", "--factor", "3"]),
                    "Error: superres: image size 64 is not a multiple of the factor 3")
    try expectError(degrade(["--task", "denoise", "--sigma", "1e30"]), "denoise: sigma must be in [0, 10]")
    try expectError(degrade(["--task", "denoise", "--sigma", "-1"]), "denoise: sigma must be in [0, 10]")
  }

  @Test func negativeLearningRateIsOutOfRangeNotMissing() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let m = try DCGAN(latentDim: 4, channels: [8, 4, 4, 2, 3])
    var t: [String: TensorData] = [:]
    for (k, s) in m.weightShapes { t[k] = TensorData(shape: s, values: [Float](repeating: 0.1, count: s.elementCount)) }
    let model = dir.appendingPathComponent("tiny.safetensors")
    try SafeTensorsFile(tensors: t).write(to: model)
    try expectError(["invert", "--model", model.path, "--task", "inpaint", "--mask", "random:0.5", "--observed", image.path,
                     "--lr", "-1", "-o", dir.appendingPathComponent("out").path], "--lr must be positive and finite, got -1")
    for (value, shown) in [("-1", "-1.0"), ("nan", "nan"), ("inf", "inf")] {
      try expectError(["invert", "--model", model.path, "--task", "denoise", "--sigma", "0.1", "--observed", image.path,
                       "--last-round-radius", value, "-o", dir.appendingPathComponent("out").path],
                      "--last-round-radius must be finite and non-negative, got \(shown)")
    }
    try expectError(["invert", "--model", model.path, "--task", "denoise", "--sigma", "0.1", "--observed", image.path,
                     "--last-round-radius", "0.01", "--radius-state", "10", "-o", dir.appendingPathComponent("out").path],
                    "--radius-state and --last-round-radius both set the last round's ball")
    let meanOfRounds = ["invert", "--model", model.path, "--task", "inpaint", "--mask", "random:0.5", "--observed", image.path,
                    "--mean-of-rounds", "on", "--steps", "1,1,1", "-o", dir.appendingPathComponent("out").path]
    try expectError(meanOfRounds + ["--mean-from-round", "0"], "--mean-from-round must be at least 1, got 0")
    try expectError(meanOfRounds + ["--mean-from-round", "3"],
                    "--mean-from-round must leave at least two rounds to average (1...2), got 3")
  }

  @Test func inpaintSaysWhichMaskItUses() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let r = try CLITests.run(degrade(["--task", "inpaint"]))
    #expect(r.status == 0, "stderr: \(r.stderr)")
    #expect(r.stdout.contains("no --mask given: using --mask black"), "stdout: \(r.stdout)")
    let help = try CLITests.run(["degrade", "--help"])
    #expect(help.stdout.replacingOccurrences(of: "\n", with: " ").contains("Default: black"), "\(help.stdout)")
  }

  @Test func imagesOverThePixelLimitAreRefused() throws {
    defer { try? FileManager.default.removeItem(at: dir) }
    let task = ["--task", "superres", "--factor", "2"]
    try expectError(degrade(task + ["--max-pixels", "4095"]), "x.png: 64x64 is over the limit of 4095 pixels")
    try expectError(degrade(task + ["--max-pixels", "0"]), "--max-pixels must be in 1...")
    let r = try CLITests.run(degrade(task + ["--max-pixels", "4096"]))
    #expect(r.status == 0, "stderr: \(r.stderr)")
  }
}

import Foundation
import GraphIR
import ILO
import Inversion
import Models
import Runtime

enum TestModels {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  static var dcganURL: URL? {
    let u = root.appendingPathComponent("models/cache/gan_face_generate/weights.tar")
    return FileManager.default.fileExists(atPath: u.path) ? u : nil
  }
  static func dcgan() throws -> DCGANGenerator { DCGANGenerator(checkpoint: try DCGANCheckpoint(contentsOf: dcganURL!)) }

  /// The tiny random-weight StyleGAN2 of the model fixtures (size 32).
  static func styleGAN2() throws -> StyleGAN2Generator {
    let url = root.appendingPathComponent("Tests/ModelsTests/Fixtures/stylegan2/stylegan2_s32.pt")
    let c = try StyleGAN2Checkpoint(contentsOf: url)
    return StyleGAN2Generator(checkpoint: c, proxy: try LatentProxyFit.fit(c, samples: 2000, seed: 0, batch: 500).proxy)
  }

  /// A generator-made image: round 0's image at the initial inputs of `seed`.
  static func sample(_ g: InvertibleGenerator, seed: UInt64) throws -> HostTensor<Float> {
    let graph = Graph("sample")
    let rg = try g.buildRound(0, in: graph, keepSkip: true)
    graph.output("image", rg.image)
    var feed = try rg.weights.bind(g.stateDict)
    for (k, v) in g.initialInputs(seed: seed) where graph.input(named: k) != nil {
      feed[k] = HostTensor(shape: graph.input(named: k)!.shape, values: v)
    }
    return try Program(graph).run(inputs: feed)["image"]!
  }

  static let iloc = root.appendingPathComponent(".build/debug/iloc")
}

/// Runs the `iloc` executable and captures its exit status and output (through files, so a
/// chatty process cannot block on a full pipe).
func runProcess(_ binary: URL, _ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
  let p = Process()
  p.executableURL = binary
  p.arguments = args
  let d = FileManager.default.temporaryDirectory
  let out = d.appendingPathComponent("iloc-out-\(UUID().uuidString)"), err = d.appendingPathComponent("iloc-err-\(UUID().uuidString)")
  FileManager.default.createFile(atPath: out.path, contents: nil)
  FileManager.default.createFile(atPath: err.path, contents: nil)
  defer { try? FileManager.default.removeItem(at: out); try? FileManager.default.removeItem(at: err) }
  p.standardOutput = try FileHandle(forWritingTo: out)
  p.standardError = try FileHandle(forWritingTo: err)
  try p.run()
  p.waitUntilExit()
  return (p.terminationStatus, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
}

import Foundation
import GraphIR
import Numerics
import Runtime
import Testing

/// Fixture access and comparisons shared by the model tests.
enum Fixtures {
  static let directory: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

  static func url(_ path: String) -> URL { directory.appendingPathComponent(path) }

  /// The tensors of a golden safetensors file.
  static func golden(_ path: String) throws -> [String: HostTensor<Float>] {
    let file = try SafeTensorsFile(contentsOf: url(path))
    return file.tensors.mapValues { HostTensor(shape: $0.shape, values: $0.values) }
  }

  /// The package's `models/cache` (filled by `bash models/fetch.sh`), or `$ILOC_REAL_WEIGHTS_DIR`.
  static let modelCache: URL = {
    if let dir = ProcessInfo.processInfo.environment["ILOC_REAL_WEIGHTS_DIR"], !dir.isEmpty {
      return URL(fileURLWithPath: dir)
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("models/cache")
  }()

  static func cached(_ name: String) -> URL? {
    let u = modelCache.appendingPathComponent(name)
    return FileManager.default.fileExists(atPath: u.path) ? u : nil
  }

  /// A fresh temporary directory for files a test writes.
  static func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-models-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }
}

/// `max |a − ref| / max |ref|` must be below `tol` (1e-4 by default), reported with `name`.
func expectClose(_ a: HostTensor<Float>?, _ ref: HostTensor<Float>?, _ name: String, tol: Float = 1e-4,
                 sourceLocation: SourceLocation = #_sourceLocation) {
  guard let a, let ref else {
    Issue.record("\(name): missing (\(a == nil ? "result" : "golden"))", sourceLocation: sourceLocation)
    return
  }
  guard a.shape == ref.shape else {
    Issue.record("\(name): shape \(a.shape) vs golden \(ref.shape)", sourceLocation: sourceLocation)
    return
  }
  let d = a.maxRelativeDifference(to: ref)
  #expect(d < tol, "\(name): relative difference \(d)", sourceLocation: sourceLocation)
}

/// Times `body`, printing the duration with `label` (tests report their debug-build cost).
func timed<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
  let t0 = Date()
  defer { print(String(format: "[timing] %@: %.2f s", label, Date().timeIntervalSince(t0))) }
  return try body()
}

/// Runs a graph on the chosen engine: the reference interpreter or the compiled program.
func runGraph(_ engine: Engine, _ graph: Graph, inputs: [String: HostTensor<Float>], outputs: [String]? = nil) throws -> [String: HostTensor<Float>] {
  switch engine {
  case .interp: return try Interpreter.run(graph, inputs: inputs, outputs: outputs)
  case .jit: return try Program(graph).run(inputs: inputs, outputs: outputs)
  }
}

/// Runs `body`, expecting an error whose one-line description contains every fragment.
func expectError(_ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
  do {
    try body()
    Issue.record("no error thrown; expected \(fragments)", sourceLocation: sourceLocation)
  } catch {
    let text = "\(error)"
    print("[error line] \(text)")
    #expect(!text.contains("\n"), "not one line: \(text)", sourceLocation: sourceLocation)
    for f in fragments { #expect(text.contains(f), "'\(text)' lacks '\(f)'", sourceLocation: sourceLocation) }
  }
}

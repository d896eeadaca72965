import Foundation

/// An `iloc` child process with extra environment variables (`ILOC_THREADS`,
/// `ILOC_CACHE_DIR`, ...): started at once, stdout discarded, stderr kept for `wait()`.
final class ILOCProcess {
  private let process = Process()
  private let stderrFile: URL

  init(_ args: [String], environment: [String: String]) throws {
    process.executableURL = TestModels.iloc
    process.arguments = args
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    stderrFile = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-err-\(UUID().uuidString)")
    FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
    process.standardError = try FileHandle(forWritingTo: stderrFile)
    process.standardOutput = FileHandle.nullDevice
    try process.run()
  }

  /// Waits for the exit; returns the status and everything written to stderr.
  func wait() throws -> (status: Int32, stderr: String) {
    process.waitUntilExit()
    defer { try? FileManager.default.removeItem(at: stderrFile) }
    return (process.terminationStatus, try String(contentsOf: stderrFile, encoding: .utf8))
  }

  /// Runs to the end.
  static func run(_ args: [String], environment: [String: String]) throws -> (status: Int32, stderr: String) {
    try ILOCProcess(args, environment: environment).wait()
  }
}

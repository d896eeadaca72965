import Foundation
import Testing

/// The same `iloc invert` gives the same bits whatever `ILOC_THREADS` says: kernels and GEMMs
/// cut their work into a partition fixed by its size, never by the thread count.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path) && TestModels.dcganURL != nil,
                "skipped: needs the iloc executable and the DCGAN weights (bash models/fetch.sh)"))
struct ThreadCountTests {
  /// Compressed sensing with 400 Gaussian measurements: its adjoint is a 1x12288x400 product,
  /// the shape where OpenBLAS's own threading gave different bits with 1 and 2 threads.
  @Test func invertGivesTheSameBitsWith1_2_3And5Threads() throws {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-threads-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: d) }
    let face = TestModels.root.appendingPathComponent("models/samples/face64.png").path
    var outputs: [Int: [Data]] = [:]
    for threads in [1, 2, 3, 5] {
      let out = d.appendingPathComponent("out\(threads)")
      let r = try ILOCProcess.run(["invert", "--model", "dcgan", "--task", "cs-gaussian", "--measurements", "400",
                                   "--observed", face, "--steps", "3", "-o", out.path],
                                  environment: ["ILOC_THREADS": "\(threads)",
                                                "ILOC_CACHE_DIR": d.appendingPathComponent("kernels").path])
      #expect(r.status == 0, "ILOC_THREADS=\(threads): \(r.stderr)")
      outputs[threads] = try ["result.png", "state.safetensors"].map {
        try Data(contentsOf: out.appendingPathComponent($0))
      }
    }
    for threads in [2, 3, 5] {
      #expect(outputs[threads]![0] == outputs[1]![0], "result.png differs between 1 and \(threads) threads")
      #expect(outputs[threads]![1] == outputs[1]![1], "state.safetensors differs between 1 and \(threads) threads")
    }
  }
}

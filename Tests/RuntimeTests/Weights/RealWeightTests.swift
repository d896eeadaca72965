import Foundation
import Testing

@testable import Runtime

/// The real checkpoints iloc ships or uses (the `gan-face-generate` DCGAN, LPIPS v0.1 linear
/// layers), when present: in `$ILOC_REAL_WEIGHTS_DIR`, else in `models/cache/` of the package
/// (where the fetch script puts them). Skipped otherwise. The truth (`real_expected.json`:
/// shapes, dtypes, float64 sums and first values) was recorded with torch by the fixture script.
@Suite struct RealWeightTests {
  static let directory: URL = {
    if let dir = ProcessInfo.processInfo.environment["ILOC_REAL_WEIGHTS_DIR"], !dir.isEmpty {
      return URL(fileURLWithPath: dir)
    }
    return URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("models/cache")
  }()

  static func exists(_ name: String) -> Bool {
    FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path)
  }

  /// Loads `name` and compares every tensor with the recorded torch truth.
  func check(_ name: String) throws -> StateDict {
    let data = try Data(contentsOf: WeightFixtures.url("real_expected.json"))
    let all = try JSONSerialization.jsonObject(with: data) as! [String: [String: [String: Any]]]
    let truth = all[name]!
    let state = try loadStateDict(Self.directory.appendingPathComponent(name))
    #expect(Set(state.keys) == Set(truth.keys))
    for (key, entry) in truth {
      guard let tensor = state[key] else { continue }
      #expect(tensor.shape == (entry["shape"] as! [NSNumber]).map(\.intValue), "\(key)")
      #expect(tensor.dtype.rawValue == entry["dtype"] as! String, "\(key)")
      let sum = tensor.values.reduce(0.0) { $0 + Double($1) }
      let expectedSum = (entry["sum"] as! NSNumber).doubleValue
      #expect(abs(sum - expectedSum) <= 1e-6 * max(1, abs(expectedSum)), "\(key): \(sum) vs \(expectedSum)")
      let first = (entry["first"] as! [NSNumber]).map { Float($0.doubleValue) }
      #expect(Array(tensor.values.prefix(first.count)) == first, "\(key)")
    }
    return state
  }

  @Test(.enabled(if: exists("gan_face_generate/weights.tar"), "gan_face_generate weights not fetched"))
  func dcganGenerator() throws {
    let state = try check("gan_face_generate/weights.tar")
    let g = state.subDict(prefix: "netG_state_dict")
    try g.requireAll([
      "main.0.weight": [100, 512, 4, 4], "main.3.weight": [512, 256, 4, 4],
      "main.6.weight": [256, 128, 4, 4], "main.9.weight": [128, 64, 4, 4],
      "main.12.weight": [64, 3, 4, 4], "main.1.running_var": [512], "main.10.bias": [64],
    ])
  }

  @Test(.enabled(if: exists("lpips/v0.1/vgg.pth"), "LPIPS weights not fetched"))
  func lpipsLinearLayers() throws {
    let channels = ["vgg.pth": [64, 128, 256, 512, 512], "alex.pth": [64, 192, 384, 256, 256]]
    for (file, widths) in channels.sorted(by: { $0.key < $1.key }) where Self.exists("lpips/v0.1/" + file) {
      let state = try check("lpips/v0.1/" + file)
      for (l, c) in widths.enumerated() {
        let w = try state.require("lin\(l).model.1.weight", shape: [1, c, 1, 1])
        #expect(w.values.allSatisfy { $0 >= 0 }, "\(file) lin\(l) has negative weights")
      }
    }
    if Self.exists("lpips/v0.1/squeeze.pth") { _ = try check("lpips/v0.1/squeeze.pth") }
  }
}

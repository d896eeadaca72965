import Foundation
import Testing

@testable import Runtime

/// Locates the checkpoint fixtures made by `scripts/fixtures/make_checkpoint_fixtures.py` and
/// the truth it recorded with torch in `expected.json`.
enum WeightFixtures {
  static let directory: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    .appendingPathComponent("checkpoints")

  static func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

  /// One tensor as torch loaded it.
  struct Expected {
    var shape: [Int]
    var dtype: String
    var values: [Double]
    var ints: [Int64]?
  }

  /// `expected.json` parsed: file name -> (flattened key -> truth); plus `_facts`.
  static let truth: [String: Any] = {
    let data = try! Data(contentsOf: url("expected.json"))
    return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
  }()

  static var facts: [String: Any] { truth["_facts"] as! [String: Any] }

  static func expected(_ file: String) -> [String: Expected] {
    let entries = truth[file] as! [String: [String: Any]]
    return entries.mapValues { entry in
      Expected(
        shape: (entry["shape"] as! [NSNumber]).map(\.intValue),
        dtype: entry["dtype"] as! String,
        values: (entry["values"] as! [NSNumber]).map(\.doubleValue),
        ints: (entry["ints"] as? [NSNumber])?.map(\.int64Value))
    }
  }

  /// Checks `tensors` against the torch truth for `file`: same keys, shapes, dtypes, and
  /// exactly the same Float32 values (every conversion involved is exact or round-to-nearest,
  /// as torch's `.float()` is).
  static func check(_ tensors: [String: TensorData], against expected: [String: Expected]) {
    #expect(Set(tensors.keys) == Set(expected.keys))
    for (key, truth) in expected {
      guard let tensor = tensors[key] else { continue }
      #expect(tensor.shape == truth.shape, "\(key)")
      #expect(tensor.dtype.rawValue == truth.dtype, "\(key)")
      #expect(tensor.values == truth.values.map { Float($0) }, "\(key)")
      #expect(tensor.integerValues == truth.ints, "\(key)")
    }
  }

  /// A fresh temporary directory for files a test writes.
  static func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("iloc-weights-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }
}

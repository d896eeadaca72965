import Batch
import Foundation
import Testing

/// Batch manifests: CSV and JSON Lines read to the same rows; a manifest that cannot be read
/// as a whole is one error line naming the line.
struct ManifestTests {
  static func write(_ text: String, _ name: String) throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-manifest-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    let u = d.appendingPathComponent(name)
    try Data(text.utf8).write(to: u)
    return u
  }

  @Test func csvAndJSONLinesGiveTheSameRows() throws {
    let csv = try Self.write("""
      id,observed,task,mask,factor,ground-truth,seed
      a1,img/a.png,inpaint,"box:20,16,24,32",,/abs/truth.png,7
      b.2,b.png,superres,,4,,
      c_3,c.png,inpaint,masks/m.png,,,

      """, "rows.csv")
    let base = csv.deletingLastPathComponent().path
    let rows = try BatchManifest.read(csv)
    #expect(rows.count == 3)
    #expect(rows[0] == BatchRow(id: "a1", observed: base + "/img/a.png", task: "inpaint", mask: "box:20,16,24,32",
                                groundTruth: "/abs/truth.png", seed: "7"))
    #expect(rows[1].factor == "4" && rows[1].mask == nil && rows[1].seed == nil)
    #expect(rows[2].mask == base + "/masks/m.png")  // a mask file is a path; box:/random:/black are not
    #expect(rows[0].taskArguments == ["--task", "inpaint", "--mask", "box:20,16,24,32"])
    let jsonl = try Self.write("""
      {"id": "a1", "observed": "img/a.png", "task": "inpaint", "mask": "box:20,16,24,32", "ground_truth": "/abs/truth.png", "seed": 7}
      {"id": "b.2", "observed": "b.png", "task": "superres", "factor": 4}

      {"id": "c_3", "observed": "c.png", "task": "inpaint", "mask": "masks/m.png", "seed": null}
      """, "rows.jsonl")
    let rows2 = try BatchManifest.read(jsonl)
    let base2 = jsonl.deletingLastPathComponent().path
    #expect(rows2.map { $0.observed.replacingOccurrences(of: base2, with: "") }
            == rows.map { $0.observed.replacingOccurrences(of: base, with: "") })
    #expect(rows2[0].seed == "7" && rows2[1].factor == "4" && rows2[0].mask == rows[0].mask)
  }

  @Test(arguments: [
    ("id,observed,task,colour\na,b.png,inpaint,red\n", "line 1: unknown column 'colour'"),
    ("id,observed,task\na,b.png\n", "line 2: 2 fields, the header has 3"),
    ("id,observed,task\na,b.png,inpaint\nb,c.png,inpaint\na,d.png,denoise\n", "line 4: id 'a' repeats line 2"),
    ("id,observed,task\n../x,b.png,inpaint\n", "line 2: id '../x' is not a folder name"),
    ("id,observed,task\n.hidden,b.png,inpaint\n", "id '.hidden' is not a folder name"),
    ("id,observed,task\na,\"b.png,inpaint\n", "line 2: a quoted field is not closed"),
    ("id,task\na,inpaint\n", "line 2: no observed"),
    ("id,observed,task,id\n", "column 'id' appears twice"),
    ("", "is empty (no header line)"),
  ])
  func badCSVManifestsFailInOneLine(_ text: String, _ phrase: String) throws {
    let u = try Self.write(text, "bad.csv")
    let e = #expect(throws: BatchError.self) { try BatchManifest.read(u) }
    #expect(e?.message.contains(phrase) == true, "\(e?.message ?? "no error")")
    #expect(e?.message.contains("\n") == false)
  }

  @Test func badJSONLinesFailInOneLine() throws {
    let u = try Self.write("{\"id\": \"a\", \"observed\": \"b.png\", \"task\": \"inpaint\"}\n[1, 2]\n", "bad.jsonl")
    let e = #expect(throws: BatchError.self) { try BatchManifest.read(u) }
    #expect(e?.message.contains("bad.jsonl line 2: not a JSON object") == true, "\(e?.message ?? "")")
    let v = try Self.write("{\"id\": \"a\", \"observed\": [\"b.png\"], \"task\": \"inpaint\"}\n", "bad2.jsonl")
    let e2 = #expect(throws: BatchError.self) { try BatchManifest.read(v) }
    #expect(e2?.message.contains("line 1: observed must be a string or a number") == true, "\(e2?.message ?? "")")
    let missing = FileManager.default.temporaryDirectory.appendingPathComponent("no-such-\(UUID().uuidString).csv")
    #expect(throws: BatchError("manifest \(missing.path) is not a readable file")) { try BatchManifest.read(missing) }
  }
}

import Foundation
import GraphIR
import Testing
@testable import Inversion

@Suite struct OperatorRecordTests {
  static func roundTrip(_ op: any ForwardOperator) throws -> any ForwardOperator {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-op-\(UUID().uuidString).json")
    defer { try? FileManager.default.removeItem(at: url) }
    try op.record.save(to: url)
    let loaded = try OperatorRecord.load(from: url)
    #expect(loaded == op.record)
    return try loaded.makeOperator()
  }

  @Test func everyOperatorRoundTripsToAnIdenticalOne() throws {
    let black = try InpaintMask(blackPixelsOf: (0..<2 * 3 * 5 * 3).map { $0 % 7 == 0 ? -1 : 0.5 }, batch: 2, height: 5, width: 3)
    #expect(black.values.contains(1))
    #expect(try Self.roundTrip(black) as? InpaintMask == black)
    let random = try InpaintMask(keepProbability: 0.4, seed: 1 << 62 | 12345, height: 9, width: 7)
    #expect(try Self.roundTrip(random) as? InpaintMask == random)
    let box = try InpaintMask(box: 1, left: 1, boxHeight: 2, boxWidth: 3, height: 4, width: 5)
    #expect(try Self.roundTrip(box) as? InpaintMask == box)
    for op in [try BicubicDownsampler(factor: 4), try BicubicDownsampler(factor: 1, referenceFactorOne: true)] {
      #expect(try Self.roundTrip(op) as? BicubicDownsampler == op)
    }
    let sna = try NoiseAddition(sigma: 0.05, seed: .max)
    #expect(try Self.roundTrip(sna) as? NoiseAddition == sna)
    let circ = try CirculantSensing(imageSize: 5, measurements: 30, seed: 99)
    #expect(try Self.roundTrip(circ) as? CirculantSensing == circ)
    let gauss = try GaussianSensing(imageSize: 3, measurements: 6, seed: 4)
    #expect(try Self.roundTrip(gauss) as? GaussianSensing == gauss)
    #expect(try Self.roundTrip(Colorizer()) is Colorizer)
  }

  @Test func explicitMaskBitsArePackedMSBFirst() throws {
    let m = try InpaintMask(values: [1, 0, 1, 1, 0, 0, 0, 0, 1], height: 3, width: 3)
    #expect(m.record.mask?.bits == Data([0b1011_0000, 0b1000_0000]).base64EncodedString())
  }

  @Test func badFilesGiveOneLineErrors() throws {
    func error(_ json: String) -> String? {
      do { _ = try OperatorRecord.decode(Data(json.utf8)).makeOperator(); return nil } catch { return "\(error)" }
    }
    let cases = [
      "{",
      #"{"format":"iloc-operator","version":1,"task":"warp"}"#,
      #"{"format":"iloc-operator","version":2,"task":"colorize"}"#,
      #"{"format":"iloc-operator","version":1,"task":"superres"}"#,
      #"{"format":"iloc-operator","version":1,"task":"superres","factor":64}"#,
      #"{"format":"iloc-operator","version":1,"task":"cs-gaussian","imageSize":4,"seed":1}"#,
      #"{"format":"iloc-operator","version":1,"task":"inpaint","mask":{"kind":"explicit","height":3,"width":3,"bits":"AA=="}}"#,
      #"{"format":"iloc-operator","version":1,"task":"inpaint","mask":{"kind":"box","height":3,"width":3,"box":[0,0,4,1]}}"#,
    ]
    for c in cases {
      let e = error(c)
      #expect(e != nil, "accepted \(c)")
      #expect(e?.contains("\n") == false)
    }
    #expect(throws: InversionError.self) { try OperatorRecord.load(from: URL(fileURLWithPath: "/nonexistent/op.json")) }
  }
}

import Foundation
import GraphIR
import Models
import Runtime
import Testing

/// LPIPS v0.1 against `scripts/golden/make_lpips_golden.py` (an independent PyTorch
/// implementation, float64, cross-checked with the official package), with the formula
/// backbone weights and the real v0.1 heads stored in the golden file.
@Suite struct LPIPSTests {
  static let golden: [String: HostTensor<Float>] = try! Fixtures.golden("lpips/lpips_golden.safetensors")
    .merging(try! Fixtures.golden("lpips/lpips_small_golden.safetensors")) { a, _ in a }
  /// Set `ILOC_SLOW_TESTS=1` to also run the 32x32 VGG case (about a minute in a debug build).
  static let slow = ProcessInfo.processInfo.environment["ILOC_SLOW_TESTS"] == "1"

  /// Backbone (formula) + heads (from the golden file) for `net`.
  static func weights(_ net: LPIPSNet) throws -> StateDict {
    var heads: [String: TensorData] = [:]
    for l in net.tapChannels.indices {
      let h = golden["head.\(net.rawValue).lin\(l)"]!
      heads[LPIPS.headKey(l)] = TensorData(shape: h.shape, values: h.values)
    }
    return try LPIPS(net: net).merge(backbone: LPIPSFormulaWeights.backbone(net), heads: StateDict(source: "golden", tensors: heads))
  }

  /// The Swift formula reproduces every tensor's recorded key order, shape, first values
  /// (exactly) and float64 sum.
  @Test func formulaBackboneMatchesRecord() throws {
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("lpips/lpips_backbone_formula.json"))) as! [String: Any]
    let nets = json["nets"] as! [String: [[String: Any]]]
    for net in LPIPSNet.allCases {
      let record = nets[net.rawValue]!
      let shapes = net.backboneShapes
      #expect(shapes.map(\.key) == record.map { $0["name"] as! String }, "\(net) key order")
      let sd = LPIPSFormulaWeights.backbone(net)
      for entry in record {
        let key = entry["name"] as! String
        guard let t = sd[key] else { continue }
        #expect(t.shape == entry["shape"] as! [Int], "\(key)")
        let first = (entry["first"] as! [NSNumber]).map { Float($0.doubleValue) }
        #expect(Array(t.values.prefix(first.count)) == first, "\(key) first values")
        let s = t.values.reduce(0.0) { $0 + Double($1) }, ref = (entry["sum_f64"] as! NSNumber).doubleValue
        #expect(Swift.abs(s - ref) <= 1e-9 * Swift.max(1, Swift.abs(ref)), "\(key) sum \(s) vs \(ref)")
      }
    }
  }

  /// Distance, per-layer terms and d(Σ d)/d x0 on the 32x32 (or 64x64) pair.
  func check(_ net: LPIPSNet, size: Int, engine: Engine = .interp) throws {
    let x0 = Self.golden["in\(size).x0"]!, x1 = Self.golden["in\(size).x1"]!
    let mg = try LPIPS(net: net).graph(batch: x0.shape[0], height: size, width: size)
    let g = mg.graph
    let gg = try gradients(of: sum(g.output(named: "d")!), wrt: [g.input(named: "x0")!])
    var feed = try mg.bind(Self.weights(net)); feed["x0"] = x0; feed["x1"] = x1
    let out = try timed("lpips \(net) \(size)x\(size) batch \(x0.shape[0]) + gradient (\(engine))") { try runGraph(engine, gg, inputs: feed) }
    let tag = "\(net.rawValue).d\(size)"
    expectClose(out["d"], Self.golden[tag], tag)
    for l in net.tapChannels.indices { expectClose(out["d.layer\(l)"], Self.golden["\(tag).layer\(l)"], "\(tag).layer\(l)") }
    expectClose(out["grad:x0"], Self.golden["\(net.rawValue).grad\(size).x0"], "\(net.rawValue).grad\(size).x0")
  }

  @Test func alexNet32() throws { try check(.alex, size: 32) }
  @Test func alexNet64() throws { try check(.alex, size: 64) }
  @Test func squeezeNet32() throws { try check(.squeeze, size: 32) }
  @Test func squeezeNet64() throws { try check(.squeeze, size: 64) }
  @Test func vgg16() throws { try check(.vgg, size: 16) }
  @Test(.enabled(if: slow, "slow in debug builds (~1 min): set ILOC_SLOW_TESTS=1"))
  func vgg32() throws { try check(.vgg, size: 32) }
  /// The compiled engine runs the larger cases in a fraction of the interpreter's time.
  @Test(arguments: LPIPSNet.allCases, [32, 64])
  func compiled(_ net: LPIPSNet, _ size: Int) throws { try check(net, size: size, engine: .jit) }

  /// The real v0.1 head files (after `bash models/fetch.sh`) load and equal the golden copies.
  @Test(.enabled(if: Fixtures.cached("lpips/v0.1/vgg.pth") != nil, "skipped: run `bash models/fetch.sh` for the LPIPS heads"))
  func realHeadFiles() throws {
    for net in LPIPSNet.allCases {
      let heads = try LPIPS(net: net).loadHeads(Fixtures.cached("lpips/v0.1/\(net.rawValue).pth")!)
      for l in net.tapChannels.indices {
        #expect(heads[LPIPS.headKey(l)]?.values == Self.golden["head.\(net.rawValue).lin\(l)"]!.values, "\(net) lin\(l)")
      }
    }
  }
}

import Foundation
import Testing
@testable import GraphIR

/// Forward semantics of single ops against PyTorch outputs (fixture made by
/// scripts/fixtures/make_op_goldens.py): the interpreter must agree with an independent
/// implementation, not only with itself.
@Suite struct OpGoldenTests {
  struct Fixture: Decodable {
    struct T: Decodable { var shape: [Int]; var values: [Double] }
    struct Case: Decodable { var name: String; var inputs: [String: T]; var output: T }
    var cases: [Case]
  }

  static let fixture: Fixture = {
    let url = Bundle.module.url(forResource: "op_goldens", withExtension: "json", subdirectory: "Fixtures")!
    return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
  }()

  /// The GraphIR construction of each golden case.
  static func build(_ name: String, _ x: [String: Tensor]) -> Tensor {
    switch name {
    case "conv2d_s2_groups2_asym": return conv2d(x["x"]!, x["w"]!, stride: [2, 2], padding: [1, 0, 2, 1], groups: 2)
    case "conv_transpose2d_s2_p1_op1_g2": return convTranspose2d(x["x"]!, x["w"]!, stride: 2, padding: 1, outputPadding: 1, groups: 2)
    case "conv2d_weight_grad_s2_g2_asym":
      let a = ConvAttrs(stride: [2, 2], padding: [1, 0, 2, 1], groups: 2)
      return x["x"]!.graph.add(.conv2dWeightGrad(a, weightShape: [6, 2, 3, 2]), [x["x"]!, x["gy"]!])
    case "max_pool2d_k3_s2_p1": return maxPool2d(x["x"]!, kernel: 3, stride: 2, padding: 1)
    case "avg_pool2d_k2": return avgPool2d(x["x"]!, kernel: 2)
    case "pad_reflect_2_1_3_4": return pad2d(x["x"]!, [2, 1, 3, 4], mode: .reflect)
    case let n where n.hasPrefix("fft_"): return fft(x["x"]!)
    case let n where n.hasPrefix("ifft_"): return ifft(x["x"]!)
    case "matmul_batched": return matmul(x["a"]!, x["b"]!)
    case "max_axis1": return max(x["x"]!, axes: [1])
    case "mean_axes02": return mean(x["x"]!, axes: [0, 2])
    case "atan2": return atan2(x["y"]!, x["x"]!)
    case "sigmoid": return sigmoid(x["x"]!)
    case "leaky_relu_0.2": return leakyRelu(x["x"]!, slope: 0.2)
    case "index_select": return gather(x["x"]!, axis: 1, indices: [3, 0, 0, 2])
    case "index_add": return scatterAdd(x["x"]!, axis: 1, indices: [5, 0, 0, 2], size: 6)
    case "upsample_zeros_2": return upsampleZeros(x["x"]!, factor: 2)
    default: fatalError("no GraphIR construction for golden case \(name)")
    }
  }

  @Test(arguments: OpGoldenTests.fixture.cases.map(\.name))
  func matchesPyTorch(_ name: String) throws {
    let c = Self.fixture.cases.first { $0.name == name }!
    let g = Graph(name)
    var xs: [String: Tensor] = [:]
    var feed: [String: HostTensor<Double>] = [:]
    for (k, t) in c.inputs.sorted(by: { $0.key < $1.key }) {
      xs[k] = g.input(k, t.shape)
      feed[k] = HostTensor(shape: t.shape, values: t.values)
    }
    g.output("y", Self.build(name, xs))
    let y = try Interpreter.run(g, inputs: feed)["y"]!
    let ref = HostTensor<Double>(shape: c.output.shape, values: c.output.values)
    #expect(y.shape == ref.shape)
    // Constants and attributes (e.g. the slope 0.2, 1/n) are f32 in the IR, hence 1e-7 in Double.
    #expect(y.maxRelativeDifference(to: ref) < 1e-7)
    // Float evaluation agrees within float precision.
    let yf = try Interpreter.run(g, inputs: feed.mapValues { $0.converted(to: Float.self) })["y"]!
    #expect(yf.converted(to: Double.self).maxRelativeDifference(to: ref) < 1e-5)
  }
}

import Codegen
import Foundation
import GraphIR
import Testing
@testable import Runtime

/// The compiled engine against the reference interpreter: for every op and for random
/// compositions of ops, the forward outputs and the gradients (the whole gradient graph of
/// `sum(f(x) * R)`) agree within 1e-4 relative to the Double interpreter.
enum EngineCheck {
  typealias Sampler = (inout SplitMix64, Int) -> [Double]
  static let normal: Sampler = { r, n in r.normals(n) }
  static let positive: Sampler = { r, n in (0..<n).map { _ in 0.5 + 1.5 * r.uniform() } }
  static let distinct: Sampler = { r, n in
    var v = (0..<n).map { Double($0) * 0.37 - Double(n) * 0.18 }
    v.shuffle(using: &r)
    return v
  }

  /// Four values only, so that pooling windows hold ties (the first maximum takes the gradient).
  static let ties: Sampler = { r, n in (0..<n).map { _ in Double(r.next() % 4) - 1.5 } }

  /// Returns the worst relative difference over all outputs.
  @discardableResult
  static func check(_ name: String, _ inputs: [(String, Shape)], samplers: [Sampler]? = nil, seed: UInt64 = 1,
                    backend: KernelBackend = .jit, gradients withGrad: Bool = true, tolerance: Double = 1e-4,
                    sourceLocation: SourceLocation = #_sourceLocation, _ f: ([Tensor]) -> Tensor) throws -> Double {
    let g = Graph(name)
    let xs = inputs.map { g.input($0.0, $0.1) }
    let y = f(xs)
    g.output("y", y)
    var graph = g
    if withGrad {
      let r = g.input("R", y.shape)
      graph = try gradients(of: sum(y * r), wrt: xs)
    }
    var rng = SplitMix64(seed: seed)
    var feed: [String: HostTensor<Double>] = [:]
    for (k, (n, s)) in inputs.enumerated() {
      // round to Float first so both engines see identical inputs
      feed[n] = HostTensor(shape: s, values: (samplers?[k] ?? normal)(&rng, s.elementCount).map { Double(Float($0)) })
    }
    if withGrad { feed["R"] = HostTensor(shape: y.shape, values: rng.normals(y.shape.elementCount).map { Double(Float($0)) }) }
    let reference = try Interpreter.run(graph, inputs: feed)
    var options = ProgramOptions()
    options.backend = backend
    let program = try Program(graph, options: options)
    let out = try program.run(inputs: feed.mapValues { $0.converted(to: Float.self) })
    var worst = 0.0
    for (k, ref) in reference {
      // Relative to the reference's largest magnitude, with a floor of 1e-2: an output that
      // is mathematically zero through cancellation (e.g. the gradient through a mean
      // subtraction) is float rounding noise in both engines.
      let scale = Swift.max(ref.values.map { Swift.abs($0) }.max() ?? 0, 1e-2)
      let nanMismatch = zip(out[k]!.values, ref.values).contains { $0.isNaN != $1.isNaN }
      let d = nanMismatch ? .infinity : zip(out[k]!.values, ref.values).map { Swift.abs(Double($0) - $1) }.max()! / scale
      #expect(d <= tolerance, "\(name): output \(k) differs by \(d) (relative)", sourceLocation: sourceLocation)
      worst = Swift.max(worst, d.isNaN ? .infinity : d)
    }
    return worst
  }
}

@Suite struct EngineAgreementTests {
  typealias E = EngineCheck

  /// Every op of the IR, each with its gradient graph.
  static let cases: [(String, [(String, Shape)], [E.Sampler]?, ([Tensor]) -> Tensor)] = [
    ("unary-smooth", [("x", [3, 37])], nil, { x in tanh(x[0]) + sigmoid(x[0]) * exp(x[0]) - square(x[0]) + abs(x[0]) + relu(x[0]) }),
    ("unary-positive", [("x", [4, 33])], [E.positive], { x in sqrt(x[0]) + rsqrt(x[0]) + log(x[0]) + reciprocal(x[0]) }),
    ("sign-floor", [("x", [50])], nil, { x in sign(x[0]) * floor(x[0] * 3) + x[0] }),
    ("sin-cos-builtin", [("x", [20])], nil, { x in sin(x[0]) * cos(x[0]) }),
    ("leaky-relu", [("x", [2, 3, 5, 7])], nil, { x in leakyRelu(x[0], slope: 0.2) * Float(2).squareRoot() }),
    ("binary", [("a", [5, 9]), ("b", [5, 9])], [E.normal, E.positive],
     { x in x[0] + x[1] - x[0] * x[1] + x[0] / x[1] + maximum(x[0], x[1]) + minimum(x[0], x[1]) + pow(x[1], x[0]) }),
    ("atan2-compare-select", [("a", [40]), ("b", [40])], nil, { x in atan2(x[0], x[1]) + select(x[0] > x[1], x[0], x[1] * 2) }),
    ("broadcast", [("a", [3, 1, 5]), ("b", [4, 1])], nil, { x in x[0] * x[1] + 1 }),
    ("reduce-sum-mean", [("x", [3, 4, 5, 6])], nil, { x in sum(x[0], axes: [1, 3]) + mean(x[0], axes: [1, 3]) }),
    ("reduce-suffix", [("x", [6, 70])], nil, { x in mean(square(x[0]), axes: [1]) }),
    ("reduce-max", [("x", [3, 8, 5])], [E.distinct], { x in max(x[0], axes: [1]) }),
    // kept axes after the reduced ones (accumulated in the output, block by block)
    ("reduce-channel-sum", [("x", [2, 6, 5, 8])], nil, { x in sum(square(x[0]) * 2, axes: [1], keepDims: true) }),
    ("reduce-batch-channel-mean", [("x", [3, 4, 2, 16])], nil, { x in mean(x[0], axes: [0, 1]) }),
    ("reduce-max-middle", [("x", [2, 3, 4, 9])], [E.distinct], { x in max(x[0], axes: [1]) }),
    ("reduce-interleaved-axes", [("x", [4, 3, 5, 16])], nil, { x in sum(x[0], axes: [0, 2]) }),
    ("reduce-long-tail-blocks", [("x", [1, 3, 48, 64])], nil, { x in sum(x[0], axes: [1]) }),
    ("reshape-transpose", [("x", [4, 6, 5])], nil, { x in transpose(reshape(x[0], [2, 12, 5]), [2, 0, 1]) * 3 }),
    ("slice-reverse", [("x", [7, 9])], nil, { x in reverse(slice(x[0], start: [1, 2], end: [7, 9], step: [2, 3]), axes: [0]) }),
    ("pad-interior", [("x", [1, 2, 4, 5])], nil, { x in pad(x[0], lo: [0, 1, 2, 0], hi: [0, 0, 1, 3], interior: [0, 0, 1, 2]) }),
    ("pad-reflect", [("x", [1, 2, 6, 5])], nil, { x in pad2d(x[0], [2, 3, 4, 1], mode: .reflect) }),
    ("concat", [("a", [2, 3, 4]), ("b", [2, 5, 4])], nil, { x in concat([x[0], x[1], x[0]], axis: 1) }),
    ("gather-scatter", [("x", [5, 6])], nil, { x in scatterAdd(gather(x[0], axis: 1, indices: [5, 0, 2, 2]), axis: 1, indices: [1, 1, 0, 3], size: 4) }),
    ("matmul", [("a", [2, 7, 9]), ("b", [2, 9, 5])], nil, { x in matmul(x[0], x[1]) }),
    ("conv-gemm", [("x", [2, 6, 7, 8]), ("w", [5, 6, 3, 3])], nil, { x in conv2d(x[0], x[1], padding: 1) }),
    ("conv-gemm-stride-groups", [("x", [1, 8, 9, 7]), ("w", [6, 4, 3, 3])], nil, { x in conv2d(x[0], x[1], stride: [2, 2], padding: [1, 0, 2, 1], groups: 2) }),
    ("conv-winograd", [("x", [1, 16, 8, 10]), ("w", [20, 16, 3, 3])], nil, { x in conv2d(x[0], x[1], padding: 1) }),
    ("conv-winograd-12x8", [("x", [1, 16, 12, 8]), ("w", [18, 16, 3, 3])], nil, { x in conv2d(x[0], x[1], padding: 1) }),
    ("conv-transpose-winograd-8x8", [("x", [1, 16, 8, 8]), ("w", [16, 20, 3, 3])], nil, { x in convTranspose2d(x[0], x[1], padding: 1) }),
    ("conv-winograd-unpadded", [("x", [2, 16, 10, 12]), ("w", [16, 16, 3, 3])], nil, { x in conv2d(x[0], x[1]) }),
    // direct convolutions with long output rows: border and interior columns as separate loops
    ("depthwise-blur-wide", [("x", [1, 3, 5, 70]), ("w", [3, 1, 4, 4])], nil, { x in conv2d(x[0], x[1], stride: [1, 1], padding: [2, 2, 2, 2], groups: 3) }),
    ("direct-conv-wide-strided", [("x", [1, 2, 6, 81]), ("w", [3, 2, 3, 3])], nil, { x in conv2d(x[0], x[1], stride: [2, 2], padding: [1, 1, 1, 2]) }),
    ("direct-conv-vgg-first", [("x", [2, 3, 6, 64]), ("w", [8, 3, 3, 3])], nil, { x in conv2d(x[0], x[1], padding: 1) }),
    ("direct-conv-wide-unpadded", [("x", [2, 2, 4, 40]), ("w", [2, 2, 3, 3])], nil, { x in conv2d(x[0], x[1]) }),
    // rows of 16-63 outputs: one row per inner loop too (StyleGAN2's 4x4 blurs at 32x32 and 33x33)
    ("depthwise-blur-rows-of-33", [("x", [1, 3, 5, 32]), ("w", [3, 1, 4, 4])], nil, { x in conv2d(x[0], x[1], stride: [1, 1], padding: [2, 2, 2, 2], groups: 3) }),
    ("depthwise-blur-rows-of-20", [("x", [1, 3, 4, 21]), ("w", [3, 1, 4, 4])], nil, { x in conv2d(x[0], x[1], stride: [1, 1], padding: [1, 1, 1, 1], groups: 3) }),
    // rows of at least 64 tiles: the transforms loop over tile rows and columns separately
    ("conv-winograd-wide", [("x", [1, 16, 6, 130]), ("w", [16, 16, 3, 3])], nil, { x in conv2d(x[0], x[1], padding: 1) }),
    ("conv-winograd-wide-unpadded", [("x", [2, 16, 8, 134]), ("w", [17, 16, 3, 3])], nil, { x in conv2d(x[0], x[1]) }),
    ("conv-transpose-winograd", [("x", [1, 16, 8, 10]), ("w", [16, 18, 3, 3])], nil, { x in convTranspose2d(x[0], x[1], padding: 1) }),
    // few output channels, long reduction: rows accumulated in the output (border and interior columns)
    ("conv-narrow-3x3", [("x", [2, 40, 6, 20]), ("w", [3, 40, 3, 3])], nil, { x in conv2d(x[0], x[1], padding: 1) }),
    ("conv-narrow-5x5-uneven-pad", [("x", [1, 8, 7, 17]), ("w", [2, 8, 5, 5])], nil,
     { x in conv2d(x[0], x[1], stride: [1, 1], padding: [2, 1, 3, 0]) }),
    ("conv-narrow-1x1-channel-blocks", [("x", [1, 48, 4, 16]), ("w", [3, 48, 1, 1])], nil, { x in conv2d(x[0], x[1]) }),
    ("conv-narrow-fused-input", [("x", [1, 36, 5, 16])], nil, { x in
      let w = x[0].graph.constant((0..<(4 * 36 * 9)).map { Float($0 % 7) * 0.1 - 0.3 }, [4, 36, 3, 3])
      return conv2d(relu(x[0]) * 2, w, padding: 1)
    }),
    // direct convolutions over rows of 64+ columns: border columns and a clamp-free interior
    ("conv-direct-blur-rows", [("x", [1, 2, 3, 70]), ("w", [2, 1, 4, 4])], nil,
     { x in conv2d(x[0], x[1], stride: [1, 1], padding: [2, 1, 2, 1], groups: 2) }),
    ("conv-direct-rows-fused", [("x", [2, 3, 2, 66])], nil, { x in
      let k = x[0].graph.constant((0..<27).map { Float($0 % 5) * 0.2 - 0.4 }, [3, 1, 3, 3])
      return conv2d(relu(x[0]) * 3, k, stride: [1, 1], padding: [1, 1, 0, 2], groups: 3)
    }),
    ("upsample-blur-rows", [("x", [1, 2, 4, 33])], nil, { x in
      let k = x[0].graph.constant([Float](repeating: 1.0 / 16, count: 2 * 16), [2, 1, 4, 4])
      return conv2d(upsampleZeros(x[0], factor: 2), k, stride: [1, 1], padding: [2, 1, 2, 1], groups: 2) * 4
    }),
    ("conv-1x1", [("x", [2, 40, 4, 4]), ("w", [7, 40, 1, 1])], nil, { x in conv2d(x[0], x[1]) }),
    ("conv-depthwise-direct", [("x", [1, 3, 8, 8]), ("w", [3, 1, 4, 4])], nil, { x in conv2d(x[0], x[1], padding: 2, groups: 3) }),
    ("conv-transpose-gemm", [("x", [1, 6, 4, 5]), ("w", [6, 5, 3, 3])], nil, { x in convTranspose2d(x[0], x[1], stride: 2) }),
    ("conv-transpose-groups-outpad", [("x", [2, 8, 3, 3]), ("w", [8, 3, 4, 4])], nil,
     { x in convTranspose2d(x[0], x[1], stride: 2, padding: 1, outputPadding: 1, groups: 2) }),
    ("max-pool", [("x", [1, 3, 7, 6])], [E.distinct], { x in maxPool2d(x[0], kernel: 3, stride: 2, padding: 1) }),
    ("max-pool-ties-overlapping", [("x", [2, 3, 9, 8])], [E.ties], { x in maxPool2d(relu(x[0]), kernel: 3, stride: 2) }),
    ("max-pool-2x2", [("x", [1, 4, 8, 6])], [E.ties], { x in maxPool2d(x[0], kernel: 2) }),
    ("max-pool-2x2-ragged", [("x", [1, 2, 7, 6])], [E.ties], { x in maxPool2d(x[0], kernel: 2) }),
    ("max-pool-ceil", [("x", [1, 2, 7, 7])], [E.ties], { x in maxPool2d(pad2d(relu(x[0]), [0, 1, 0, 1]), kernel: 3, stride: 2) }),
    ("avg-pool", [("x", [2, 3, 6, 6])], nil, { x in avgPool2d(x[0], kernel: 2) }),
    ("fft", [("x", [3, 10, 2])], nil, { x in ifft(fft(x[0]) * 0.5) }),
    ("fft-prime-and-mixed", [("a", [2, 7, 2]), ("b", [24, 2])], nil, { x in sum(fft(x[0])) + sum(ifft(x[1]) * x[1]) }),
    ("upsample-blur", [("x", [1, 4, 5, 5])], nil, { x in
      let k = x[0].graph.constant([Float](repeating: 1.0 / 16, count: 4 * 16), [4, 1, 4, 4])
      return conv2d(upsampleZeros(x[0], factor: 2), k, stride: [1, 1], padding: [2, 1, 2, 1], groups: 4) * 4
    }),
  ]

  @Test(arguments: 0..<EngineAgreementTests.cases.count)
  func jitMatchesInterpreter(_ k: Int) throws {
    let (name, inputs, samplers, f) = Self.cases[k]
    try E.check(name, inputs, samplers: samplers, f)
  }

  @Test(arguments: 0..<EngineAgreementTests.cases.count)
  func loweringIsInBoundsAndCorrect(_ k: Int) throws {
    // The bounds-checked kernel interpreter catches any out-of-range load of the lowering.
    let (name, inputs, samplers, f) = Self.cases[k]
    try E.check(name, inputs, samplers: samplers, backend: .checkedInterpreter, f)
  }
}

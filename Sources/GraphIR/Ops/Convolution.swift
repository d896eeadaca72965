/// Convolutions and pooling on NCHW tensors. conv2d, its transpose and its weight gradient form
/// a closed family under differentiation (each VJP is a member of the family), as in PyTorch's
/// `conv2d` / `conv_transpose2d` / `conv2d_weight`.
extension Op {
  static func convolutionShape(_ op: Op, _ s: [Shape]) throws -> Shape {
    try expectArity(op, s)
    func bad(_ why: String) -> GraphError {
      GraphError(op: op.name, message: s.map(\.shapeText).joined(separator: " and ") + ": " + why)
    }
    guard s.allSatisfy({ $0.count == 4 }) else { throw bad("expects rank-4 NCHW tensors") }
    switch op {
    case .conv2d(let a):
      return try conv2dOutput(x: s[0], w: s[1], a, bad)
    case .convTranspose2d(let a):
      let (x, w) = (s[0], s[1])
      try checkAttrs(a, bad)
      guard w[0] == x[1] else { throw bad("weight has \(w[0]) input channels, input has \(x[1])") }
      guard x[1] % a.groups == 0 else { throw bad("\(x[1]) channels are not divisible by groups \(a.groups)") }
      guard a.outputPadding[0] < a.stride[0], a.outputPadding[1] < a.stride[1] else {
        throw bad("output padding \(a.outputPadding) must be smaller than the stride \(a.stride)")
      }
      let ho = (x[2] - 1) * a.stride[0] - a.padding[0] - a.padding[1] + w[2] + a.outputPadding[0]
      let wo = (x[3] - 1) * a.stride[1] - a.padding[2] - a.padding[3] + w[3] + a.outputPadding[1]
      guard ho >= 1, wo >= 1 else { throw bad("empty output") }
      return [x[0], w[1] * a.groups, ho, wo]
    case .conv2dWeightGrad(let a, let ws):
      guard ws.count == 4 else { throw bad("weight shape must have rank 4") }
      let y = try conv2dOutput(x: s[0], w: ws, a, bad)
      guard y == s[1] else { throw bad("output gradient should be \(y.shapeText)") }
      return ws
    case .maxPool2d(let p):
      return [s[0][0], s[0][1]] + (try poolSpatial(s[0], p, bad))
    case .maxPool2dGrad(let p):
      let y = [s[0][0], s[0][1]] + (try poolSpatial(s[0], p, bad))
      guard y == s[1] else { throw bad("output gradient should be \(y.shapeText)") }
      return s[0]
    default: fatalError("not a convolution op: \(op)")
    }
  }

  private static func checkAttrs(_ a: ConvAttrs, _ bad: (String) -> GraphError) throws {
    guard a.stride.count == 2, a.stride.allSatisfy({ $0 >= 1 }), a.padding.count == 4,
      a.padding.allSatisfy({ $0 >= 0 }), a.groups >= 1, a.outputPadding.count == 2,
      a.outputPadding.allSatisfy({ $0 >= 0 })
    else { throw bad("bad attributes \(a)") }
  }

  static func conv2dOutput(x: Shape, w: Shape, _ a: ConvAttrs, _ bad: (String) -> GraphError) throws -> Shape {
    try checkAttrs(a, bad)
    guard x[1] % a.groups == 0, w[0] % a.groups == 0 else {
      throw bad("channels \(x[1]) -> \(w[0]) are not divisible by groups \(a.groups)")
    }
    guard w[1] * a.groups == x[1] else {
      throw bad("weight expects \(w[1]) input channels per group, input has \(x[1] / a.groups) (groups \(a.groups))")
    }
    let hp = x[2] + a.padding[0] + a.padding[1], wp = x[3] + a.padding[2] + a.padding[3]
    guard hp >= w[2], wp >= w[3] else { throw bad("kernel \(w[2])x\(w[3]) is larger than the padded input \(hp)x\(wp)") }
    return [x[0], w[0], (hp - w[2]) / a.stride[0] + 1, (wp - w[3]) / a.stride[1] + 1]
  }

  private static func poolSpatial(_ x: Shape, _ p: PoolAttrs, _ bad: (String) -> GraphError) throws -> [Int] {
    guard p.kernel.count == 2, p.stride.count == 2, p.padding.count == 2, p.stride.allSatisfy({ $0 >= 1 }),
      p.kernel.allSatisfy({ $0 >= 1 }), zip(p.padding, p.kernel).allSatisfy({ $0 >= 0 && 2 * $0 <= $1 })
    else { throw bad("bad pooling attributes \(p)") }
    let h = x[2] + 2 * p.padding[0] - p.kernel[0], w = x[3] + 2 * p.padding[1] - p.kernel[1]
    guard h >= 0, w >= 0 else { throw bad("window \(p.kernel) is larger than the input") }
    return [h / p.stride[0] + 1, w / p.stride[1] + 1]
  }

  /// The output padding that makes a transposed convolution produce exactly `spatial`.
  static func outputPadding(for a: ConvAttrs, from y: Shape, to spatial: [Int], kernel: [Int]) -> [Int] {
    [spatial[0] - ((y[2] - 1) * a.stride[0] - a.padding[0] - a.padding[1] + kernel[0]),
     spatial[1] - ((y[3] - 1) * a.stride[1] - a.padding[2] - a.padding[3] + kernel[1])]
  }

  /// VJP rules of the convolution family; nil marks an op without a VJP.
  static func convolutionVJP(_ op: Op, _ x: [Tensor], _ g: Tensor) -> [Tensor?]? {
    switch op {
    case .conv2d(var a):
      let w = x[1]
      a.outputPadding = outputPadding(for: a, from: g.shape, to: Array(x[0].shape[2...]), kernel: Array(w.shape[2...]))
      let gx = g.graph.add(.convTranspose2d(a), [g, w])
      a.outputPadding = [0, 0]
      return [gx, g.graph.add(.conv2dWeightGrad(a, weightShape: w.shape), [x[0], g])]
    case .convTranspose2d(var a):
      a.outputPadding = [0, 0]
      return [g.graph.add(.conv2d(a), [g, x[1]]), g.graph.add(.conv2dWeightGrad(a, weightShape: x[1].shape), [g, x[0]])]
    case .conv2dWeightGrad(var a, _):
      // <G, Wgrad(x, gy)> = <conv2d(x, G), gy>, bilinear in (x, gy).
      let gy = x[1]
      let gyGrad = g.graph.add(.conv2d(a), [x[0], g])
      a.outputPadding = outputPadding(for: a, from: gy.shape, to: Array(x[0].shape[2...]), kernel: Array(g.shape[2...]))
      return [g.graph.add(.convTranspose2d(a), [gy, g]), gyGrad]
    case .maxPool2d(let p): return [g.graph.add(.maxPool2dGrad(p), [x[0], g])]
    case .maxPool2dGrad: return nil
    default: fatalError("not a convolution op: \(op)")
    }
  }
}

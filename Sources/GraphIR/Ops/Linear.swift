/// Matrix products and the Fourier transform: linear ops whose VJPs are the same ops again.
extension Op {
  static func matmulShape(_ s: [Shape]) throws -> Shape {
    try expectArity(.matmul, s)
    let (a, b) = (s[0], s[1])
    guard a.count >= 2, a.count == b.count, a.dropLast(2) == b.dropLast(2), a[a.count - 1] == b[b.count - 2] else {
      throw GraphError(op: "matmul", message: "cannot multiply \(a.shapeText) by \(b.shapeText)")
    }
    return Array(a.dropLast()) + [b[b.count - 1]]
  }

  static func matmulVJP(_ a: Tensor, _ b: Tensor, _ g: Tensor) -> [Tensor?] {
    [GraphIR.matmul(g, GraphIR.swapLastAxes(b)), GraphIR.matmul(GraphIR.swapLastAxes(a), g)]
  }

  static func fftShape(_ op: Op, _ s: [Shape]) throws -> Shape {
    try expectArity(op, s)
    guard s[0].count >= 2, s[0].last == 2 else {
      throw GraphError(op: op.name, message: "expects [..., n, 2] (real, imaginary), got \(s[0].shapeText)")
    }
    return s[0]
  }

  /// The adjoint of the unnormalized DFT (as a real-linear map) is the unnormalized DFT with
  /// the opposite exponent sign.
  static func fftVJP(_ inverse: Bool, _ g: Tensor) -> [Tensor?] { [g.graph.add(.fft(inverse: !inverse), [g])] }
}

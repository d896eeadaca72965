/// Dispatch of the per-op VJP rules (each rule lives in its op family's file).
extension Op {
  /// Gradients w.r.t. each input, given the inputs, the op's output and the output gradient.
  /// An entry is nil when that gradient is zero; the whole result is nil when the op has no
  /// VJP (only backward-only ops such as `max_pool2d_grad`).
  func vjp(_ x: [Tensor], _ y: Tensor, _ g: Tensor) -> [Tensor?]? {
    switch self {
    case .input, .constant: return []
    case .unary, .leakyRelu, .binary, .select: return Op.elementwiseVJP(self, x, y, g)
    case .reduce(let kind, let axes): return [Op.reduceVJP(kind, axes, x[0], y, g)]
    case .reshape, .transpose, .broadcast, .slice, .pad, .reverse, .concat, .gather, .scatterAdd:
      return Op.movementVJP(self, x, g)
    case .matmul: return Op.matmulVJP(x[0], x[1], g)
    case .conv2d, .convTranspose2d, .conv2dWeightGrad, .maxPool2d, .maxPool2dGrad:
      return Op.convolutionVJP(self, x, g)
    case .fft(let inverse): return Op.fftVJP(inverse, g)
    }
  }
}

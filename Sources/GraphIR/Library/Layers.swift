/// Reusable network building blocks written in the DSL (StyleGAN2's layers among them).
/// Models compose these; the compiler sees only the IR ops they expand to.

/// PyTorch's `F.linear` with an "equalized learning rate" scale: `x @ (W * scale)^T + b * lrMul`.
/// `x`: [B, in], `weight`: [out, in], `bias`: [out].
public func equalLinear(_ x: Tensor, weight: Tensor, bias: Tensor?, scale: Float, lrMul: Float = 1) -> Tensor {
  var y = matmul(x, transpose(weight, [1, 0])) * scale
  if let bias { y = y + reshape(bias, [1, bias.shape[0]]) * lrMul }
  return y
}

/// `leakyRelu(x + bias, 0.2) * sqrt(2)`, the fused bias + activation of StyleGAN2;
/// `bias` has one value per channel (axis 1).
public func fusedLeakyRelu(_ x: Tensor, bias: Tensor, slope: Float = 0.2, gain: Float = Float(2).squareRoot()) -> Tensor {
  var bshape = [Int](repeating: 1, count: x.rank)
  bshape[1] = bias.shape[0]
  return leakyRelu(x + reshape(bias, bshape), slope: slope) * gain
}

/// How a modulated convolution is expressed in the IR.
public enum ModulationForm: Sendable {
  /// The definition: per-sample weights `W * s`, demodulated, applied as one grouped conv
  /// over the batch (what the reference implementation does). Models are written this way;
  /// the compiler's `ScaleFactoring` and `SquareSumFactoring` passes turn it into the
  /// input-scaling form before differentiation.
  case groupedWeights
  /// The equivalent form `conv(x * s, W) * d`: an ordinary convolution with the shared weight,
  /// the style applied to the input and the demodulation to the output. Same values, and its
  /// gradient w.r.t. the style needs no weight-gradient convolution. Written by hand only in
  /// tests, to check what the passes produce.
  case inputScaling
}

/// StyleGAN2's modulated convolution (no up/down-sampling): `x` [B, in, H, W], `weight`
/// [out, in, k, k] (unscaled, as stored), `style` [B, in] (already through the modulation
/// layer). Padding k/2, demodulation with epsilon 1e-8.
public func modulatedConv2d(_ x: Tensor, weight: Tensor, style: Tensor, demodulate: Bool = true,
                            form: ModulationForm = .groupedWeights) -> Tensor {
  let (b, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
  let (cout, k) = (weight.shape[0], weight.shape[2])
  let scale = 1 / Float(cin * k * k).squareRoot()
  switch form {
  case .groupedWeights:
    var wm = reshape(weight, [1, cout, cin, k, k]) * reshape(style, [b, 1, cin, 1, 1]) * scale  // [B, out, in, k, k]
    if demodulate { wm = wm * rsqrt(sum(square(wm), axes: [2, 3, 4], keepDims: true) + 1e-8) }
    let y = conv2d(reshape(x, [1, b * cin, h, w]), reshape(wm, [b * cout, cin, k, k]), padding: k / 2, groups: b)
    return reshape(y, [b, cout, y.shape[2], y.shape[3]])
  case .inputScaling:
    var y = conv2d(x * reshape(style, [b, cin, 1, 1]), weight * scale, padding: k / 2)
    if demodulate {
      // d[b, o] = rsqrt(sum_i s[b,i]^2 * sum_kk (scale*W[o,i,kk])^2 + 1e-8)
      let w2 = sum(square(weight * scale), axes: [2, 3])  // [out, in]
      let d = rsqrt(matmul(square(style), transpose(w2, [1, 0])) + 1e-8)  // [B, out]
      y = y * reshape(d, [b, cout, 1, 1])
    }
    return y
  }
}

/// Noise injection: `x + strength * noise`, with `noise` [B, 1, H, W] broadcast over channels.
public func injectNoise(_ x: Tensor, noise: Tensor, strength: Tensor) -> Tensor {
  x + reshape(strength, [1, 1, 1, 1]) * noise
}

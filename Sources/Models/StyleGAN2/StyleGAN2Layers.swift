import GraphIR

/// The StyleGAN2 layers that `GraphIR/Library/Layers.swift` does not have: the upsampling
/// modulated convolution, the [1,3,3,1] blur and the 2x upsampling of the RGB skip, all
/// expressed with ordinary IR ops.
enum StyleGAN2Layers {
  /// outer([1,3,3,1], [1,3,3,1]) / 64 · gain, flattened 4x4 (symmetric, so convolution and
  /// correlation agree and no flip is needed).
  static func blurKernel(gain: Float) -> [Float] {
    let taps: [Float] = [1, 3, 3, 1]
    return taps.flatMap { a in taps.map { b in a * b / 64 * gain } }
  }

  /// Depthwise 4x4 correlation of every channel of `x` with the blur kernel (·4), after zero
  /// padding `pad` = [top, bottom, left, right].
  static func blur(_ x: Tensor, pad: [Int]) -> Tensor {
    let c = x.shape[1]
    let k = x.graph.constant(Array([[Float]](repeating: blurKernel(gain: 4), count: c).joined()), [c, 1, 4, 4])
    return conv2d(x, k, stride: [1, 1], padding: pad, groups: c)
  }

  /// upfirdn2d(x, K·4, up=2, pad=(2,1)): zero insertion (x at even positions), 2 zeros before
  /// and 1 after (plus the inserted trailing zero), then the blur: H -> 2H.
  static func upsampleSkip(_ x: Tensor) -> Tensor {
    let z = pad(x, lo: [0, 0, 2, 2], hi: [0, 0, 2, 2], interior: [0, 0, 1, 1])  // 2 + (2H−1) + 2 = 2H+3
    return blur(z, pad: [0, 0, 0, 0])  // 2H+3 − 4 + 1 = 2H
  }

  /// The upsampling modulated 3x3 convolution of the reference port, in input-scaling form.
  ///
  /// The reference computes, per sample b, `conv_transpose2d(x_b, W''_b viewed (in,out,k,k),
  /// stride 2)` with `W''[o,i] = scale·W[o,i]·s[i]·d[o]`, then the blur with pad (1,1).
  /// conv_transpose2d is linear in its weight and `out[o] = Σ_i x[i] ⋆ᵀ W''[o,i]`, so the style
  /// factor s[i] moves onto the input channel and the demodulation d[o] onto the output
  /// channel: `y = d ⊙ convT(x ⊙ s, transpose(scale·W, in<->out))`. The weight is only
  /// transposed (in, out), not flipped: the port feeds its (out, in) weight to conv_transpose2d
  /// as is. Sizes: H -> 2H+1 (stride 2, k 3, pad 0) -> 2H (blur, pad 1 each side).
  static func modulatedConv2dUp(_ x: Tensor, weight: Tensor, style: Tensor, demodulate: Bool = true) -> Tensor {
    let (b, cin) = (x.shape[0], x.shape[1])
    let (cout, k) = (weight.shape[0], weight.shape[2])
    let scale = 1 / Float(cin * k * k).squareRoot()
    let ws = weight * scale
    var y = convTranspose2d(x * reshape(style, [b, cin, 1, 1]), transpose(ws, [1, 0, 2, 3]), stride: 2)
    if demodulate {
      let w2 = sum(square(ws), axes: [2, 3])  // [out, in]
      let d = rsqrt(matmul(square(style), transpose(w2, [1, 0])) + 1e-8)  // [B, out]
      y = y * reshape(d, [b, cout, 1, 1])
    }
    return blur(y, pad: [1, 1, 1, 1])
  }
}

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

  /// The upsampling modulated 3x3 convolution of the reference port, then the blur.
  ///
  /// The reference (`form: .groupedWeights`, what the model uses) builds per-sample weights
  /// `W''[b, o, i] = scale·W[o, i]·s[b, i]·d[b, o]`, views them as (B·in, out, k, k) (a transpose
  /// of the in and out axes, no flip: the port feeds its (out, in) weight to conv_transpose2d as
  /// is) and runs one stride-2 transposed convolution grouped over the batch. Since
  /// conv_transpose2d is linear in its weight and `out[o] = Σ_i x[i] ⋆ᵀ W''[o, i]`, the same
  /// values are `d ⊙ convT(x ⊙ s, transpose(scale·W, in<->out))` (`form: .inputScaling`), which
  /// is what the compiler's `ScaleFactoring` pass derives from the reference form.
  /// Sizes: H -> 2H+1 (stride 2, k 3, pad 0) -> 2H (blur, pad 1 each side).
  static func modulatedConv2dUp(_ x: Tensor, weight: Tensor, style: Tensor, demodulate: Bool = true,
                                form: ModulationForm = .groupedWeights) -> Tensor {
    let (b, cin, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, k) = (weight.shape[0], weight.shape[2])
    let scale = 1 / Float(cin * k * k).squareRoot()
    var y: Tensor
    switch form {
    case .groupedWeights:
      var wm = reshape(weight, [1, cout, cin, k, k]) * reshape(style, [b, 1, cin, 1, 1]) * scale  // [B, out, in, k, k]
      if demodulate { wm = wm * rsqrt(sum(square(wm), axes: [2, 3, 4], keepDims: true) + 1e-8) }
      let wt = reshape(transpose(wm, [0, 2, 1, 3, 4]), [b * cin, cout, k, k])
      y = convTranspose2d(reshape(x, [1, b * cin, h, w]), wt, stride: 2, groups: b)
      y = reshape(y, [b, cout, y.shape[2], y.shape[3]])
    case .inputScaling:
      let ws = weight * scale
      y = convTranspose2d(x * reshape(style, [b, cin, 1, 1]), transpose(ws, [1, 0, 2, 3]), stride: 2)
      if demodulate {
        let w2 = sum(square(ws), axes: [2, 3])  // [out, in]
        let d = rsqrt(matmul(square(style), transpose(w2, [1, 0])) + 1e-8)  // [B, out]
        y = y * reshape(d, [b, cout, 1, 1])
      }
    }
    return blur(y, pad: [1, 1, 1, 1])
  }
}

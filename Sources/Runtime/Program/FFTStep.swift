import Foundation
import GraphIR

/// The unnormalized DFT over axis -2 of `[..., n, 2]` (the `fft` op), by a recursive
/// mixed-radix decimation in time with a precomputed twiddle table and no allocation per
/// call (the interpreter's version recomputes twiddles and allocates at every level).
/// Computed in Double, like the interpreter.
final class FFTStep: ProgramStep {
  let x: Int, y: Int, n: Int, batch: Int
  let sign: Double
  let cosTable: [Double], sinTable: [Double]
  var re: [Double], im: [Double], outRe: [Double], outIm: [Double]

  init(x: Int, y: Int, shape: Shape, inverse: Bool, node: Int) {
    self.x = x; self.y = y
    let len = shape[shape.count - 2]
    n = len
    batch = shape.elementCount / (2 * len)
    sign = inverse ? 1 : -1
    cosTable = (0..<len).map { Double.cos(2 * Double.pi * Double($0) / Double(len)) }
    sinTable = (0..<len).map { (inverse ? 1 : -1) * Double.sin(2 * Double.pi * Double($0) / Double(len)) }
    re = [Double](repeating: 0, count: len); im = re; outRe = re; outIm = re
    let logn = Double.log2(Double(max(len, 2)))
    super.init(label: inverse ? "ifft \(n)" : "fft \(n)", node: node, kind: "builtin", ops: 1,
               flops: 5 * Double(batch * len) * logn, bytes: Double(batch * n * 16))
  }

  override func run(_ ctx: RunContext) throws {
    let src = ctx.ptr(x), dst = ctx.ptr(y)
    for b in 0..<batch {
      for i in 0..<n { re[i] = Double(src[(b * n + i) * 2]); im[i] = Double(src[(b * n + i) * 2 + 1]) }
      re.withUnsafeBufferPointer { ir in im.withUnsafeBufferPointer { ii in
        outRe.withUnsafeMutableBufferPointer { orr in outIm.withUnsafeMutableBufferPointer { oi in
          transform(ir.baseAddress!, ii.baseAddress!, 1, orr.baseAddress!, oi.baseAddress!, n, 1)
        } }
      } }
      for i in 0..<n { dst[(b * n + i) * 2] = Float(outRe[i]); dst[(b * n + i) * 2 + 1] = Float(outIm[i]) }
    }
  }

  /// out[0..<len] = DFT of in[0], in[stride], ...; twiddles of this size are table[e * tw].
  private func transform(_ inRe: UnsafePointer<Double>, _ inIm: UnsafePointer<Double>, _ stride: Int,
                         _ oRe: UnsafeMutablePointer<Double>, _ oIm: UnsafeMutablePointer<Double>, _ len: Int, _ tw: Int) {
    if len == 1 { oRe[0] = inRe[0]; oIm[0] = inIm[0]; return }
    var p = 2
    while len % p != 0 { p += 1 }
    let m = len / p
    for r in 0..<p { transform(inRe + r * stride, inIm + r * stride, stride * p, oRe + r * m, oIm + r * m, m, tw * p) }
    // combine: X[k + m q] = sum_r W_len^(r (k + m q)) Y_r[k], in place with p temporaries
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * p) { t in
      for k in 0..<m {
        for r in 0..<p {
          let e = (r * k * tw) % n
          let (c, s) = (cosTable[e], sinTable[e])
          let a = oRe[r * m + k], b = oIm[r * m + k]
          t[2 * r] = a * c - b * s
          t[2 * r + 1] = a * s + b * c
        }
        for q in 0..<p {
          var sr = 0.0, si = 0.0
          for r in 0..<p {
            let e = (r * q * m * tw) % n
            let (c, s) = (cosTable[e], sinTable[e])
            sr += t[2 * r] * c - t[2 * r + 1] * s
            si += t[2 * r] * s + t[2 * r + 1] * c
          }
          oRe[k + m * q] = sr
          oIm[k + m * q] = si
        }
      }
    }
  }
}

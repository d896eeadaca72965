import RealModule

/// Straightforward loop implementations of every op for the interpreter.
enum Kernels {
  // MARK: index helpers

  /// Visits every coordinate of `shape` in row-major order.
  @inline(__always)
  static func advance(_ coord: inout [Int], _ shape: Shape) {
    var a = shape.count - 1
    while a >= 0 {
      coord[a] += 1
      if coord[a] < shape[a] { return }
      coord[a] = 0
      a -= 1
    }
  }

  /// Separable gathers: `table[a][c]` is the input offset contributed by output coordinate c
  /// on axis a, or -1 when that coordinate reads an implicit zero (padding).
  static func gatherBySeparableTables<T: Real & BinaryFloatingPoint>(_ x: [T], _ shape: Shape, _ table: [[Int]]) -> [T] {
    let n = shape.elementCount
    var out = [T](repeating: 0, count: n)
    var coord = [Int](repeating: 0, count: shape.count)
    for i in 0..<n {
      var src = 0
      var valid = true
      for a in 0..<shape.count {
        let t = table[a][coord[a]]
        if t < 0 { valid = false }
        src += t
      }
      if valid { out[i] = x[src] }
      advance(&coord, shape)
    }
    return out
  }

  static func remap<T>(_ op: Op, _ x: HostTensor<T>, _ shape: Shape) -> HostTensor<T> {
    let st = x.shape.rowMajorStrides
    let table: [[Int]] = shape.indices.map { a in
      (0..<shape[a]).map { c in
        switch op {
        case .transpose(let p): return c * st[p[a]]
        case .broadcast: return x.shape[a] == 1 ? 0 : c * st[a]
        case .slice(let start, _, let step): return (start[a] + c * step[a]) * st[a]
        case .reverse(let axes): return (axes.contains(a) ? x.shape[a] - 1 - c : c) * st[a]
        case .gather(let axis, let idx): return (a == axis ? idx.values[c] : c) * st[a]
        default: fatalError("not a remap op")
        }
      }
    }
    return HostTensor(shape: shape, values: gatherBySeparableTables(x.values, shape, table))
  }

  static func pad<T>(_ lo: [Int], _ interior: [Int], _ mode: PadMode, _ x: HostTensor<T>, _ shape: Shape) -> HostTensor<T> {
    let st = x.shape.rowMajorStrides
    let table: [[Int]] = shape.indices.map { a in
      let n = x.shape[a]
      if mode == .reflect {
        return Op.reflectIndices(n: n, lo: lo[a], hi: shape[a] - n - lo[a]).map { $0 * st[a] }
      }
      return (0..<shape[a]).map { c in
        let j = c - lo[a], q = interior[a] + 1
        return (j >= 0 && j % q == 0 && j / q < n) ? (j / q) * st[a] : -1
      }
    }
    return HostTensor(shape: shape, values: gatherBySeparableTables(x.values, shape, table))
  }

  static func concat<T>(_ axis: Int, _ xs: [HostTensor<T>], _ shape: Shape) -> HostTensor<T> {
    var out = [T](repeating: 0, count: shape.elementCount)
    let ost = shape.rowMajorStrides
    var offset = 0
    for x in xs {
      var coord = [Int](repeating: 0, count: x.shape.count)
      for v in x.values {
        var dst = offset * ost[axis]
        for a in 0..<coord.count { dst += coord[a] * ost[a] }
        out[dst] = v
        advance(&coord, x.shape)
      }
      offset += x.shape[axis]
    }
    return HostTensor(shape: shape, values: out)
  }

  static func scatterAdd<T>(_ axis: Int, _ idx: [Int], _ x: HostTensor<T>, _ shape: Shape) -> HostTensor<T> {
    var out = [T](repeating: 0, count: shape.elementCount)
    let ost = shape.rowMajorStrides
    var coord = [Int](repeating: 0, count: x.shape.count)
    for v in x.values {
      var dst = 0
      for a in 0..<coord.count { dst += (a == axis ? idx[coord[a]] : coord[a]) * ost[a] }
      out[dst] += v
      advance(&coord, x.shape)
    }
    return HostTensor(shape: shape, values: out)
  }

  static func reduce<T>(_ kind: ReduceOp, _ axes: [Int], _ x: HostTensor<T>, _ shape: Shape) -> HostTensor<T> {
    let kept = x.shape.indices.filter { !axes.contains($0) }
    let ost = shape.rowMajorStrides
    var strideFor = [Int](repeating: 0, count: x.shape.count)
    for (k, a) in kept.enumerated() { strideFor[a] = ost[k] }
    var out = [T](repeating: kind == .max ? -T.infinity : 0, count: shape.elementCount)
    var coord = [Int](repeating: 0, count: x.shape.count)
    for v in x.values {
      var dst = 0
      for a in 0..<coord.count { dst += coord[a] * strideFor[a] }
      switch kind {
      case .sum, .mean: out[dst] += v
      case .max: if v > out[dst] || v.isNaN { out[dst] = v }
      }
      advance(&coord, x.shape)
    }
    if kind == .mean {
      let n = T(axes.map { x.shape[$0] }.elementCount)
      for i in out.indices { out[i] = out[i] / n }
    }
    return HostTensor(shape: shape, values: out)
  }

  static func matmul<T>(_ a: HostTensor<T>, _ b: HostTensor<T>, _ shape: Shape) -> HostTensor<T> {
    let r = a.shape.count
    let m = a.shape[r - 2], k = a.shape[r - 1], n = b.shape[r - 1]
    let batch = a.shape.dropLast(2).reduce(1, *)
    var out = [T](repeating: 0, count: batch * m * n)
    for bi in 0..<batch {
      for i in 0..<m {
        for j in 0..<n {
          var acc: T = 0
          for p in 0..<k { acc += a.values[bi * m * k + i * k + p] * b.values[bi * k * n + p * n + j] }
          out[bi * m * n + i * n + j] = acc
        }
      }
    }
    return HostTensor(shape: shape, values: out)
  }

  // MARK: convolution family (NCHW)

  static func conv2d<T>(_ x: HostTensor<T>, _ w: HostTensor<T>, _ a: ConvAttrs, _ shape: Shape) -> HostTensor<T> {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
    let (ho, wo) = (shape[2], shape[3])
    let cg = c / a.groups, og = o / a.groups
    var out = [T](repeating: 0, count: shape.elementCount)
    x.values.withUnsafeBufferPointer { xv in
      w.values.withUnsafeBufferPointer { wv in
        for b in 0..<n { for oc in 0..<o {
          let g = oc / og
          for oy in 0..<ho { for ox in 0..<wo {
            var acc: T = 0
            for ic in 0..<cg {
              let xc = ((b * c + g * cg + ic) * h) * wd
              let wc = ((oc * cg + ic) * kh) * kw
              for ky in 0..<kh {
                let iy = oy * a.stride[0] - a.padding[0] + ky
                if iy < 0 || iy >= h { continue }
                for kx in 0..<kw {
                  let ix = ox * a.stride[1] - a.padding[2] + kx
                  if ix < 0 || ix >= wd { continue }
                  acc += xv[xc + iy * wd + ix] * wv[wc + ky * kw + kx]
                }
              }
            }
            out[((b * o + oc) * ho + oy) * wo + ox] = acc
          } }
        } }
      }
    }
    return HostTensor(shape: shape, values: out)
  }

  static func convTranspose2d<T>(_ x: HostTensor<T>, _ w: HostTensor<T>, _ a: ConvAttrs, _ shape: Shape) -> HostTensor<T> {
    let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cog, kh, kw) = (w.shape[1], w.shape[2], w.shape[3])
    let (cout, ho, wo) = (shape[1], shape[2], shape[3])
    let cig = cin / a.groups
    var out = [T](repeating: 0, count: shape.elementCount)
    for b in 0..<n { for ci in 0..<cin {
      let g = ci / cig
      for iy in 0..<h { for ix in 0..<wd {
        let v = x.values[((b * cin + ci) * h + iy) * wd + ix]
        for col in 0..<cog {
          let co = g * cog + col
          for ky in 0..<kh {
            let oy = iy * a.stride[0] - a.padding[0] + ky
            if oy < 0 || oy >= ho { continue }
            for kx in 0..<kw {
              let ox = ix * a.stride[1] - a.padding[2] + kx
              if ox < 0 || ox >= wo { continue }
              out[((b * cout + co) * ho + oy) * wo + ox] += v * w.values[((ci * cog + col) * kh + ky) * kw + kx]
            }
          }
        }
      } }
    } }
    return HostTensor(shape: shape, values: out)
  }

  static func conv2dWeightGrad<T>(_ x: HostTensor<T>, _ gy: HostTensor<T>, _ a: ConvAttrs, _ shape: Shape) -> HostTensor<T> {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, cg, kh, kw) = (shape[0], shape[1], shape[2], shape[3])
    let (ho, wo) = (gy.shape[2], gy.shape[3])
    let og = o / a.groups
    var out = [T](repeating: 0, count: shape.elementCount)
    for oc in 0..<o {
      let g = oc / og
      for ic in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
        var acc: T = 0
        for b in 0..<n { for oy in 0..<ho {
          let iy = oy * a.stride[0] - a.padding[0] + ky
          if iy < 0 || iy >= h { continue }
          for ox in 0..<wo {
            let ix = ox * a.stride[1] - a.padding[2] + kx
            if ix < 0 || ix >= wd { continue }
            acc += gy.values[((b * o + oc) * ho + oy) * wo + ox] * x.values[((b * c + g * cg + ic) * h + iy) * wd + ix]
          }
        } }
        out[((oc * cg + ic) * kh + ky) * kw + kx] = acc
      } } }
    }
    return HostTensor(shape: shape, values: out)
  }

  /// Calls `body(outputIndex, inputIndexOfFirstMaximum)` for every pooling window.
  static func forEachPoolArgmax<T>(_ x: HostTensor<T>, _ p: PoolAttrs, _ body: (Int, Int) -> Void) {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let ho = (h + 2 * p.padding[0] - p.kernel[0]) / p.stride[0] + 1
    let wo = (w + 2 * p.padding[1] - p.kernel[1]) / p.stride[1] + 1
    var o = 0
    for plane in 0..<(n * c) { for oy in 0..<ho { for ox in 0..<wo {
      var best = -T.infinity, arg = -1
      for ky in 0..<p.kernel[0] {
        let iy = oy * p.stride[0] - p.padding[0] + ky
        if iy < 0 || iy >= h { continue }
        for kx in 0..<p.kernel[1] {
          let ix = ox * p.stride[1] - p.padding[1] + kx
          if ix < 0 || ix >= w { continue }
          let i = (plane * h + iy) * w + ix
          if arg < 0 || x.values[i] > best || (x.values[i].isNaN && !best.isNaN) { best = x.values[i]; arg = i }
        }
      }
      body(o, arg)
      o += 1
    } } }
  }

  static func maxPool2d<T>(_ x: HostTensor<T>, _ p: PoolAttrs, _ shape: Shape) -> HostTensor<T> {
    var out = [T](repeating: 0, count: shape.elementCount)
    forEachPoolArgmax(x, p) { o, i in out[o] = x.values[i] }
    return HostTensor(shape: shape, values: out)
  }

  static func maxPool2dGrad<T>(_ x: HostTensor<T>, _ gy: HostTensor<T>, _ p: PoolAttrs) -> HostTensor<T> {
    var out = [T](repeating: 0, count: x.count)
    forEachPoolArgmax(x, p) { o, i in out[i] += gy.values[o] }
    return HostTensor(shape: x.shape, values: out)
  }

  // MARK: DFT

  /// Unnormalized DFT along axis -2 of `[..., n, 2]`, by recursive mixed-radix decimation in
  /// time (any n; prime lengths fall back to the O(n^2) sum). Computed in Double.
  static func fft<T>(_ x: HostTensor<T>, inverse: Bool) -> HostTensor<T> {
    let n = x.shape[x.shape.count - 2]
    let batch = x.count / (2 * n)
    var out = [T](repeating: 0, count: x.count)
    for b in 0..<batch {
      var re = [Double](repeating: 0, count: n), im = re
      for i in 0..<n { re[i] = Double(x.values[(b * n + i) * 2]); im[i] = Double(x.values[(b * n + i) * 2 + 1]) }
      let (fr, fi) = dft(re, im, sign: inverse ? 1 : -1)
      for i in 0..<n { out[(b * n + i) * 2] = T(fr[i]); out[(b * n + i) * 2 + 1] = T(fi[i]) }
    }
    return HostTensor(shape: x.shape, values: out)
  }

  static func dft(_ re: [Double], _ im: [Double], sign: Double) -> ([Double], [Double]) {
    let n = re.count
    if n == 1 { return (re, im) }
    var p = 2
    while p * p <= n && n % p != 0 { p += 1 }
    if n % p != 0 { p = n }
    let m = n / p
    func twiddle(_ e: Int) -> (Double, Double) {
      let ang = sign * 2 * Double.pi * Double(e % n) / Double(n)
      return (Double.cos(ang), Double.sin(ang))
    }
    if m == 1 {  // prime length: direct sum
      var outR = [Double](repeating: 0, count: n), outI = outR
      for k in 0..<n { for j in 0..<n {
        let (c, s) = twiddle(j * k)
        outR[k] += re[j] * c - im[j] * s
        outI[k] += re[j] * s + im[j] * c
      } }
      return (outR, outI)
    }
    let subs = (0..<p).map { r in dft(stride(from: r, to: n, by: p).map { re[$0] }, stride(from: r, to: n, by: p).map { im[$0] }, sign: sign) }
    var outR = [Double](repeating: 0, count: n), outI = outR
    for q in 0..<p { for k in 0..<m {
      let idx = k + m * q
      for r in 0..<p {
        let (c, s) = twiddle(r * idx)
        let (a, b) = (subs[r].0[k], subs[r].1[k])
        outR[idx] += a * c - b * s
        outI[idx] += a * s + b * c
      }
    } }
    return (outR, outI)
  }
}

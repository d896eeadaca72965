/// Builder functions for reductions, data movement, products, convolutions and the DFT.

/// Sum over `axes` (negative axes count from the end).
public func sum(_ x: Tensor, axes: [Int], keepDims: Bool = false) -> Tensor { reduce(.sum, x, axes, keepDims) }
/// Sum of all elements (a scalar).
public func sum(_ x: Tensor) -> Tensor { reduce(.sum, x, Array(0..<x.rank), false) }
public func mean(_ x: Tensor, axes: [Int], keepDims: Bool = false) -> Tensor { reduce(.mean, x, axes, keepDims) }
public func mean(_ x: Tensor) -> Tensor { reduce(.mean, x, Array(0..<x.rank), false) }
public func max(_ x: Tensor, axes: [Int], keepDims: Bool = false) -> Tensor { reduce(.max, x, axes, keepDims) }

func reduce(_ kind: ReduceOp, _ x: Tensor, _ axes: [Int], _ keepDims: Bool) -> Tensor {
  let norm = axes.map { normalizeAxis($0, rank: x.rank) ?? -1 }
  if axes.isEmpty { return x }
  let r = x.graph.add(.reduce(kind, axes: norm.sorted()), [x])
  guard keepDims, x.graph.error == nil else { return r }
  var kept = x.shape
  for a in norm { kept[a] = 1 }
  return reshape(r, kept)
}

public func reshape(_ x: Tensor, _ shape: Shape) -> Tensor {
  if x.shape == shape { return x }
  // one -1 entry is inferred, as in PyTorch
  var s = shape
  if let i = s.firstIndex(of: -1) {
    let rest = s.enumerated().filter { $0.offset != i }.map(\.element).elementCount
    s[i] = rest > 0 && x.shape.elementCount % rest == 0 ? x.shape.elementCount / rest : 0
  }
  return x.graph.add(.reshape(s), [x])
}
public func flatten(_ x: Tensor) -> Tensor { reshape(x, [x.shape.elementCount]) }

public func transpose(_ x: Tensor, _ perm: [Int]) -> Tensor {
  if perm == Array(0..<x.rank) { return x }
  return x.graph.add(.transpose(perm), [x])
}
/// Swaps the last two axes (matrix transpose of each batch element).
public func swapLastAxes(_ x: Tensor) -> Tensor {
  var p = Array(0..<x.rank)
  p.swapAt(x.rank - 1, x.rank - 2)
  return transpose(x, p)
}

/// NumPy-style broadcast to `shape` (leading axes are added as needed).
public func broadcast(_ x: Tensor, to shape: Shape) -> Tensor {
  if x.shape == shape { return x }
  var v = x
  if x.rank < shape.count { v = reshape(x, [Int](repeating: 1, count: shape.count - x.rank) + x.shape) }
  if v.shape == shape { return v }
  return x.graph.add(.broadcast(shape), [v])
}

public func slice(_ x: Tensor, start: [Int], end: [Int], step: [Int]? = nil) -> Tensor {
  let st = step ?? [Int](repeating: 1, count: x.rank)
  if start.allSatisfy({ $0 == 0 }) && end == x.shape && st.allSatisfy({ $0 == 1 }) { return x }
  return x.graph.add(.slice(start: start, end: end, step: st), [x])
}
/// `x[start..<end]` along one axis.
public func slice(_ x: Tensor, axis: Int, _ range: Range<Int>, step: Int = 1) -> Tensor {
  var s = [Int](repeating: 0, count: x.rank), e = x.shape, t = [Int](repeating: 1, count: x.rank)
  s[axis] = range.lowerBound; e[axis] = range.upperBound; t[axis] = step
  return slice(x, start: s, end: e, step: t)
}

public func pad(_ x: Tensor, lo: [Int], hi: [Int], interior: [Int]? = nil, mode: PadMode = .zero) -> Tensor {
  let inner = interior ?? [Int](repeating: 0, count: x.rank)
  if lo.allSatisfy({ $0 == 0 }) && hi.allSatisfy({ $0 == 0 }) && inner.allSatisfy({ $0 == 0 }) { return x }
  return x.graph.add(.pad(lo: lo, hi: hi, interior: inner, mode: mode), [x])
}
/// Pads the two spatial axes of an NCHW tensor: `[top, bottom, left, right]`.
public func pad2d(_ x: Tensor, _ p: [Int], mode: PadMode = .zero) -> Tensor {
  pad(x, lo: [0, 0, p[0], p[2]], hi: [0, 0, p[1], p[3]], mode: mode)
}
/// Zero insertion on the spatial axes: `out[f*i] = x[i]`, zeros elsewhere (length f*H).
public func upsampleZeros(_ x: Tensor, factor f: Int) -> Tensor {
  pad(x, lo: [0, 0, 0, 0], hi: [0, 0, f - 1, f - 1], interior: [0, 0, f - 1, f - 1])
}

public func reverse(_ x: Tensor, axes: [Int]) -> Tensor { axes.isEmpty ? x : x.graph.add(.reverse(axes), [x]) }
public func concat(_ xs: [Tensor], axis: Int) -> Tensor {
  if xs.count == 1 { return xs[0] }
  return xs[0].graph.add(.concat(axis: normalizeAxis(axis, rank: xs[0].rank) ?? -1), xs)
}
public func gather(_ x: Tensor, axis: Int, indices: [Int]) -> Tensor {
  x.graph.add(.gather(axis: axis, indices: IndexList(indices)), [x])
}
public func scatterAdd(_ x: Tensor, axis: Int, indices: [Int], size: Int) -> Tensor {
  x.graph.add(.scatterAdd(axis: axis, indices: IndexList(indices), size: size), [x])
}

/// Batched matrix product; batch axes broadcast.
public func matmul(_ a: Tensor, _ b: Tensor) -> Tensor {
  if a.rank > 2 || b.rank > 2, a.rank >= 2, b.rank >= 2 {
    let ba = Array(a.shape.dropLast(2)), bb = Array(b.shape.dropLast(2))
    if ba != bb, let batch = broadcastShapes(ba, bb) {
      return a.graph.add(.matmul, [broadcast(a, to: batch + a.shape.suffix(2)), broadcast(b, to: batch + b.shape.suffix(2))])
    }
  }
  return a.graph.add(.matmul, [a, b])
}

/// Expands PyTorch-style padding (one value, `[h, w]`, or `[top, bottom, left, right]`).
func fourSided(_ p: [Int]) -> [Int] {
  switch p.count {
  case 1: [p[0], p[0], p[0], p[0]]
  case 2: [p[0], p[0], p[1], p[1]]
  default: p
  }
}

public func conv2d(_ x: Tensor, _ w: Tensor, stride: Int = 1, padding: Int = 0, groups: Int = 1) -> Tensor {
  conv2d(x, w, stride: [stride, stride], padding: [padding], groups: groups)
}
public func conv2d(_ x: Tensor, _ w: Tensor, stride: [Int], padding: [Int], groups: Int = 1) -> Tensor {
  x.graph.add(.conv2d(ConvAttrs(stride: stride, padding: fourSided(padding), groups: groups)), [x, w])
}
/// Transposed convolution, PyTorch layout: weight `[Cin, Cout/groups, kh, kw]`.
public func convTranspose2d(_ x: Tensor, _ w: Tensor, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0, groups: Int = 1) -> Tensor {
  x.graph.add(.convTranspose2d(ConvAttrs(stride: [stride, stride], padding: fourSided([padding]), groups: groups,
                                          outputPadding: [outputPadding, outputPadding])), [x, w])
}
/// Max pooling; padded positions never win.
public func maxPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
  x.graph.add(.maxPool2d(PoolAttrs(kernel: [kernel, kernel], stride: [stride ?? kernel, stride ?? kernel], padding: [padding, padding])), [x])
}
/// Average pooling (padding counts as zeros, as PyTorch's default), as a depthwise conv.
public func avgPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
  guard x.rank == 4 else { return x.graph.fail(GraphError(op: "avg_pool2d", message: "expects NCHW, got \(x.shape.shapeText)")) }
  let c = x.shape[1]
  let w = x.graph.constant([Float](repeating: 1 / Float(kernel * kernel), count: c * kernel * kernel), [c, 1, kernel, kernel])
  return conv2d(x, w, stride: [stride ?? kernel, stride ?? kernel], padding: [padding], groups: c)
}

/// Unnormalized DFT over axis -2 of `[..., n, 2]` (real, imaginary).
public func fft(_ x: Tensor) -> Tensor { x.graph.add(.fft(inverse: false), [x]) }
/// Inverse DFT, normalized by 1/n like `numpy.fft.ifft`.
public func ifft(_ x: Tensor) -> Tensor { x.graph.add(.fft(inverse: true), [x]) * (1 / Float(x.shape[x.rank - 2])) }

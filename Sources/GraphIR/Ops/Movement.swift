/// Data-movement ops: reshape, transpose, broadcast, slice, pad, reverse, concat, gather,
/// scatter-add. Their VJPs are movement ops too, so backward graphs stay fusible.
extension Op {
  static func movementShape(_ op: Op, _ s: [Shape]) throws -> Shape {
    try expectArity(op, s)
    func bad(_ why: String) -> GraphError {
      GraphError(op: op.name, message: why + " (input " + s.map(\.shapeText).joined(separator: ", ") + ")")
    }
    switch op {
    case .reshape(let t):
      guard t.allSatisfy({ $0 > 0 }), t.elementCount == s[0].elementCount else {
        throw bad("cannot reshape to \(t.shapeText)")
      }
      return t
    case .transpose(let p):
      guard p.count == s[0].count, p.sorted() == Array(0..<p.count) else { throw bad("bad permutation \(p)") }
      return p.map { s[0][$0] }
    case .broadcast(let t):
      let x = s[0]
      guard t.count == x.count, zip(x, t).allSatisfy({ $0 == $1 || $0 == 1 }) else {
        throw bad("cannot broadcast to \(t.shapeText)")
      }
      return t
    case .slice(let start, let end, let step):
      let x = s[0]
      guard start.count == x.count, end.count == x.count, step.count == x.count else { throw bad("rank mismatch") }
      return try x.indices.map { i in
        guard step[i] >= 1, start[i] >= 0, end[i] <= x[i], start[i] < end[i] else {
          throw bad("bad range \(start[i])..<\(end[i]) step \(step[i]) on axis \(i)")
        }
        return (end[i] - start[i] + step[i] - 1) / step[i]
      }
    case .pad(let lo, let hi, let interior, let mode):
      let x = s[0]
      guard lo.count == x.count, hi.count == x.count, interior.count == x.count else { throw bad("rank mismatch") }
      return try x.indices.map { i in
        guard lo[i] >= 0, hi[i] >= 0, interior[i] >= 0 else { throw bad("negative padding on axis \(i)") }
        if mode == .reflect && (interior[i] != 0 || lo[i] >= x[i] || hi[i] >= x[i]) {
          throw bad("reflect padding \(lo[i]),\(hi[i]) needs fewer than \(x[i]) elements and no interior on axis \(i)")
        }
        return lo[i] + x[i] + (x[i] - 1) * interior[i] + hi[i]
      }
    case .reverse(let axes):
      guard axes.allSatisfy({ $0 >= 0 && $0 < s[0].count }) else { throw bad("bad axes \(axes)") }
      return s[0]
    case .concat(let axis):
      guard let first = s.first, axis >= 0, axis < first.count else { throw bad("bad axis \(axis)") }
      var out = first
      for t in s.dropFirst() {
        guard t.count == first.count, t.indices.allSatisfy({ $0 == axis || t[$0] == first[$0] }) else {
          throw bad("shapes disagree off axis \(axis)")
        }
        out[axis] += t[axis]
      }
      return out
    case .gather(let axis, let idx):
      guard axis >= 0, axis < s[0].count else { throw bad("bad axis \(axis)") }
      guard !idx.values.isEmpty, idx.values.allSatisfy({ $0 >= 0 && $0 < s[0][axis] }) else {
        throw bad("indices out of range 0..<\(s[0][axis])")
      }
      var out = s[0]; out[axis] = idx.values.count
      return out
    case .scatterAdd(let axis, let idx, let size):
      guard axis >= 0, axis < s[0].count, s[0][axis] == idx.values.count else {
        throw bad("axis \(axis) must have \(idx.values.count) elements")
      }
      guard idx.values.allSatisfy({ $0 >= 0 && $0 < size }) else { throw bad("indices out of range 0..<\(size)") }
      var out = s[0]; out[axis] = size
      return out
    default: fatalError("not a movement op: \(op)")
    }
  }

  /// Index map of reflect padding along one axis: output position -> input position.
  static func reflectIndices(n: Int, lo: Int, hi: Int) -> [Int] {
    (0..<(lo + n + hi)).map { i in
      let j = i - lo
      return j < 0 ? -j : (j >= n ? 2 * (n - 1) - j : j)
    }
  }

  /// VJP rules of the movement family.
  static func movementVJP(_ op: Op, _ x: [Tensor], _ g: Tensor) -> [Tensor?] {
    let xs = x[0].shape
    switch op {
    case .reshape: return [GraphIR.reshape(g, xs)]
    case .transpose(let p):
      var inv = p
      for (i, a) in p.enumerated() { inv[a] = i }
      return [GraphIR.transpose(g, inv)]
    case .broadcast(let t):
      let axes = xs.indices.filter { xs[$0] == 1 && t[$0] != 1 }
      return [GraphIR.reshape(GraphIR.sum(g, axes: axes), xs)]
    case .slice(let start, _, let step):
      let m = g.shape
      let hi = xs.indices.map { xs[$0] - (start[$0] + (m[$0] - 1) * step[$0] + 1) }
      return [GraphIR.pad(g, lo: start, hi: hi, interior: step.map { $0 - 1 })]
    case .pad(let lo, _, let interior, .zero):
      let end = xs.indices.map { lo[$0] + (xs[$0] - 1) * (interior[$0] + 1) + 1 }
      return [GraphIR.slice(g, start: lo, end: end, step: interior.map { $0 + 1 })]
    case .pad(let lo, let hi, _, .reflect):
      // Per padded axis: the centre, plus each mirrored border folded back onto the elements
      // it copied (x[1...lo] on the left, x[n-1-hi...n-2] on the right).
      var r = g
      for a in xs.indices where lo[a] > 0 || hi[a] > 0 {
        let n = xs[a]
        func edge(_ range: Range<Int>, _ before: Int, _ after: Int) -> Tensor {
          var l = [Int](repeating: 0, count: xs.count), h = l
          l[a] = before; h[a] = after
          return GraphIR.pad(GraphIR.reverse(GraphIR.slice(r, axis: a, range), axes: [a]), lo: l, hi: h)
        }
        var sum = GraphIR.slice(r, axis: a, lo[a]..<(lo[a] + n))
        if lo[a] > 0 { sum = sum + edge(0..<lo[a], 1, n - 1 - lo[a]) }
        if hi[a] > 0 { sum = sum + edge((lo[a] + n)..<(lo[a] + n + hi[a]), n - 1 - hi[a], 1) }
        r = sum
      }
      return [r]
    case .reverse(let axes): return [GraphIR.reverse(g, axes: axes)]
    case .concat(let axis):
      var offset = 0
      return x.map { part in
        var start = [Int](repeating: 0, count: g.rank), end = g.shape
        start[axis] = offset; end[axis] = offset + part.shape[axis]
        offset += part.shape[axis]
        return GraphIR.slice(g, start: start, end: end)
      }
    case .gather(let axis, let idx): return [GraphIR.scatterAdd(g, axis: axis, indices: idx.values, size: xs[axis])]
    case .scatterAdd(let axis, let idx, _): return [GraphIR.gather(g, axis: axis, indices: idx.values)]
    default: fatalError("not a movement op: \(op)")
    }
  }
}

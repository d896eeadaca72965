import Testing
@testable import Codegen

/// The Winograd input transform, whose row loops are split into border tiles and an interior
/// without clamps (rows of 8, 64 and 128 tiles): compiled and interpreted, against B^T d B
/// computed here in double precision from the zero-padded input.
@Suite struct WinogradInputTests {
  /// V[xi, c, t] by definition: the a x a window of tile t (zero outside the input), B^T d B.
  static func reference(_ x: [Float], c: Int, h: Int, w: Int, ho: Int, wo: Int, pad: Int,
                        _ t: WinogradKernels.Transform) -> [Double] {
    let (m, a) = (t.m, t.a)
    let (th, tw) = (ho / m, wo / m)
    let tiles = th * tw
    var v = [Double](repeating: 0, count: a * a * c * tiles)
    for ch in 0..<c {
      for ty in 0..<th {
        for tx in 0..<tw {
          func d(_ i: Int, _ j: Int) -> Double {
            let (y, xx) = (ty * m + i - pad, tx * m + j - pad)
            return y >= 0 && y < h && xx >= 0 && xx < w ? Double(x[(ch * h + y) * w + xx]) : 0
          }
          for p in 0..<a {
            for q in 0..<a {
              var s = 0.0
              for i in 0..<a { for j in 0..<a { s += Double(t.bt[p][i]) * d(i, j) * Double(t.bt[q][j]) } }
              v[(p * a + q) * c * tiles + ch * tiles + ty * tw + tx] = s
            }
          }
        }
      }
    }
    return v
  }

  @Test(arguments: [(WinogradKernels.Transform.f2, 128), (WinogradKernels.Transform.f4, 256),
                    (WinogradKernels.Transform.f2, 16)])
  func splitRowsMatchTheDefinition(transform t: WinogradKernels.Transform, width: Int) throws {
    let (c, h, pad) = (3, 8, 1)
    let kernel = WinogradKernels.inputTransform(x: [1, c, h, width], padTop: pad, padLeft: pad, ho: h, wo: width, t)
    guard case .loop(let rows) = kernel.parallel.body[0] else { Issue.record("no row loop"); return }
    #expect(rows.body.count == 3)  // left border tile, interior, right border tile
    if case .loop(let interior) = rows.body[1] {
      #expect(interior.extent == width / t.m - 2)
      // no column is clamped or tested there (the rows still are: they depend on ty alone)
      let readsTx: (ExprNode) -> Bool = { $0.reads(["tx"]) }
      #expect(!interior.body.contains { s in
        s.containsExpression { node in
          switch node {
          case .bool: return readsTx(node)
          case .int(.binary(.min, _, _)), .int(.binary(.max, _, _)): return readsTx(node)
          default: return false
          }
        }
      })
    }
    let x = randomFloats(c * h * width, seed: 11)
    let v = [Float](repeating: .nan, count: kernel.buffers[0].count)
    let (jit, interpreted) = try runBoth(kernel, [v, x], scalars: [0, 0])
    let truth = Self.reference(x, c: c, h: h, w: width, ho: h, wo: width, pad: pad, t)
    // the a^2 planes of V lie `WinogradKernels.plane(c x tiles)` floats apart
    let n = truth.count / (t.a * t.a), plane = WinogradKernels.plane(n)
    #expect(kernel.buffers[0].count == t.a * t.a * plane && plane >= n && plane % 32 == 16)
    let planes = { (v: [Float]) in (0..<t.a * t.a).flatMap { v[($0 * plane)..<($0 * plane + n)] } }
    #expect(close(planes(jit[0]), truth, tol: 1e-5))
    #expect(close(planes(interpreted[0]), truth, tol: 1e-5))
  }
}

/// The Winograd output transform on rows of few tiles (8 and 32: a 16x16 and a 64x16 output):
/// one loop per tile row whose strided stores vectorize (`IREmitter.strided`: their addresses as
/// GEP chains), with the interpreter's bits and A^T M A computed here in double precision.
@Suite struct WinogradOutputTests {
  @Test(arguments: [(16, 16), (16, 64)])
  func shortRowsVectorizeAndMatchTheDefinition(shape: (Int, Int)) throws {
    let t = WinogradKernels.Transform.f2
    let (o, ho, wo) = (3, shape.0, shape.1)
    let (th, tw) = (ho / 2, wo / 2)
    let kernel = WinogradKernels.outputTransform(y: [1, o, ho, wo], t)
    let compiled = try makeCompiler().compile(kernel)
    #expect(compiled.report.vectorWidth >= 4, "\(compiled.report)")
    let plane = WinogradKernels.plane(o * th * tw)
    let m = randomFloats(16 * plane, seed: 5)
    let y = [Float](repeating: .nan, count: o * ho * wo)
    let (jit, interpreted) = try runBoth(kernel, [y, m], scalars: [0, 0])
    #expect(jit[0].map(\.bitPattern) == interpreted[0].map(\.bitPattern))
    var want = [Double](repeating: 0, count: o * ho * wo)
    for c in 0..<o { for ty in 0..<th { for tx in 0..<tw { for p in 0..<2 { for q in 0..<2 {
      var s = 0.0
      for i in 0..<4 { for j in 0..<4 {
        s += Double(t.at[p][i]) * Double(m[(i * 4 + j) * plane + c * th * tw + ty * tw + tx]) * Double(t.at[q][j])
      } }
      want[(c * ho + ty * 2 + p) * wo + tx * 2 + q] = s
    } } } } }
    #expect(close(jit[0], want, tol: 1e-5))
  }
}

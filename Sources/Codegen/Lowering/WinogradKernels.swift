import GraphIR

/// Winograd F(2x2, 3x3) convolution (Lavin & Gray 2016): a 3x3, stride-1 convolution
/// computed per 2x2 output tile from a 4x4 input tile with 16 multiplies per channel pair
/// instead of 36, i.e. 16 GEMMs `M[xi] = U[xi] (O x C) * V[xi] (C x T)` over T tiles,
/// between three generated transforms:
///   U = G g G^T (weights), V = B^T d B (input tiles), y = A^T M A (output tiles), with
///   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
///   A^T = [1 1 1 0; 0 1 -1 -1].
/// It computes cross-correlation, as conv2d does. A stride-1 transposed convolution is the
/// convolution with the weight's channel axes swapped and its taps flipped (`transposed`).
public enum WinogradKernels {
  /// Output tiles of a convolution producing `ho x wo` (both even).
  public static func tiles(_ ho: Int, _ wo: Int) -> (th: Int, tw: Int) { (ho / 2, wo / 2) }

  /// `U[(a*4+b), o, c]` from weights `w`. For a plain conv, w is [O, C, 3, 3]; for a
  /// transposed conv, w is [C, O, 3, 3] and is read swapped and flipped.
  public static func weightTransform(o: Int, c: Int, transposed: Bool) -> Kernel {
    var alg = IndexAlgebra()
    alg.ranges["o"] = 0...(o - 1)
    alg.ranges["c"] = 0...(c - 1)
    func g(_ i: Int, _ j: Int) -> FloatExpr {
      let idx: IntExpr = transposed
        ? alg.add(alg.mul(alg.add(alg.mul(.variable("c"), o), .variable("o")), 9), .const((2 - i) * 3 + (2 - j)))
        : alg.add(alg.mul(alg.add(alg.mul(.variable("o"), c), .variable("c")), 9), .const(i * 3 + j))
      return .load(buffer: 1, index: idx)
    }
    var stmts: [Stmt] = []
    for i in 0..<3 { for j in 0..<3 { stmts.append(.letFloat("g\(i)\(j)", g(i, j))) } }
    // t = G g (4x3), then U = t G^T (4x4)
    func gRow(_ a: Int, _ col: (Int) -> FloatExpr) -> FloatExpr {
      switch a {
      case 0: return col(0)
      case 1: return .binary(.mul, .binary(.add, .binary(.add, col(0), col(1)), col(2)), .const(0.5))
      case 2: return .binary(.mul, .binary(.add, .binary(.sub, col(0), col(1)), col(2)), .const(0.5))
      default: return col(2)
      }
    }
    for a in 0..<4 { for j in 0..<3 { stmts.append(.letFloat("t\(a)\(j)", gRow(a) { .variable("g\($0)\(j)") })) } }
    let oc = alg.add(alg.mul(.variable("o"), c), .variable("c"))
    for a in 0..<4 {
      for b in 0..<4 {
        stmts.append(.store(buffer: 0, index: alg.add(oc, .const((a * 4 + b) * o * c)), value: gRow(b) { .variable("t\(a)\($0)") }))
      }
    }
    return Kernel(name: "winograd_weights\(transposed ? "_t" : "")",
                  buffers: [KernelBuffer("U", .output, count: 16 * o * c), KernelBuffer("w", .input, count: o * c * 9)],
                  parallel: Loop("o", o, [.loop(Loop("c", c, stmts))]))
  }

  /// `V[(a*4+b), c, t]` from input sample n (scalar 0) of `x` [N, C, H, W] padded by
  /// (top, left) and producing `ho x wo` outputs.
  public static func inputTransform(x: Shape, padTop: Int, padLeft: Int, ho: Int, wo: Int) -> Kernel {
    let (c, h, w) = (x[1], x[2], x[3])
    let (th, tw) = tiles(ho, wo)
    let t = th * tw
    var alg = IndexAlgebra()
    alg.ranges["c"] = 0...(c - 1)
    alg.ranges["t"] = 0...(t - 1)
    let ty = alg.floorDiv(.variable("t"), tw), tx = alg.mod(.variable("t"), tw)
    var stmts: [Stmt] = []
    let plane = alg.mul(alg.add(alg.mul(.scalar(0), c), .variable("c")), h * w)
    for i in 0..<4 {
      let iy = alg.add(alg.mul(ty, 2), .const(i - padTop))
      for j in 0..<4 {
        let ix = alg.add(alg.mul(tx, 2), .const(j - padLeft))
        let valid = alg.and(alg.and(alg.atLeast(iy, 0), alg.less(iy, h)), alg.and(alg.atLeast(ix, 0), alg.less(ix, w)))
        let v: FloatExpr = .load(buffer: 1, index: alg.add(plane, alg.add(alg.mul(alg.clamp(iy, 0, h - 1), w), alg.clamp(ix, 0, w - 1))))
        stmts.append(.letFloat("d\(i)\(j)", valid == .const(true) ? v : .select(valid, v, .const(0))))
      }
    }
    func bRow(_ a: Int, _ col: (Int) -> FloatExpr) -> FloatExpr {
      switch a {
      case 0: return .binary(.sub, col(0), col(2))
      case 1: return .binary(.add, col(1), col(2))
      case 2: return .binary(.sub, col(2), col(1))
      default: return .binary(.sub, col(1), col(3))
      }
    }
    for a in 0..<4 { for j in 0..<4 { stmts.append(.letFloat("s\(a)\(j)", bRow(a) { .variable("d\($0)\(j)") })) } }
    let ct = alg.add(alg.mul(.variable("c"), t), .variable("t"))
    for a in 0..<4 {
      for b in 0..<4 {
        stmts.append(.store(buffer: 0, index: alg.add(ct, .const((a * 4 + b) * c * t)), value: bRow(b) { .variable("s\(a)\($0)") }))
      }
    }
    return Kernel(name: "winograd_input",
                  buffers: [KernelBuffer("V", .output, count: 16 * c * t), KernelBuffer("x", .input, count: x.elementCount)],
                  scalars: ["n"], parallel: Loop("c", c, [.loop(Loop("t", t, stmts))]))
  }

  /// Output sample n (scalar 0) of `y` [N, O, ho, wo] from `M[(a*4+b), o, t]`.
  public static func outputTransform(y: Shape) -> Kernel {
    let (o, ho, wo) = (y[1], y[2], y[3])
    let (th, tw) = tiles(ho, wo)
    let t = th * tw
    var alg = IndexAlgebra()
    alg.ranges["o"] = 0...(o - 1)
    alg.ranges["t"] = 0...(t - 1)
    let ty = alg.floorDiv(.variable("t"), tw), tx = alg.mod(.variable("t"), tw)
    var stmts: [Stmt] = []
    let ot = alg.add(alg.mul(.variable("o"), t), .variable("t"))
    for a in 0..<4 { for b in 0..<4 { stmts.append(.letFloat("m\(a)\(b)", .load(buffer: 1, index: alg.add(ot, .const((a * 4 + b) * o * t))))) } }
    func aRow(_ p: Int, _ col: (Int) -> FloatExpr) -> FloatExpr {
      p == 0 ? .binary(.add, .binary(.add, col(0), col(1)), col(2)) : .binary(.sub, .binary(.sub, col(1), col(2)), col(3))
    }
    for p in 0..<2 { for b in 0..<4 { stmts.append(.letFloat("r\(p)\(b)", aRow(p) { .variable("m\($0)\(b)") })) } }
    let base = alg.mul(alg.add(alg.mul(.scalar(0), o), .variable("o")), ho * wo)
    for p in 0..<2 {
      for q in 0..<2 {
        let pos = alg.add(base, alg.add(alg.mul(alg.add(alg.mul(ty, 2), .const(p)), wo), alg.add(alg.mul(tx, 2), .const(q))))
        stmts.append(.store(buffer: 0, index: pos, value: aRow(q) { .variable("r\(p)\($0)") }))
      }
    }
    return Kernel(name: "winograd_output",
                  buffers: [KernelBuffer("y", .output, count: y.elementCount), KernelBuffer("M", .input, count: 16 * o * t)],
                  scalars: ["n"], parallel: Loop("o", o, [.loop(Loop("t", t, stmts))]))
  }
}

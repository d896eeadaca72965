import GraphIR

/// Winograd convolution F(m x m, r x r) (Lavin & Gray 2016) for 3x3 kernels with m = 2 and m = 4,
/// and for 2x2 kernels with m = 3: a stride-1 convolution computed per m x m output tile from an
/// a x a input tile (a = m + r - 1) with a^2 multiplies per channel pair instead of r^2 m^2: a^2 GEMMs
/// `M[xi] = U[xi] (O x C) * V[xi] (C x T)` over T tiles, between three generated transforms,
///   U = G g G^T (weights), V = B^T d B (input tiles), y = A^T M A (output tiles).
/// F(2x2) needs 4 multiplies per output, F(4x4) 2.25 (direct: 9), F(3x3, 2x2) 1.8 (direct: 4); F(4x4) has larger
/// transforms and larger rounding errors, which its interpolation points decide (below).
/// It computes cross-correlation, as conv2d does. A stride-1 transposed convolution is the
/// convolution with the weight's channel axes swapped and its taps flipped (`transposed`).
public enum WinogradKernels {
  /// The transform matrices of F(m x m, 3 x 3), made by the Toom-Cook construction from their
  /// interpolation points (and infinity): F(2x2) from 0, 1, -1; F(4x4) from 0, 1, -1, 1/2, -2.
  /// The usual F(4x4) points 0, +-1, +-2 lose about 3x more accuracy per layer (relative error
  /// 7-9e-6 against 2-3e-6 on a random 128-channel layer, float32 against float64, in a numpy
  /// model of these kernels; F(2x2): 4e-7), and with F(4x4) on every layer of LPIPS-VGG, through
  /// its 13 layers and back, they moved a gradient by 6.8e-3 where these points keep it within
  /// 6.9e-6 of the golden values (F(2x2): 4.9e-6): the pair 1/2, -2 keeps the transforms'
  /// entries (powers of the points) small. Still, with F(4x4) on the
  /// 64x64 and 32x32 layers and F(2x2) below, one LPIPS-VGG gradient moved by 2e-3 (relative L2;
  /// 7 % of its elements by over 1e-4 of its largest): F(2x2) stays the default (README).
  public struct Transform: Sendable {
    public let m: Int
    /// Taps per axis of the kernel (3, or 2 for `f3r2`).
    public let r: Int
    public var a: Int { m + r - 1 }
    let bt: [[Float]]  // a x a
    let g: [[Float]]  // a x r
    let at: [[Float]]  // m x a
    /// Kernel and step names: `winograd2`, `winograd4`, `winograd3r2`.
    public var name: String { r == 3 ? "winograd\(m)" : "winograd\(m)r\(r)" }

    public static let f2 = Transform(m: 2, r: 3,
      bt: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
      g: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
      at: [[1, 1, 1, 0], [0, 1, -1, -1]])
    public static let f4 = Transform(m: 4, r: 3,
      bt: [[1, -1.5, -2, 1.5, 1, 0], [0, -1, 0.5, 2.5, 1, 0], [0, 1, -2.5, 0.5, 1, 0],
           [0, -2, -1, 2, 1, 0], [0, 0.5, -1, -0.5, 1, 0], [0, 1, -1.5, -2, 1.5, 1]],
      g: [[1, 0, 0], [1.0 / 3, 1.0 / 3, 1.0 / 3], [-1.0 / 3, 1.0 / 3, -1.0 / 3],
          [-16.0 / 15, -8.0 / 15, -4.0 / 15], [1.0 / 15, -2.0 / 15, 4.0 / 15], [0, 0, 1]],
      at: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 0.5, -2, 0], [0, 1, 1, 0.25, 4, 0], [0, 1, -1, 0.125, -8, 1]])
    /// F(3x3, 2x2), from the points 0, 1, -1 as F(2x2): 16 multiplies for 9 outputs of a 2x2
    /// kernel (direct: 36). A stride-2 transposed 3x3 convolution's largest phase is such a
    /// kernel (`TransposedConvPhases`: 4 of its 9 taps), on outputs 2^k + 1 wide (33 = 3 x 11).
    public static let f3r2 = Transform(m: 3, r: 2,
      bt: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, -1, 0, 1]],
      g: [[1, 0], [0.5, 0.5], [0.5, -0.5], [0, 1]],
      at: [[1, 1, 1, 0], [0, 1, -1, 0], [0, 1, 1, 1]])

    /// Tile rows and columns covering an `ho x wo` output; the last ones may reach past it.
    public func tiles(ho: Int, wo: Int) -> (rows: Int, columns: Int) { ((ho + m - 1) / m, (wo + m - 1) / m) }

    /// Whether whole tiles cover an `ho x wo` output exactly (else the last ones reach past it,
    /// and the output is transformed whole: `outputTransform`).
    public func divides(ho: Int, wo: Int) -> Bool { ho % m == 0 && wo % m == 0 }

    /// With F(4x4) asked for (`ProgramOptions.winogradF4`): F(4x4) where it divides the output
    /// into at least 64 tiles (32x32 and up), else F(2x2). Measured side by side per layer
    /// (`iloc profile stylegan2-64` and `ilo-step-256`, 2 threads, AVX-512): F(4x4) took
    /// 0.71-0.97 of F(2x2)'s time on 32x32 and larger outputs, but 1.2-1.6x on 16x16 ones (16
    /// tiles: 36 products of 16 columns, each reading its transformed weights, 2.25x F(2x2)'s).
    public static func forOutput(ho: Int, wo: Int) -> Transform {
      ho % 4 == 0 && wo % 4 == 0 && (ho / 4) * (wo / 4) >= 64 ? f4 : f2
    }
  }

  /// The distance in floats between the a^2 planes of V (n = c x tiles) and of M (n = o x
  /// tiles): n rounded up to 16 floats (64 bytes), and then an odd multiple of 16. Each
  /// transform writes (or reads) all a^2 planes of a tile at once; planes a power-of-two
  /// distance apart (128 channels x 128 tiles: 64 KB) fall into one set of the L1 cache, which
  /// holds 12 lines on Zen 5 (a^2 = 16 streams), so every store evicted the line of another.
  public static func plane(_ n: Int) -> Int {
    let p = (n + 15) / 16 * 16
    return p % 32 == 0 ? p + 16 : p
  }

  /// `sum_j row[j] * v(j)`, skipping zeros and multiplications by +-1.
  static func combine(_ row: [Float], _ v: (Int) -> FloatExpr) -> FloatExpr {
    var e: FloatExpr?
    for (j, c) in row.enumerated() where c != 0 {
      let term: FloatExpr = c == 1 || c == -1 ? v(j) : .binary(.mul, v(j), .const(Swift.abs(c)))
      if let acc = e { e = .binary(c < 0 ? .sub : .add, acc, term) } else { e = c < 0 ? .unary(.neg, term) : term }
    }
    return e ?? .const(0)
  }

  /// `U[xi, o, c]` (xi = row-major index in the a x a tile) from weights `w`. For a plain conv,
  /// w is [O, C, r, r]; for a transposed conv, w is [C, O, r, r], read swapped and flipped.
  public static func weightTransform(o: Int, c: Int, transposed: Bool, _ t: Transform) -> Kernel {
    var alg = IndexAlgebra()
    alg.ranges["o"] = 0...(o - 1)
    alg.ranges["c"] = 0...(c - 1)
    let r = t.r
    var stmts: [Stmt] = []
    for i in 0..<r {
      for j in 0..<r {
        let idx: IntExpr = transposed
          ? alg.add(alg.mul(alg.add(alg.mul(.variable("c"), o), .variable("o")), r * r),
                    .const((r - 1 - i) * r + (r - 1 - j)))
          : alg.add(alg.mul(alg.add(alg.mul(.variable("o"), c), .variable("c")), r * r), .const(i * r + j))
        stmts.append(.letFloat("g\(i)\(j)", .load(buffer: 1, index: idx)))
      }
    }
    let a = t.a
    for p in 0..<a {
      for j in 0..<r { stmts.append(.letFloat("t\(p)_\(j)", combine(t.g[p]) { .variable("g\($0)\(j)") })) }
    }
    let oc = alg.add(alg.mul(.variable("o"), c), .variable("c"))
    for p in 0..<a {
      for q in 0..<a {
        stmts.append(.store(buffer: 0, index: alg.add(oc, .const((p * a + q) * o * c)), value: combine(t.g[q]) { .variable("t\(p)_\($0)") }))
      }
    }
    return Kernel(name: "\(t.name)_weights\(transposed ? "_t" : "")",
                  buffers: [KernelBuffer("U", .output, count: a * a * o * c),
                            KernelBuffer("w", .input, count: o * c * r * r)],
                  parallel: Loop("o", o, [.loop(Loop("c", c, stmts))]))
  }

  /// `V[xi, c, t]` from input sample n (scalar 0) of `x` [N, C, H, W] padded by
  /// (top, left) and producing `ho x wo` outputs (the tiles may reach past them), for `rows` tile
  /// rows from tile row `scalar 1` on (all of them by default): a block of the tiles, so that the
  /// transformed tiles of a large image need not all be held at once. Each row of tiles is split
  /// into the tiles whose window crosses the left or right edge and the interior
  /// (`KernelLowering.rowSegments`), where no column is clamped or masked: there its loads are
  /// plain stride-m rows that vectorize as interleaved loads, where the clamped ones became
  /// gathers (the transforms of StyleGAN2's 128-channel 256x256 layers took a third of their
  /// steps' time).
  public static func inputTransform(x: Shape, padTop: Int, padLeft: Int, ho: Int, wo: Int, _ t: Transform,
                                    rows: Int? = nil) -> Kernel {
    let (c, m, a) = (x[1], t.m, t.a)
    let all = t.tiles(ho: ho, wo: wo)
    let (th, tw) = (rows ?? all.rows, all.columns)
    var alg = IndexAlgebra()
    alg.ranges["c"] = 0...(c - 1)
    let tile = InputTile(x: x, padTop: padTop, padLeft: padLeft, transform: t, tiles: th * tw, tileColumns: tw,
                         wholeImage: th == all.rows)
    // a loop per tile row, tile tx reading input columns tx * m - padLeft + (0..<a): a row of
    // a-wide taps at stride m. (One loop over all tiles of rows under 64 tiles, dividing by the
    // row width, measured faster before masked interleaved loads; with them and row loops for
    // the output transform too, `ilo-step-256`'s Winograd time outside its products fell
    // 205 -> 167 ms.)
    alg.ranges["ty"] = 0...(th - 1)
    let segments = KernelLowering.rowSegments(width: tw, input: x[3], kernel: a, padLeft: padLeft, stride: m)
    let parts = alg.segmentLoops("tx", segments) { tile.statements(&$0, blockRow: .variable("ty"), tx: $1) }
    let body = Stmt.loop(Loop("ty", th, parts))
    return Kernel(name: "\(t.name)_input",
                  buffers: [KernelBuffer("V", .output, count: a * a * plane(c * th * tw)),
                            KernelBuffer("x", .input, count: x.elementCount)],
                  scalars: ["n", "row0"], parallel: Loop("c", c, [body]))
  }

  /// The statements of one input tile: its a x a window (zero outside the input), B^T d B, and
  /// the a^2 stores into V.
  struct InputTile {
    let x: Shape, padTop: Int, padLeft: Int, transform: Transform
    let tiles: Int, tileColumns: Int
    /// Whether the tile rows are the whole image's (else a block from tile row `scalar 1`).
    let wholeImage: Bool

    func statements(_ alg: inout IndexAlgebra, blockRow: IntExpr, tx: IntExpr) -> [Stmt] {
      let (c, h, w) = (x[1], x[2], x[3])
      let (m, a, t) = (transform.m, transform.a, transform)
      let ty = wholeImage ? blockRow : alg.add(blockRow, .scalar(1))
      var stmts: [Stmt] = []
      let plane = alg.mul(alg.add(alg.mul(.scalar(0), c), .variable("c")), h * w)
      for i in 0..<a {
        let iy = alg.add(alg.mul(ty, m), .const(i - padTop))
        for j in 0..<a {
          let ix = alg.add(alg.mul(tx, m), .const(j - padLeft))
          stmts.append(.letFloat("d\(i)_\(j)", alg.zeroPaddedLoad(buffer: 1, plane: plane, row: iy, column: ix,
                                                                  height: h, width: w)))
        }
      }
      for p in 0..<a {
        for j in 0..<a { stmts.append(.letFloat("s\(p)_\(j)", combine(t.bt[p]) { .variable("d\($0)_\(j)") })) }
      }
      let ct = alg.add(alg.mul(.variable("c"), tiles), alg.add(alg.mul(blockRow, tileColumns), tx))  // t = row·tw + tx
      let stride = WinogradKernels.plane(c * tiles)
      for p in 0..<a {
        for q in 0..<a {
          let value = combine(t.bt[q]) { .variable("s\(p)_\($0)") }
          stmts.append(.store(buffer: 0, index: alg.add(ct, .const((p * a + q) * stride)), value: value))
        }
      }
      return stmts
    }
  }

  /// Output sample n (scalar 0) of `y` [N, O, ho, wo] from `M[xi, o, t]`, for the block of
  /// `rows` tile rows from tile row `scalar 1` on (all of them by default). Where the tiles reach
  /// past the output (`f3r2` on 2^k + 1 or 2^k outputs), the last tile row and column store only
  /// their outputs inside it; such outputs are transformed whole (no blocks).
  public static func outputTransform(y: Shape, _ t: Transform, rows: Int? = nil) -> Kernel {
    let (o, ho, wo) = (y[1], y[2], y[3])
    let (m, a) = (t.m, t.a)
    let all = t.tiles(ho: ho, wo: wo)
    let (th, tw) = (rows ?? all.rows, all.columns)
    let ragged = !t.divides(ho: ho, wo: wo)
    precondition(!ragged || th == all.rows, "a ragged Winograd output is transformed whole")
    let tiles = th * tw, stride = plane(o * tiles)
    var alg = IndexAlgebra()
    alg.ranges["o"] = 0...(o - 1)
    /// The statements of tile (blockRow, tx), storing its first `height x width` outputs.
    func tile(_ alg: inout IndexAlgebra, blockRow: IntExpr, tx: IntExpr, height: Int, width: Int) -> [Stmt] {
      let ty = th == all.rows ? blockRow : alg.add(blockRow, .scalar(1))
      var stmts: [Stmt] = []
      let ot = alg.add(alg.mul(.variable("o"), tiles), alg.add(alg.mul(blockRow, tw), tx))
      for p in 0..<a {
        for q in 0..<a {
          stmts.append(.letFloat("m\(p)_\(q)", .load(buffer: 1, index: alg.add(ot, .const((p * a + q) * stride)))))
        }
      }
      for p in 0..<height {
        for q in 0..<a { stmts.append(.letFloat("r\(p)_\(q)", combine(t.at[p]) { .variable("m\($0)_\(q)") })) }
      }
      let base = alg.mul(alg.add(alg.mul(.scalar(0), o), .variable("o")), ho * wo)
      for p in 0..<height {
        for q in 0..<width {
          let row = alg.mul(alg.add(alg.mul(ty, m), .const(p)), wo)
          let pos = alg.add(base, alg.add(row, alg.add(alg.mul(tx, m), .const(q))))
          stmts.append(.store(buffer: 0, index: pos, value: combine(t.at[q]) { .variable("r\(p)_\($0)") }))
        }
      }
      return stmts
    }
    let (lastHeight, lastWidth) = ragged ? (ho - (th - 1) * m, wo - (tw - 1) * m) : (m, m)
    let body = tileNest(&alg, rows: th, columns: tw, lastHeight: lastHeight, lastWidth: lastWidth, m: m, tile)
    return Kernel(name: "\(t.name)_output",
                  buffers: [KernelBuffer("y", .output, count: y.elementCount),
                            KernelBuffer("M", .input, count: a * a * stride)],
                  scalars: ["n", "row0"], parallel: Loop("o", o, body))
  }

  /// Loops over `rows x columns` tiles whose last row and column are `lastHeight` and `lastWidth`
  /// outputs high and wide (at most m): the full tiles, then the last column's, the last row's and
  /// the corner, each with its own statements (`tile(alg, ty, tx, height, width)`). A loop per
  /// tile row and one over its tiles even when rows are short: a single loop over all tiles
  /// divides each by the row width and its m x m stores scatter, which never vectorized (with
  /// the row loops and `IREmitter.element`'s store addresses they vectorize: a `stylegan2-64`
  /// step's time outside its GEMM calls 44 -> 35 ms; the transforms of its 64x64 Winograd steps
  /// 7.0 -> 4.4 ms each).
  static func tileNest(_ alg: inout IndexAlgebra, rows th: Int, columns tw: Int, lastHeight: Int, lastWidth: Int,
                       m: Int, _ tile: (inout IndexAlgebra, IntExpr, IntExpr, Int, Int) -> [Stmt]) -> [Stmt] {
    let (fullRows, fullColumns) = (lastHeight == m ? th : th - 1, lastWidth == m ? tw : tw - 1)
    alg.ranges["ty"] = 0...Swift.max(th - 1, 0)
    alg.ranges["tx"] = 0...Swift.max(tw - 1, 0)
    let (ty, tx): (IntExpr, IntExpr) = (.variable("ty"), .variable("tx"))
    /// One tile row's statements: the full-width tiles in a loop, then the narrow last one.
    func row(_ alg: inout IndexAlgebra, height: Int) -> [Stmt] {
      var stmts: [Stmt] = []
      if fullColumns > 0 { stmts.append(.loop(Loop("tx", fullColumns, tile(&alg, ty, tx, height, m)))) }
      if fullColumns < tw { stmts += [.letInt("tx", .const(tw - 1))] + tile(&alg, ty, tx, height, lastWidth) }
      return stmts
    }
    var stmts: [Stmt] = []
    if fullRows > 0 { stmts.append(.loop(Loop("ty", fullRows, row(&alg, height: m)))) }
    if fullRows < th { stmts += [.letInt("ty", .const(th - 1))] + row(&alg, height: lastHeight) }
    return stmts
  }
}

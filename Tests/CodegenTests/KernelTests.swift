import Foundation
import Testing
@testable import Codegen

/// Compiled kernels (and the interpreter) against plain Swift loops.
@Suite struct KernelTests {
  /// y[b,c,h,w] = leaky(tanh(x*scale[c] + bias[c])): per-channel broadcast through a
  /// flattened parallel index split by floorDiv/mod.
  @Test func elementwiseWithBroadcast() throws {
    let (B, C, HW) = (2, 3, 20)
    let n = B * C * HW
    let c: IntExpr = .mod(i, IntExpr(integerLiteral: C))
    let x: FloatExpr = .load(buffer: 0, index: i * .const(HW) + j)
    let t: FloatExpr = .variable("t")
    let kernel = Kernel(
      name: "scale_bias_act",
      buffers: [KernelBuffer("x", .input, count: n), KernelBuffer("scale", .input, count: C),
                KernelBuffer("bias", .input, count: C), KernelBuffer("y", .output, count: n)],
      parallel: Loop("i", B * C, [
        .letFloat("s", .load(buffer: 1, index: c)),
        .loop("j", HW, [
          .letFloat("t", .tanh(.fma(x, .variable("s"), .load(buffer: 2, index: c)))),
          .store(buffer: 3, index: i * .const(HW) + j, value: .select(t > 0, t, t * 0.2)),
        ]),
      ]))
    let xs = randomFloats(n, seed: 1, in: -3, 3), scale: [Float] = [0.5, -1.5, 2], bias: [Float] = [0.1, 0, -0.3]
    var truth = [Double](repeating: 0, count: n)
    for b in 0..<B { for ch in 0..<C { for p in 0..<HW {
      let idx = (b * C + ch) * HW + p
      let t = Foundation.tanh(Double(xs[idx]) * Double(scale[ch]) + Double(bias[ch]))
      truth[idx] = t > 0 ? t : 0.2 * t
    } } }
    let (jit, interp) = try runBoth(kernel, [xs, scale, bias, [Float](repeating: 0, count: n)])
    #expect(close(jit[3], truth, tol: 1e-6))
    #expect(close(interp[3], truth, tol: 1e-6))
  }

  /// Row sums (a mean, via the init value and a scale) and row maxima of a matrix.
  @Test func reductions() throws {
    let (R, K) = (37, 129)
    let row: FloatExpr = .load(buffer: 0, index: i * .const(K) + k)
    let kernel = Kernel(
      name: "row_stats",
      buffers: [KernelBuffer("x", .input, count: R * K), KernelBuffer("sum", .output, count: R),
                KernelBuffer("max", .output, count: R), KernelBuffer("min", .output, count: R)],
      parallel: Loop("i", R, [
        .accumulator("s", .sum, initial: 10),
        .accumulator("m", .max, initial: -.infinity),
        .accumulator("lo", .min, initial: 0.25),
        .loop("k", K, [.accumulate("s", row), .accumulate("m", row), .accumulate("lo", row)]),
        .store(buffer: 1, index: i, value: .variable("s")),
        .store(buffer: 2, index: i, value: .variable("m")),
        .store(buffer: 3, index: i, value: .variable("lo")),
      ]))
    var xs = randomFloats(R * K, seed: 2, in: 0, 4)
    xs[5 * K + 17] = .nan  // row 5: max and min must be NaN (NaN-propagating reductions)
    let zeros = [Float](repeating: 0, count: R)
    let (jit, interp) = try runBoth(kernel, [xs, zeros, zeros, zeros])
    for r in 0..<R {
      let values = xs[(r * K)..<((r + 1) * K)]
      if r == 5 {
        #expect(jit[2][r].isNaN && jit[3][r].isNaN && interp[2][r].isNaN)
        continue
      }
      let sum = 10 + values.reduce(0.0) { $0 + Double($1) }
      #expect(abs(Double(jit[1][r]) - sum) <= 1e-6 * abs(sum), "row \(r) sum")
      #expect(abs(Double(interp[1][r]) - sum) <= 1e-6 * abs(sum))
      #expect(jit[2][r] == values.max()! && interp[2][r] == values.max()!)
      #expect(jit[3][r] == min(0.25, values.min()!) && interp[3][r] == jit[3][r])
    }
  }

  @Test func transposedCopy() throws {
    let (R, C) = (33, 65)
    let kernel = Kernel(
      name: "transpose",
      buffers: [KernelBuffer("x", .input, count: R * C), KernelBuffer("y", .output, count: R * C)],
      parallel: Loop("j", C, [.loop("i", R, [.store(buffer: 1, index: j * .const(R) + i,
                                                    value: .load(buffer: 0, index: i * .const(C) + j))])]))
    let xs = randomFloats(R * C, seed: 3)
    let (jit, interp) = try runBoth(kernel, [xs, [Float](repeating: 0, count: R * C)])
    var truth = [Float](repeating: 0, count: R * C)
    for r in 0..<R { for c in 0..<C { truth[c * R + r] = xs[r * C + c] } }
    #expect(jit[1] == truth)
    #expect(interp[1] == truth)
  }

  /// Reflect padding (PyTorch `reflect`: the edge is not repeated) of 2 on an HxW image,
  /// written with selects on the bounds; plus zero padding with a clamped load.
  @Test func reflectAndZeroPaddedCopy() throws {
    let (H, W, P) = (7, 9, 2)
    let (OH, OW) = (H + 2 * P, W + 2 * P)
    func reflect(_ v: IntExpr, _ n: Int) -> IntExpr {
      .select(v < 0, -v, .select(v >= .const(n), .const(2 * (n - 1)) - v, v))
    }
    let ih: IntExpr = .variable("ih"), iw: IntExpr = .variable("iw")
    let inside: BoolExpr = ih >= 0 && ih < .const(H) && iw >= 0 && iw < .const(W)
    let clamped: IntExpr = .clamp(ih, 0, .const(H - 1)) * .const(W) + .clamp(iw, 0, .const(W - 1))
    let kernel = Kernel(
      name: "pad",
      buffers: [KernelBuffer("x", .input, count: H * W), KernelBuffer("reflect", .output, count: OH * OW),
                KernelBuffer("zero", .output, count: OH * OW)],
      parallel: Loop("i", OH, [
        .letInt("ih", i - .const(P)),
        .loop("j", OW, [
          .letInt("iw", j - .const(P)),
          .store(buffer: 1, index: i * .const(OW) + j,
                 value: .load(buffer: 0, index: reflect(ih, H) * .const(W) + reflect(iw, W))),
          .store(buffer: 2, index: i * .const(OW) + j, value: .select(inside, .load(buffer: 0, index: clamped), 0)),
        ]),
      ]))
    let xs = randomFloats(H * W, seed: 4)
    let empty = [Float](repeating: .nan, count: OH * OW)
    let (jit, interp) = try runBoth(kernel, [xs, empty, empty])
    var reflectTruth = empty, zeroTruth = empty
    for oh in 0..<OH { for ow in 0..<OW {
      var h = oh - P, w = ow - P
      let inImage = h >= 0 && h < H && w >= 0 && w < W
      zeroTruth[oh * OW + ow] = inImage ? xs[h * W + w] : 0
      if h < 0 { h = -h } else if h >= H { h = 2 * (H - 1) - h }
      if w < 0 { w = -w } else if w >= W { w = 2 * (W - 1) - w }
      reflectTruth[oh * OW + ow] = xs[h * W + w]
    } }
    #expect(jit[1] == reflectTruth && interp[1] == reflectTruth)
    #expect(jit[2] == zeroTruth && interp[2] == zeroTruth)
  }

  /// A direct 3x3 convolution, stride 2, zero padding 1, with bias, parallel over output
  /// channels, against a naive Swift loop in Double.
  @Test func conv2dStride2() throws {
    let (CI, H, W, CO, KS, S, P) = (3, 9, 8, 4, 3, 2, 1)
    let (OH, OW) = ((H + 2 * P - KS) / S + 1, (W + 2 * P - KS) / S + 1)
    let (co, oh, ow, ci, kh, kw): (IntExpr, IntExpr, IntExpr, IntExpr, IntExpr, IntExpr) =
      (.variable("co"), .variable("oh"), .variable("ow"), .variable("ci"), .variable("kh"), .variable("kw"))
    let ih = oh * .const(S) + kh - .const(P), iw = ow * .const(S) + kw - .const(P)
    let inside: BoolExpr = ih >= 0 && ih < .const(H) && iw >= 0 && iw < .const(W)
    let xIndex = (ci * .const(H) + .clamp(ih, 0, .const(H - 1))) * .const(W) + .clamp(iw, 0, .const(W - 1))
    let wIndex = ((co * .const(CI) + ci) * .const(KS) + kh) * .const(KS) + kw
    let kernel = Kernel(
      name: "conv3x3s2",
      buffers: [KernelBuffer("x", .input, count: CI * H * W), KernelBuffer("w", .input, count: CO * CI * KS * KS),
                KernelBuffer("b", .input, count: CO), KernelBuffer("y", .output, count: CO * OH * OW)],
      parallel: Loop("co", CO, [
        .loop("oh", OH, [.loop("ow", OW, [
          .accumulator("acc", .sum, initial: 0),
          .loop("ci", CI, [.loop("kh", KS, [.loop("kw", KS, [
            .accumulate("acc", .select(inside, .load(buffer: 0, index: xIndex), 0) * .load(buffer: 1, index: wIndex)),
          ])])]),
          .store(buffer: 3, index: (co * .const(OH) + oh) * .const(OW) + ow,
                 value: .variable("acc") + .load(buffer: 2, index: co)),
        ])]),
      ]))
    let xs = randomFloats(CI * H * W, seed: 5), ws = randomFloats(CO * CI * KS * KS, seed: 6)
    let bs = randomFloats(CO, seed: 7)
    var truth = [Double](repeating: 0, count: CO * OH * OW)
    for o in 0..<CO { for y in 0..<OH { for x in 0..<OW {
      var acc = Double(bs[o])
      for c in 0..<CI { for a in 0..<KS { for b in 0..<KS {
        let (yy, xx) = (y * S + a - P, x * S + b - P)
        if yy >= 0 && yy < H && xx >= 0 && xx < W {
          acc += Double(xs[(c * H + yy) * W + xx]) * Double(ws[((o * CI + c) * KS + a) * KS + b])
        }
      } } }
      truth[(o * OH + y) * OW + x] = acc
    } } }
    let (jit, interp) = try runBoth(kernel, [xs, ws, bs, [Float](repeating: 0, count: CO * OH * OW)])
    #expect(close(jit[3], truth, tol: 1e-5))
    #expect(close(interp[3], truth, tol: 1e-5))
  }

  /// Sub-ranges of the parallel loop touch only their iterations; two threads on disjoint
  /// halves give the full result. Also reads a scalar parameter (a shift).
  @Test func partialRangesAndScalars() throws {
    let n = 100
    let kernel = Kernel(
      name: "shifted_square",
      buffers: [KernelBuffer("x", .input, count: n + 8), KernelBuffer("y", .output, count: n)],
      scalars: ["shift"],
      parallel: Loop("i", n, [.letFloat("v", .load(buffer: 0, index: i + .scalar(0))),
                              .store(buffer: 1, index: i, value: .variable("v") * .variable("v"))]))
    let xs = randomFloats(n + 8, seed: 8)
    let compiled = try makeCompiler().compile(kernel)
    var arrays = [xs, [Float](repeating: -1, count: n)]
    try compiled.run(&arrays, scalars: [3], range: 10..<37)
    for m in 0..<n {
      let want: Float = (10..<37).contains(m) ? xs[m + 3] * xs[m + 3] : -1
      #expect(arrays[1][m] == want, "element \(m)")
    }
    // Two threads, disjoint halves, raw entry point.
    let x = UnsafeMutableBufferPointer<Float>.allocate(capacity: n + 8)
    let y = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
    defer { x.deallocate(); y.deallocate() }
    _ = x.initialize(from: xs)
    y.initialize(repeating: 0)
    let ptrs: [UnsafeMutablePointer<Float>?] = [x.baseAddress, y.baseAddress]
    let scalars: [Int64] = [5]
    ptrs.withUnsafeBufferPointer { p in
      scalars.withUnsafeBufferPointer { s in
        DispatchQueue.concurrentPerform(iterations: 2) { t in
          compiled.entry(p.baseAddress, s.baseAddress, Int64(t * n / 2), Int64((t + 1) * n / 2))
        }
      }
    }
    #expect(Array(y) == (0..<n).map { xs[$0 + 5] * xs[$0 + 5] })
    // A range outside the loop is a thrown error, not a crash.
    #expect(throws: KernelError.self) { try compiled.run(&arrays, scalars: [0], range: 90..<101) }
  }

  /// Integer floorDiv/mod round toward negative infinity, also for negative operands
  /// coming from a scalar.
  @Test func floorDivAndMod() throws {
    let n = 41
    let v: IntExpr = i - .scalar(0)
    let kernel = Kernel(
      name: "divmod", buffers: [KernelBuffer("q", .output, count: n), KernelBuffer("r", .output, count: n)],
      scalars: ["offset", "divisor"],
      parallel: Loop("i", n, [.store(buffer: 0, index: i, value: .fromInt(.floorDiv(v, .scalar(1)))),
                              .store(buffer: 1, index: i, value: .fromInt(.mod(v, .scalar(1))))]))
    for d in [3, -4] {
      let zeros = [Float](repeating: 0, count: n)
      let (jit, interp) = try runBoth(kernel, [zeros, zeros], scalars: [20, Int64(d)])
      let a = (0..<n).map { $0 - 20 }
      let q = a.map { Float((Double($0) / Double(d)).rounded(.down)) }
      let r = a.map { Float($0 - d * Int((Double($0) / Double(d)).rounded(.down))) }
      #expect(jit[0] == q && jit[1] == r && interp[0] == q && interp[1] == r, "divisor \(d)")
    }
  }

  @Test func invalidKernelsAreOneLineErrors() throws {
    func kernel(_ body: [Stmt]) -> Kernel {
      Kernel(name: "bad", buffers: [KernelBuffer("x", .input, count: 4), KernelBuffer("y", .output, count: 4)],
             parallel: Loop("i", 4, body))
    }
    let cases: [(Kernel, String)] = [
      (kernel([.store(buffer: 0, index: i, value: 1)]), "store to input buffer 'x'"),
      (kernel([.store(buffer: 1, index: j, value: 1)]), "'j' is not an integer variable"),
      (kernel([.store(buffer: 2, index: i, value: 1)]), "buffer number 2 out of range"),
      (kernel([.accumulate("s", 1)]), "'s' is not an accumulator"),
      (kernel([.store(buffer: 1, index: .mod(i, 0), value: 1)]), "division by constant zero"),
      (kernel([.store(buffer: 1, index: .scalar(0), value: 1)]), "scalar number 0 out of range"),
    ]
    let compiler = try makeCompiler()
    for (k, fragment) in cases {
      do {
        _ = try compiler.compile(k)
        Issue.record("compiled an invalid kernel: \(fragment)")
      } catch let e as KernelError {
        #expect(e.description.contains(fragment), "\(e)")
        #expect(!e.description.contains("\n"))
      }
    }
    // The interpreter reports out-of-bounds accesses that validation cannot see.
    var arrays: [[Float]] = [[1, 2, 3, 4], [0, 0, 0, 0]]
    let oob = kernel([.store(buffer: 1, index: i, value: .load(buffer: 0, index: i + 1))])
    #expect(throws: KernelError.outOfBounds(kernel: "bad", buffer: "x", index: 4, count: 4)) {
      try KernelInterpreter.run(oob, buffers: &arrays)
    }
  }

  /// Kernels survive a JSON round trip (infinite constants need a non-conforming float
  /// strategy, as JSON has no inf/nan).
  @Test func codableRoundTrip() throws {
    let kernel = Kernel(
      name: "k", buffers: [KernelBuffer("x", .input, count: 8), KernelBuffer("y", .output, count: 2)],
      parallel: Loop("i", 2, [
        .accumulator("m", .max, initial: -.infinity),
        .loop("j", 4, [.accumulate("m", .sigmoid(.load(buffer: 0, index: i * 4 + j)))]),
        .store(buffer: 1, index: i, value: .select(.variable("m") >= 0.5, .variable("m"), .atan2(1, 2))),
      ]))
    let encoder = JSONEncoder()
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let back = try decoder.decode(Kernel.self, from: encoder.encode(kernel))
    #expect(back == kernel)
    #expect(KernelCompiler.symbol(for: back) == KernelCompiler.symbol(for: kernel))
  }

  @Test func printedTextIsReadable() {
    let kernel = Kernel(
      name: "k", buffers: [KernelBuffer("x", .input, count: 8), KernelBuffer("y", .output, count: 8)],
      scalars: ["s"],
      parallel: Loop("i", 2, [.loop("j", 4, [
        .store(buffer: 1, index: i * 4 + j, value: .exp(.load(buffer: 0, index: i * 4 + j)) + .fromInt(.scalar(0))),
      ])]))
    #expect(kernel.description == """
      kernel k(in x[8], out y[8]; scalars: s) {
        parallel for i in 0..<2 {
          for j in 0..<4 {
            y[((i * 4) + j)] = (exp(x[((i * 4) + j)]) + float($s))
          }
        }
      }
      """)
  }
}

internal import CLLVM

/// Branch-free float32 transcendentals emitted as LLVM IR, so loops that use them still
/// vectorize (`llvm.exp.f32` and friends would become one scalar libm call per lane).
///
/// Each function is emitted once per module as an `internal alwaysinline` function
/// (`iloc.exp`, ...); the inliner dissolves it into the loop before vectorization.
/// Accuracy, measured by the tests against the C library in double over dense sweeps:
/// about 2-4 ulp (relative error < 5e-7) for normal results. Special values follow C:
/// exp(-inf)=0, exp(x>88.73)=inf, log(0)=-inf, log(x<0)=NaN, log(inf)=inf, tanh(±inf)=±1,
/// atan2 in all quadrants with signed zeros and infinities, NaN in gives NaN out.
///
/// The tanh and atan polynomials were fitted for this file: relative-error weighted least
/// squares on Chebyshev nodes in float64, iterated (Lawson) towards minimax, degree 5 in x².
final class MathFunctions {
  private let b: IRBuilder
  private var made: [String: LLVMValueRef] = [:]

  init(context: LLVMContextRef, module: LLVMModuleRef) {
    b = IRBuilder(context: context, module: module)
  }

  private func function(_ name: String, arity: Int, _ body: ([LLVMValueRef]) -> LLVMValueRef) -> LLVMValueRef {
    if let f = made[name] { return f }
    var params: [LLVMTypeRef?] = Array(repeating: b.f32, count: arity)
    let type = LLVMFunctionType(b.f32, &params, UInt32(arity), 0)
    let fn = LLVMAddFunction(b.module, name, type)!
    LLVMSetLinkage(fn, LLVMInternalLinkage)
    b.addEnumAttribute(fn, index: -1, "alwaysinline")
    b.addEnumAttribute(fn, index: -1, "nounwind")
    made[name] = fn
    let entry = LLVMAppendBasicBlockInContext(b.context, fn, "entry")
    LLVMPositionBuilderAtEnd(b.builder, entry)
    let args = (0..<arity).map { LLVMGetParam(fn, UInt32($0))! }
    LLVMBuildRet(b.builder, body(args))
    return fn
  }

  private func type(arity: Int) -> LLVMTypeRef {
    var params: [LLVMTypeRef?] = Array(repeating: b.f32, count: arity)
    return LLVMFunctionType(b.f32, &params, UInt32(arity), 0)
  }

  /// Returns the function and its type, for `LLVMBuildCall2` in the caller's builder.
  func get(_ op: FloatUnaryOp) -> (LLVMValueRef, LLVMTypeRef) {
    switch op {
    case .exp: return (expFunction(), type(arity: 1))
    case .log: return (logFunction(), type(arity: 1))
    case .tanh: return (tanhFunction(), type(arity: 1))
    case .sigmoid: return (sigmoidFunction(), type(arity: 1))
    default: preconditionFailure("\(op) is not a library function")
    }
  }

  func atan2() -> (LLVMValueRef, LLVMTypeRef) { (atan2Function(), type(arity: 2)) }

  // ln 2 split so that n * ln2Hi is exact for |n| <= 2^8 (ln2Hi has 16 significant bits).
  private static let ln2Hi: Float = 0.693145751953125
  private static let ln2Lo: Float = 1.42860676533018e-06

  /// exp(x) = 2^n * e^r, n = round(x / ln 2), |r| <= ln2/2, e^r by its degree-7 Taylor
  /// polynomial (truncation error < 6e-9). 2^n is built in the exponent field in two halves,
  /// so results down to the smallest subnormal round correctly and overflow gives inf.
  private func expFunction() -> LLVMValueRef {
    function("iloc.exp", arity: 1) { a in
      let x = a[0]
      // Clamp with compare+select, which keeps NaN (minnum/maxnum would not).
      var xc = b.select(b.fcmp(LLVMRealOGT, x, b.float(89)), b.float(89), x)
      xc = b.select(b.fcmp(LLVMRealOLT, xc, b.float(-104)), b.float(-104), xc)
      // Round x*log2(e) to an integer by adding 1.5*2^23: the integer lands in the low
      // mantissa bits, readable as float (kf - magic) and as int (bit difference), with no
      // float->int conversion (which would be poison for NaN).
      let magic: Float = 12582912
      let kf = b.fmuladd(xc, b.float(1.44269504088896341), b.float(magic))
      let nf = b.fsub(kf, b.float(magic))
      let n = b.sub(b.bitsOf(kf), b.int32(Int32(bitPattern: magic.bitPattern)))
      var r = b.fmuladd(nf, b.float(-Self.ln2Hi), xc)
      r = b.fmuladd(nf, b.float(-Self.ln2Lo), r)
      let p = b.horner(r, [1, 1, 1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040])
      let n1 = b.ashr(n, b.int32(1))
      let n2 = b.sub(n, n1)
      let s1 = b.floatOf(b.shl(b.add(n1, b.int32(127)), b.int32(23)))
      let s2 = b.floatOf(b.shl(b.add(n2, b.int32(127)), b.int32(23)))
      return b.fmul(b.fmul(p, s1), s2)
    }
  }

  /// log(x) = e*ln2 + log(m), m in [sqrt(1/2), sqrt(2)) from the bit fields; with f = m-1
  /// and s = f/(2+f), log(m) = 2 atanh(s) = 2s + 2s^3/3 + ... (|s| < 0.172, 5 terms,
  /// truncation < 3e-9). Subnormal inputs are scaled by 2^23 first.
  private func logFunction() -> LLVMValueRef {
    function("iloc.log", arity: 1) { a in
      let x = a[0]
      let isSub = b.fcmp(LLVMRealOLT, x, b.float(Float.leastNormalMagnitude))
      let xs = b.select(isSub, b.fmul(x, b.float(8388608)), x)
      let eAdjust = b.select(isSub, b.int32(-23), b.int32(0))
      let sqrtHalfBits = b.int32(0x3f35_04f3)
      let ix = b.sub(b.bitsOf(xs), sqrtHalfBits)
      let e = b.add(b.ashr(ix, b.int32(23)), eAdjust)
      let m = b.floatOf(b.add(b.and(ix, b.int32(0x007f_ffff)), sqrtHalfBits))
      let f = b.fsub(m, b.float(1))
      let s = b.fdiv(f, b.fadd(b.float(2), f))
      let z = b.fmul(s, s)
      let rest = b.fmul(z, b.horner(z, [2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9]))
      let s2 = b.fadd(s, s)
      let logm = b.fmuladd(s, rest, s2)
      let ef = LLVMBuildSIToFP(b.builder, e, b.f32, "")!
      var r = b.fmuladd(ef, b.float(Self.ln2Hi), b.fmuladd(ef, b.float(Self.ln2Lo), logm))
      r = b.select(b.fcmp(LLVMRealOEQ, x, b.float(.infinity)), b.float(.infinity), r)
      r = b.select(b.fcmp(LLVMRealOEQ, x, b.float(0)), b.float(-.infinity), r)
      // Unordered-or-less-than: negative inputs and NaN give NaN.
      return b.select(b.fcmp(LLVMRealULT, x, b.float(0)), b.float(.nan), r)
    }
  }

  /// tanh: |x| < 0.625 by an odd polynomial x + x^3 P(x^2); otherwise 1 - 2/(e^{2|x|}+1)
  /// (saturates to 1 as e^{2|x|} overflows). The sign is copied from x at the end so that
  /// tanh(-0) = -0.
  private func tanhFunction() -> LLVMValueRef {
    let exp = expFunction()
    return function("iloc.tanh", arity: 1) { a in
      let x = a[0]
      let ax = b.call("llvm.fabs", [b.f32], [x])
      let z = b.fmul(ax, ax)
      let p = b.horner(z, [-0.3333328068256378, 0.13331441581249237, -0.05373971536755562,
                           0.02063908614218235, -0.005704984534531832])
      let small = b.fmuladd(b.fmul(ax, z), p, ax)
      let e = b.call(exp, type: type(arity: 1), [b.fadd(ax, ax)])
      let large = b.fsub(b.float(1), b.fdiv(b.float(2), b.fadd(e, b.float(1))))
      let r = b.select(b.fcmp(LLVMRealOLT, ax, b.float(0.625)), small, large)
      return b.call("llvm.copysign", [b.f32], [r, x])
    }
  }

  /// sigmoid(x) = 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) for x < 0, both from t = e^-|x|,
  /// which never overflows and keeps full relative accuracy for very negative x.
  private func sigmoidFunction() -> LLVMValueRef {
    let exp = expFunction()
    return function("iloc.sigmoid", arity: 1) { a in
      let x = a[0]
      let ax = b.call("llvm.fabs", [b.f32], [x])
      let t = b.call(exp, type: type(arity: 1), [b.fneg(ax)])
      let num = b.select(b.fcmp(LLVMRealOGE, x, b.float(0)), b.float(1), t)
      return b.fdiv(num, b.fadd(b.float(1), t))
    }
  }

  /// atan2(y, x): a = min(|x|,|y|)/max(|x|,|y|) in [0,1]; for a > tan(pi/8),
  /// atan(a) = pi/4 + atan((a-1)/(a+1)); atan(t) = t + t^3 P(t^2) on |t| <= tan(pi/8).
  /// Then octant fix-ups: pi/2 - r if |y| > |x|, pi - r if x is negative (sign bit, so -0
  /// counts), and the sign of y. 0/0 and inf/inf ratios are defined as 0 and 1.
  private func atan2Function() -> LLVMValueRef {
    function("iloc.atan2", arity: 2) { a in
      let y = a[0], x = a[1]
      let ax = b.call("llvm.fabs", [b.f32], [x])
      let ay = b.call("llvm.fabs", [b.f32], [y])
      let yBigger = b.fcmp(LLVMRealOGT, ay, ax)
      let mx = b.select(yBigger, ay, ax)
      let mn = b.select(yBigger, ax, ay)
      var q = b.fdiv(mn, mx)
      q = b.select(b.fcmp(LLVMRealOEQ, mx, b.float(0)), b.float(0), q)
      let bothInf = b.and(b.fcmp(LLVMRealOEQ, ax, b.float(.infinity)), b.fcmp(LLVMRealOEQ, ay, b.float(.infinity)))
      q = b.select(bothInf, b.float(1), q)
      let big = b.fcmp(LLVMRealOGT, q, b.float(0.41421356237309503))
      let t = b.select(big, b.fdiv(b.fsub(q, b.float(1)), b.fadd(q, b.float(1))), q)
      let z = b.fmul(t, t)
      let p = b.horner(z, [-0.33333316445350647, 0.19998471438884735, -0.14243532717227936,
                           0.1059381291270256, -0.06078219413757324])
      let at = b.fmuladd(b.fmul(t, z), p, t)
      var r = b.select(big, b.fadd(b.float(.pi / 4), at), at)
      r = b.select(yBigger, b.fsub(b.float(.pi / 2), r), r)
      let xNegative = b.icmp(LLVMIntSLT, b.bitsOf(x), b.int32(0))
      r = b.select(xNegative, b.fsub(b.float(.pi), r), r)
      r = b.call("llvm.copysign", [b.f32], [r, y])
      return b.select(b.fcmp(LLVMRealUNO, x, y), b.fadd(x, y), r)
    }
  }
}

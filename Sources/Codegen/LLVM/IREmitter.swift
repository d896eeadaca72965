internal import CLLVM

/// Lowers one `Kernel` to an LLVM module with two functions:
///
///   define internal void @<sym>.body(ptr noalias %buf0, ..., i64 %scalar0, ..., i64 %begin, i64 %end)
///   define void @<sym>(ptr %buffers, ptr %scalars, i64 %begin, i64 %end)
///
/// The exported wrapper has the uniform ABI and loads each buffer pointer and scalar once;
/// the always-inlined body carries the `noalias` facts, which the inliner turns into
/// alias-scope metadata, so the vectorizer needs no runtime overlap checks.
///
/// Loops are canonical (i64 induction from 0 or `begin`, step 1, `icmp slt` against a
/// constant or `end`); accumulators are allocas in the entry block that `mem2reg` turns
/// into phis. The caller owns the context and the returned module; this class disposes only
/// its builders.
final class IREmitter {
  let kernel: Kernel
  let symbol: String
  private let b: IRBuilder
  private let math: MathFunctions
  private var bodyFunction: LLVMValueRef?
  private var entryBlock: LLVMBasicBlockRef?
  private var bufferParams: [LLVMValueRef] = []
  private var scalarParams: [LLVMValueRef] = []

  /// A name's meaning in the current scope.
  private enum Binding {
    case int(LLVMValueRef)
    case float(LLVMValueRef)
    /// An accumulator: its stack slot and combining operator.
    case slot(LLVMValueRef, ReduceOp)
  }

  private struct Scope {
    var names: [String: Binding] = [:]
    /// The variable of the innermost loop around the statements (nil outside every loop).
    var loopVariable: String?
  }

  init(kernel: Kernel, symbol: String, context: LLVMContextRef, module: LLVMModuleRef) {
    self.kernel = kernel
    self.symbol = symbol
    b = IRBuilder(context: context, module: module)
    math = MathFunctions(context: context, module: module)
  }

  /// Emits both functions into the module. `targetAttributes` go on every defined function.
  func emit(targetAttributes: [(String, String)]) {
    let body = emitBody()
    emitWrapper(body: body)
    var fn = LLVMGetFirstFunction(b.module)
    while let f = fn {
      if LLVMIsDeclaration(f) == 0 {
        for (k, v) in targetAttributes { b.addStringAttribute(f, k, v) }
      }
      fn = LLVMGetNextFunction(f)
    }
  }

  // MARK: functions

  private func bodyType() -> LLVMTypeRef {
    var params: [LLVMTypeRef?] = Array(repeating: b.ptr, count: kernel.buffers.count)
    params += Array(repeating: b.i64, count: kernel.scalars.count + 2)
    return LLVMFunctionType(b.void, &params, UInt32(params.count), 0)
  }

  private func emitBody() -> LLVMValueRef {
    let fn = LLVMAddFunction(b.module, symbol + ".body", bodyType())!
    LLVMSetLinkage(fn, LLVMInternalLinkage)
    b.addEnumAttribute(fn, index: -1, "alwaysinline")
    b.addEnumAttribute(fn, index: -1, "nounwind")
    for (n, buf) in kernel.buffers.enumerated() {
      let index = Int32(n + 1)
      b.addEnumAttribute(fn, index: index, "noalias")
      b.addEnumAttribute(fn, index: index, "nocapture")
      if buf.access == .input { b.addEnumAttribute(fn, index: index, "readonly") }
      let p = LLVMGetParam(fn, UInt32(n))!
      LLVMSetValueName2(p, buf.name, buf.name.utf8.count)
      bufferParams.append(p)
    }
    for n in 0..<kernel.scalars.count {
      scalarParams.append(LLVMGetParam(fn, UInt32(kernel.buffers.count + n))!)
    }
    let begin = LLVMGetParam(fn, UInt32(kernel.buffers.count + kernel.scalars.count))!
    let end = LLVMGetParam(fn, UInt32(kernel.buffers.count + kernel.scalars.count + 1))!
    bodyFunction = fn
    // The entry block holds only allocas, then branches to the code.
    entryBlock = LLVMAppendBasicBlockInContext(b.context, fn, "entry")
    let start = LLVMAppendBasicBlockInContext(b.context, fn, "start")
    LLVMPositionBuilderAtEnd(b.builder, start)
    loop(kernel.parallel, from: begin, to: end, scope: Scope())
    LLVMBuildRetVoid(b.builder)
    LLVMPositionBuilderAtEnd(b.builder, entryBlock)
    LLVMBuildBr(b.builder, start)
    return fn
  }

  private func emitWrapper(body: LLVMValueRef) {
    var params: [LLVMTypeRef?] = [b.ptr, b.ptr, b.i64, b.i64]
    let type = LLVMFunctionType(b.void, &params, 4, 0)
    let fn = LLVMAddFunction(b.module, symbol, type)!
    b.addEnumAttribute(fn, index: -1, "nounwind")
    let entry = LLVMAppendBasicBlockInContext(b.context, fn, "entry")
    LLVMPositionBuilderAtEnd(b.builder, entry)
    let buffers = LLVMGetParam(fn, 0)!, scalars = LLVMGetParam(fn, 1)!
    var args: [LLVMValueRef] = []
    for n in 0..<kernel.buffers.count {
      var idx: [LLVMValueRef?] = [b.int64(n)]
      let slot = LLVMBuildInBoundsGEP2(b.builder, b.ptr, buffers, &idx, 1, "")!
      args.append(LLVMBuildLoad2(b.builder, b.ptr, slot, "")!)
    }
    for n in 0..<kernel.scalars.count {
      var idx: [LLVMValueRef?] = [b.int64(n)]
      let slot = LLVMBuildInBoundsGEP2(b.builder, b.i64, scalars, &idx, 1, "")!
      args.append(LLVMBuildLoad2(b.builder, b.i64, slot, "")!)
    }
    args.append(LLVMGetParam(fn, 2)!)
    args.append(LLVMGetParam(fn, 3)!)
    _ = b.call(body, type: bodyType(), args)
    LLVMBuildRetVoid(b.builder)
  }

  // MARK: statements

  /// `for v in from..<to { body }` as header/body/latch blocks with an i64 phi.
  private func loop(_ l: Loop, from: LLVMValueRef, to: LLVMValueRef, scope: Scope) {
    let fn = bodyFunction!
    let pre = LLVMGetInsertBlock(b.builder)!
    let header = LLVMAppendBasicBlockInContext(b.context, fn, l.variable + ".header")!
    let bodyBlock = LLVMAppendBasicBlockInContext(b.context, fn, l.variable + ".body")!
    let exit = LLVMAppendBasicBlockInContext(b.context, fn, l.variable + ".exit")!
    LLVMBuildBr(b.builder, header)
    LLVMPositionBuilderAtEnd(b.builder, header)
    let iv = LLVMBuildPhi(b.builder, b.i64, l.variable)!
    LLVMBuildCondBr(b.builder, b.icmp(LLVMIntSLT, iv, to), bodyBlock, exit)
    LLVMPositionBuilderAtEnd(b.builder, bodyBlock)
    var inner = scope
    inner.names[l.variable] = .int(iv)
    inner.loopVariable = l.variable
    block(l.body, scope: inner)
    let next = b.nswAdd(iv, b.int64(1))
    let latch = LLVMGetInsertBlock(b.builder)!
    LLVMBuildBr(b.builder, header)
    var values: [LLVMValueRef?] = [from, next]
    var blocks: [LLVMBasicBlockRef?] = [pre, latch]
    LLVMAddIncoming(iv, &values, &blocks, 2)
    LLVMPositionBuilderAtEnd(b.builder, exit)
  }

  private func block(_ body: [Stmt], scope outer: Scope) {
    var scope = outer
    for s in body {
      switch s {
      case .store(let buf, let i, let v):
        let value = float(v, scope)
        let address = element(buf, i, scope, chain: Self.strided(i, in: scope.loopVariable))
        LLVMSetAlignment(LLVMBuildStore(b.builder, value, address), 4)
      case .letFloat(let n, let v):
        scope.names[n] = .float(float(v, scope))
      case .letInt(let n, let v):
        scope.names[n] = .int(int(v, scope))
      case .accumulator(let n, let op, let initial):
        let slot = alloca(n)
        LLVMBuildStore(b.builder, b.float(initial), slot)
        scope.names[n] = .slot(slot, op)
      case .accumulate(let n, let v):
        guard case .slot(let slot, let op)? = scope.names[n] else {
          preconditionFailure("validated: \(n) is an accumulator")
        }
        let x = float(v, scope)
        let acc = LLVMBuildLoad2(b.builder, b.f32, slot, "")!
        let combined: LLVMValueRef
        switch op {
        case .sum: combined = b.flags(LLVMBuildFAdd(b.builder, acc, x, ""), IRBuilder.sumFlags)
        case .max: combined = b.call("llvm.maximum", [b.f32], [acc, x])
        case .min: combined = b.call("llvm.minimum", [b.f32], [acc, x])
        }
        LLVMBuildStore(b.builder, combined, slot)
      case .loop(let l):
        if l.extent > 0 { loop(l, from: b.int64(0), to: b.int64(l.extent), scope: scope) }
      }
    }
  }

  private func alloca(_ name: String) -> LLVMValueRef {
    let saved = LLVMGetInsertBlock(b.builder)!
    LLVMPositionBuilderAtEnd(b.builder, entryBlock)
    let slot = LLVMBuildAlloca(b.builder, b.f32, name)!
    LLVMPositionBuilderAtEnd(b.builder, saved)
    return slot
  }

  /// The address of `buffer[index]`: one GEP of the summed index, or with `chain` one GEP per
  /// term of the sum. For stores strided in their loop (`strided`): InstCombine turns an add of
  /// terms with no common bits (a row base times a power of two plus 2 tx + q) into an `or`, which
  /// scalar evolution cannot see through, so the vectorizer could not bound the addresses
  /// ("cannot identify array bounds") and left the loop scalar: the Winograd output transforms.
  /// With the chain each term stays an add of the address. Other accesses keep the single GEP
  /// (given chains, a dozen memory-bound elementwise kernels of `stylegan2-64` ran 10-25 %
  /// slower, and a sum such as floorDiv(t, n) * n + mod(t, n) simplifies to t only as one sum).
  private func element(_ buffer: Int, _ index: IntExpr, _ scope: Scope, chain: Bool = false) -> LLVMValueRef {
    guard chain else {
      var idx: [LLVMValueRef?] = [int(index, scope)]
      return LLVMBuildInBoundsGEP2(b.builder, b.f32, bufferParams[buffer], &idx, 1, "")!
    }
    var terms: [IntExpr] = []
    func collect(_ e: IntExpr) {
      if case .binary(.add, let x, let y) = e { collect(x); collect(y) } else { terms.append(e) }
    }
    collect(index)
    var p = bufferParams[buffer]
    for t in terms {
      var idx: [LLVMValueRef?] = [int(t, scope)]
      p = LLVMBuildGEP2(b.builder, b.f32, p, &idx, 1, "")!
    }
    return p
  }

  /// Whether `index` is a sum with a term `v * c` (|c| > 1) of the loop variable `v` and no
  /// division: a strided store, as a Winograd output tile's (`element`).
  static func strided(_ index: IntExpr, in v: String?) -> Bool {
    guard let v else { return false }
    let node = ExprNode.int(index)
    let divides = node.contains {
      if case .int(.binary(let op, _, _)) = $0 { return op == .floorDiv || op == .mod }
      return false
    }
    let scaled = node.contains {
      switch $0 {
      case .int(.binary(.mul, .variable(v), .const(let c))), .int(.binary(.mul, .const(let c), .variable(v))):
        return Swift.abs(c) > 1
      default: return false
      }
    }
    return scaled && !divides
  }

  // MARK: expressions

  private func int(_ e: IntExpr, _ scope: Scope) -> LLVMValueRef {
    switch e {
    case .const(let v): return b.int64(v)
    case .variable(let n):
      guard case .int(let v)? = scope.names[n] else { preconditionFailure("validated: int \(n)") }
      return v
    case .scalar(let n): return scalarParams[n]
    case .binary(let op, let x, let y):
      let l = int(x, scope), r = int(y, scope)
      switch op {
      case .add: return b.nswAdd(l, r)
      case .sub: return b.nswSub(l, r)
      case .mul: return b.nswMul(l, r)
      case .min: return b.call("llvm.smin", [b.i64], [l, r])
      case .max: return b.call("llvm.smax", [b.i64], [l, r])
      case .floorDiv, .mod:
        // Truncating quotient/remainder, corrected by one step when the remainder is
        // nonzero and its sign differs from the divisor's.
        let q = LLVMBuildSDiv(b.builder, l, r, "")!
        let rem = LLVMBuildSRem(b.builder, l, r, "")!
        let signsDiffer = b.icmp(LLVMIntSLT, b.xor(rem, r), b.int64(0))
        let fix = b.and(b.icmp(LLVMIntNE, rem, b.int64(0)), signsDiffer)
        if op == .floorDiv {
          return b.sub(q, LLVMBuildZExt(b.builder, fix, b.i64, "")!)
        }
        return b.select(fix, b.add(rem, r), rem)
      }
    case .select(let c, let x, let y):
      return b.select(bool(c, scope), int(x, scope), int(y, scope))
    }
  }

  private func float(_ e: FloatExpr, _ scope: Scope) -> LLVMValueRef {
    switch e {
    case .const(let v): return b.float(v)
    case .load(let buf, let i):
      let load = LLVMBuildLoad2(b.builder, b.f32, element(buf, i, scope), "")!
      LLVMSetAlignment(load, 4)
      return load
    case .variable(let n):
      switch scope.names[n] {
      case .float(let v)?: return v
      case .slot(let slot, _)?: return LLVMBuildLoad2(b.builder, b.f32, slot, "")!
      default: preconditionFailure("validated: float \(n)")
      }
    case .unary(let op, let a):
      let x = float(a, scope)
      switch op {
      case .neg: return b.fneg(x)
      case .abs: return b.call("llvm.fabs", [b.f32], [x])
      case .sign:
        let negOrSame = b.select(b.fcmp(LLVMRealOLT, x, b.float(0)), b.float(-1), x)
        return b.select(b.fcmp(LLVMRealOGT, x, b.float(0)), b.float(1), negOrSame)
      case .sqrt: return b.call("llvm.sqrt", [b.f32], [x])
      case .rsqrt: return b.fdiv(b.float(1), b.call("llvm.sqrt", [b.f32], [x]))
      case .floor: return b.call("llvm.floor", [b.f32], [x])
      case .exp, .log, .tanh, .sigmoid:
        let (fn, type) = math.get(op)
        return b.call(fn, type: type, [x])
      }
    case .binary(let op, let x, let y):
      let l = float(x, scope), r = float(y, scope)
      switch op {
      case .add: return b.fadd(l, r)
      case .sub: return b.fsub(l, r)
      case .mul: return b.fmul(l, r)
      case .div: return b.fdiv(l, r)
      case .min: return b.call("llvm.minimum", [b.f32], [l, r])
      case .max: return b.call("llvm.maximum", [b.f32], [l, r])
      case .atan2:
        let (fn, type) = math.atan2()
        return b.call(fn, type: type, [l, r])
      }
    case .fma(let x, let y, let z):
      return b.fmuladd(float(x, scope), float(y, scope), float(z, scope))
    case .select(let c, let x, let y):
      return b.select(bool(c, scope), float(x, scope), float(y, scope))
    case .fromInt(let i):
      return LLVMBuildSIToFP(b.builder, int(i, scope), b.f32, "")!
    }
  }

  private func bool(_ e: BoolExpr, _ scope: Scope) -> LLVMValueRef {
    switch e {
    case .const(let v): return b.bool(v)
    case .compareFloat(let op, let x, let y):
      let p: LLVMRealPredicate
      switch op {
      case .lt: p = LLVMRealOLT
      case .le: p = LLVMRealOLE
      case .gt: p = LLVMRealOGT
      case .ge: p = LLVMRealOGE
      case .eq: p = LLVMRealOEQ
      case .ne: p = LLVMRealUNE
      }
      return b.fcmp(p, float(x, scope), float(y, scope))
    case .compareInt(let op, let x, let y):
      let p: LLVMIntPredicate
      switch op {
      case .lt: p = LLVMIntSLT
      case .le: p = LLVMIntSLE
      case .gt: p = LLVMIntSGT
      case .ge: p = LLVMIntSGE
      case .eq: p = LLVMIntEQ
      case .ne: p = LLVMIntNE
      }
      return b.icmp(p, int(x, scope), int(y, scope))
    case .and(let x, let y): return b.and(bool(x, scope), bool(y, scope))
    case .or(let x, let y): return b.or(bool(x, scope), bool(y, scope))
    case .not(let x): return b.not(bool(x, scope))
    }
  }
}

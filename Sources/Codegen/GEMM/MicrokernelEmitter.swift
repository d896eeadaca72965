internal import CLLVM

/// Emits one register-blocked GEMM microkernel (ABI: `GEMMMicrokernelEntry`):
///
///   define void @sym(i64 %kc, ptr noalias %a, i64 %rsa, i64 %csa, ptr noalias %b, ptr noalias %c,
///                    i64 %ldc, float %alpha, float %beta)
///
/// A is read in place through strides (element (i, p) at a[i*rsa + p*csa]), so a row-major or
/// transposed operand needs no packing; B is a packed panel (aligned vector loads).
/// Accumulators are `rows x vectors` SSA vector values carried by phis through the k loop, so
/// the register allocator keeps them in registers. Each k step loads `vectors` B vectors, and
/// for each row broadcasts one A float and issues `vectors` `llvm.fma` calls (an FMA, never a
/// separate multiply and add, and never reassociated). B is prefetched a fixed distance ahead
/// (the panel streams from L2), the C tile before the loop. The epilogue rounds `alpha * acc`
/// and adds `beta * c` with one more fma, skipping the read of C when beta == 0.
struct MicrokernelEmitter {
  let shape: MicrokernelShape
  let symbol: String
  /// How many k steps ahead B is prefetched.
  static let prefetchDistance = 8

  func emit(context: LLVMContextRef, module: LLVMModuleRef, attributes: [(String, String)]) {
    let b = IRBuilder(context: context, module: module)
    let w = shape.isa.vectorFloats
    let vt = LLVMVectorType(b.f32, UInt32(w))!
    var params: [LLVMTypeRef?] = [b.i64, b.ptr, b.i64, b.i64, b.ptr, b.ptr, b.i64, b.f32, b.f32]
    let fn = LLVMAddFunction(module, symbol, LLVMFunctionType(b.void, &params, 9, 0))!
    b.addEnumAttribute(fn, index: -1, "nounwind")
    for index: Int32 in [2, 5, 6] { b.addEnumAttribute(fn, index: index, "noalias") }
    for (k, v) in attributes { b.addStringAttribute(fn, k, v) }
    let (kc, a, rsa, csa) = (param(fn, 0), param(fn, 1), param(fn, 2), param(fn, 3))
    let (bp, c, ldc) = (param(fn, 4), param(fn, 5), param(fn, 6))
    let (alpha, beta) = (param(fn, 7), param(fn, 8))

    let entry = LLVMAppendBasicBlockInContext(context, fn, "entry")!
    let loop = LLVMAppendBasicBlockInContext(context, fn, "k.loop")!
    let epilogue = LLVMAppendBasicBlockInContext(context, fn, "epilogue")!
    LLVMPositionBuilderAtEnd(b.builder, entry)
    let tile = (0..<shape.rows).map { i in b.gep(c, b.nswMul(b.int64(i), ldc)) }
    let rowsOfA = (0..<shape.rows).map { i in b.gep(a, b.nswMul(b.int64(i), rsa)) }
    for row in tile {
      for line in stride(from: 0, to: shape.columns, by: 16) { b.prefetch(b.gep(row, b.int64(line)), write: true) }
    }
    LLVMBuildCondBr(b.builder, b.icmp(LLVMIntSGT, kc, b.int64(0)), loop, epilogue)

    // k loop
    LLVMPositionBuilderAtEnd(b.builder, loop)
    let p = LLVMBuildPhi(b.builder, b.i64, "p")!
    let q = LLVMBuildPhi(b.builder, b.i64, "q")!, bq = LLVMBuildPhi(b.builder, b.ptr, "bp")!
    let zero = LLVMConstNull(vt)!
    let accIn = (0..<shape.rows * shape.vectors).map { _ in LLVMBuildPhi(b.builder, vt, "acc")! }
    let bv = (0..<shape.vectors).map { v in b.load(vt, b.gep(bq, b.int64(v * w)), align: w * 4) }
    for line in stride(from: 0, to: shape.columns, by: 16) {
      b.prefetch(b.gep(bq, b.int64(Self.prefetchDistance * shape.columns + line)), write: false)
    }
    var accOut: [LLVMValueRef] = []
    for i in 0..<shape.rows {
      let s = b.splat(b.load(b.f32, b.gep(rowsOfA[i], q), align: 4), vt)
      for v in 0..<shape.vectors { accOut.append(b.call("llvm.fma", [vt], [s, bv[v], accIn[i * shape.vectors + v]])) }
    }
    let pNext = b.nswAdd(p, b.int64(1))
    let qNext = b.nswAdd(q, csa), bpNext = b.gep(bq, b.int64(shape.columns))
    LLVMBuildCondBr(b.builder, b.icmp(LLVMIntSLT, pNext, kc), loop, epilogue)
    b.incoming(p, [(b.int64(0), entry), (pNext, loop)])
    b.incoming(q, [(b.int64(0), entry), (qNext, loop)])
    b.incoming(bq, [(bp, entry), (bpNext, loop)])
    for (phi, out) in zip(accIn, accOut) { b.incoming(phi, [(zero, entry), (out, loop)]) }

    // epilogue: C = alpha * acc (+ beta * C)
    LLVMPositionBuilderAtEnd(b.builder, epilogue)
    let acc = accOut.map { _ in LLVMBuildPhi(b.builder, vt, "sum")! }
    for (phi, out) in zip(acc, accOut) { b.incoming(phi, [(zero, entry), (out, loop)]) }
    let alphaV = b.splat(alpha, vt), betaV = b.splat(beta, vt)
    let scaled = acc.map { LLVMBuildFMul(b.builder, alphaV, $0, "")! }  // no fast-math flags
    let store0 = LLVMAppendBasicBlockInContext(context, fn, "store.beta0")!
    let storeB = LLVMAppendBasicBlockInContext(context, fn, "store.beta")!
    let done = LLVMAppendBasicBlockInContext(context, fn, "done")!
    LLVMBuildCondBr(b.builder, b.fcmp(LLVMRealOEQ, beta, b.float(0)), store0, storeB)
    for withBeta in [false, true] {
      LLVMPositionBuilderAtEnd(b.builder, withBeta ? storeB : store0)
      for i in 0..<shape.rows {
        for v in 0..<shape.vectors {
          let address = b.gep(tile[i], b.int64(v * w))
          var value = scaled[i * shape.vectors + v]
          if withBeta { value = b.call("llvm.fma", [vt], [betaV, b.load(vt, address, align: 4), value]) }
          LLVMSetAlignment(LLVMBuildStore(b.builder, value, address), 4)
        }
      }
      LLVMBuildBr(b.builder, done)
    }
    LLVMPositionBuilderAtEnd(b.builder, done)
    LLVMBuildRetVoid(b.builder)
  }

  private func param(_ fn: LLVMValueRef, _ n: UInt32) -> LLVMValueRef { LLVMGetParam(fn, n)! }
}

/// Emits the FMA-throughput kernel (ABI: `FMAPeakEntry`):
///
///   define float @sym(i64 %n, float %x, float %y)
///
/// `chains` independent vector accumulators, each updated `n` times by `acc = fma(acc, x, y)`,
/// touching no memory: the loop runs at the FMA units' throughput as long as there are more
/// chains than FMA latency x FMA ports. Returns a lane of the sum so nothing is dead. With
/// |x| < 1 the values stay bounded (no overflow, no denormals).
struct FMAPeakEmitter {
  let isa: GEMMISA
  let chains: Int
  let symbol: String

  func emit(context: LLVMContextRef, module: LLVMModuleRef, attributes: [(String, String)]) {
    let b = IRBuilder(context: context, module: module)
    let vt = LLVMVectorType(b.f32, UInt32(isa.vectorFloats))!
    var params: [LLVMTypeRef?] = [b.i64, b.f32, b.f32]
    let fn = LLVMAddFunction(module, symbol, LLVMFunctionType(b.f32, &params, 3, 0))!
    b.addEnumAttribute(fn, index: -1, "nounwind")
    for (k, v) in attributes { b.addStringAttribute(fn, k, v) }
    let n = LLVMGetParam(fn, 0)!
    let entry = LLVMAppendBasicBlockInContext(context, fn, "entry")!
    let loop = LLVMAppendBasicBlockInContext(context, fn, "loop")!
    let exit = LLVMAppendBasicBlockInContext(context, fn, "exit")!
    LLVMPositionBuilderAtEnd(b.builder, entry)
    let x = b.splat(LLVMGetParam(fn, 1)!, vt), y = b.splat(LLVMGetParam(fn, 2)!, vt)
    // Distinct starting values, so no two chains are the same computation.
    let starts = (0..<chains).map { j in b.splat(b.float(Float(j + 1) * 0.125), vt) }
    LLVMBuildCondBr(b.builder, b.icmp(LLVMIntSGT, n, b.int64(0)), loop, exit)
    LLVMPositionBuilderAtEnd(b.builder, loop)
    let i = LLVMBuildPhi(b.builder, b.i64, "i")!
    let acc = (0..<chains).map { _ in LLVMBuildPhi(b.builder, vt, "acc")! }
    let next = acc.map { b.call("llvm.fma", [vt], [$0, x, y]) }
    let iNext = b.nswAdd(i, b.int64(1))
    LLVMBuildCondBr(b.builder, b.icmp(LLVMIntSLT, iNext, n), loop, exit)
    b.incoming(i, [(b.int64(0), entry), (iNext, loop)])
    for j in 0..<chains { b.incoming(acc[j], [(starts[j], entry), (next[j], loop)]) }
    LLVMPositionBuilderAtEnd(b.builder, exit)
    let outs = (0..<chains).map { j in
      let out = LLVMBuildPhi(b.builder, vt, "out")!
      b.incoming(out, [(starts[j], entry), (next[j], loop)])
      return out
    }
    let total = outs.dropFirst().reduce(outs[0]) { LLVMBuildFAdd(b.builder, $0, $1, "")! }
    LLVMBuildRet(b.builder, LLVMBuildExtractElement(b.builder, total, b.int64(0), ""))
  }
}

extension IRBuilder {
  /// `p + n` floats (inbounds).
  func gep(_ p: Value, _ n: Value) -> Value {
    var idx: [LLVMValueRef?] = [n]
    return LLVMBuildInBoundsGEP2(builder, f32, p, &idx, 1, "")!
  }

  func load(_ type: LLVMTypeRef, _ p: Value, align: Int) -> Value {
    let v = LLVMBuildLoad2(builder, type, p, "")!
    LLVMSetAlignment(v, UInt32(align))
    return v
  }

  /// A vector of `type` with every lane `x`.
  func splat(_ x: Value, _ type: LLVMTypeRef) -> Value {
    let lanes = LLVMGetVectorSize(type)
    let one = LLVMBuildInsertElement(builder, LLVMGetUndef(type), x, int64(0), "")!
    let mask = LLVMConstNull(LLVMVectorType(i32, lanes))!
    return LLVMBuildShuffleVector(builder, one, LLVMGetUndef(type), mask, "")!
  }

  /// `llvm.prefetch` of the cache line at `p` into all cache levels.
  func prefetch(_ p: Value, write: Bool) {
    _ = call("llvm.prefetch", [ptr], [p, int32(write ? 1 : 0), int32(3), int32(1)])
  }

  func incoming(_ phi: Value, _ pairs: [(Value, LLVMBasicBlockRef)]) {
    var values: [LLVMValueRef?] = pairs.map(\.0)
    var blocks: [LLVMBasicBlockRef?] = pairs.map(\.1)
    LLVMAddIncoming(phi, &values, &blocks, UInt32(pairs.count))
  }
}

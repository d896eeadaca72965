internal import CLLVM

/// Thin typed helpers over one LLVM builder in one module: constants, intrinsics, fast-math
/// flags. Owned by `IREmitter` (which owns the module); disposes only its builder.
final class IRBuilder {
  typealias Value = LLVMValueRef

  let context: LLVMContextRef
  let module: LLVMModuleRef
  let builder: LLVMBuilderRef
  let f32: LLVMTypeRef
  let i32: LLVMTypeRef
  let i64: LLVMTypeRef
  let i1: LLVMTypeRef
  let ptr: LLVMTypeRef
  let void: LLVMTypeRef

  init(context: LLVMContextRef, module: LLVMModuleRef) {
    self.context = context
    self.module = module
    builder = LLVMCreateBuilderInContext(context)
    f32 = LLVMFloatTypeInContext(context)
    i32 = LLVMInt32TypeInContext(context)
    i64 = LLVMInt64TypeInContext(context)
    i1 = LLVMInt1TypeInContext(context)
    ptr = LLVMPointerTypeInContext(context, 0)
    void = LLVMVoidTypeInContext(context)
  }

  deinit { LLVMDisposeBuilder(builder) }

  // MARK: constants

  func float(_ v: Float) -> Value { LLVMConstReal(f32, Double(v)) }
  func int32(_ v: Int32) -> Value { LLVMConstInt(i32, UInt64(bitPattern: Int64(v)), 1) }
  func int64(_ v: Int) -> Value { LLVMConstInt(i64, UInt64(bitPattern: Int64(v)), 1) }
  func bool(_ v: Bool) -> Value { LLVMConstInt(i1, v ? 1 : 0, 0) }
  func floatBits(_ bits: UInt32) -> Value { float(Float(bitPattern: bits)) }

  // MARK: fast-math

  /// Flags for ordinary float arithmetic: only contraction (a*b+c may become one fma).
  /// NaN, infinity and signed-zero semantics are kept.
  static let arithmeticFlags = LLVMFastMathFlags(LLVMFastMathAllowContract)
  /// Flags for `sum` accumulations: contraction plus reassociation, which the loop
  /// vectorizer needs to split a sum into vector lanes.
  static let sumFlags = LLVMFastMathFlags(LLVMFastMathAllowContract | LLVMFastMathAllowReassoc)

  @discardableResult
  func flags(_ v: Value, _ f: LLVMFastMathFlags = IRBuilder.arithmeticFlags) -> Value {
    if LLVMCanValueUseFastMathFlags(v) != 0 { LLVMSetFastMathFlags(v, f) }
    return v
  }

  // MARK: float arithmetic

  func fadd(_ a: Value, _ b: Value) -> Value { flags(LLVMBuildFAdd(builder, a, b, "")) }
  func fsub(_ a: Value, _ b: Value) -> Value { flags(LLVMBuildFSub(builder, a, b, "")) }
  func fmul(_ a: Value, _ b: Value) -> Value { flags(LLVMBuildFMul(builder, a, b, "")) }
  func fdiv(_ a: Value, _ b: Value) -> Value { flags(LLVMBuildFDiv(builder, a, b, "")) }
  func fneg(_ a: Value) -> Value { flags(LLVMBuildFNeg(builder, a, "")) }
  /// `a * b + c`, fused where the target has FMA (`llvm.fmuladd`).
  func fmuladd(_ a: Value, _ b: Value, _ c: Value) -> Value { call("llvm.fmuladd", [f32], [a, b, c]) }
  /// Horner evaluation of `c[0] + x*(c[1] + x*(c[2] + ...))`.
  func horner(_ x: Value, _ c: [Float]) -> Value {
    var acc = float(c[c.count - 1])
    for k in stride(from: c.count - 2, through: 0, by: -1) { acc = fmuladd(acc, x, float(c[k])) }
    return acc
  }

  func fcmp(_ p: LLVMRealPredicate, _ a: Value, _ b: Value) -> Value { LLVMBuildFCmp(builder, p, a, b, "") }
  func icmp(_ p: LLVMIntPredicate, _ a: Value, _ b: Value) -> Value { LLVMBuildICmp(builder, p, a, b, "") }
  func select(_ c: Value, _ a: Value, _ b: Value) -> Value { LLVMBuildSelect(builder, c, a, b, "") }

  // MARK: integers and bits

  func add(_ a: Value, _ b: Value) -> Value { LLVMBuildAdd(builder, a, b, "") }
  func sub(_ a: Value, _ b: Value) -> Value { LLVMBuildSub(builder, a, b, "") }
  func nswAdd(_ a: Value, _ b: Value) -> Value { LLVMBuildNSWAdd(builder, a, b, "") }
  func nswSub(_ a: Value, _ b: Value) -> Value { LLVMBuildNSWSub(builder, a, b, "") }
  func nswMul(_ a: Value, _ b: Value) -> Value { LLVMBuildNSWMul(builder, a, b, "") }
  func and(_ a: Value, _ b: Value) -> Value { LLVMBuildAnd(builder, a, b, "") }
  func or(_ a: Value, _ b: Value) -> Value { LLVMBuildOr(builder, a, b, "") }
  func xor(_ a: Value, _ b: Value) -> Value { LLVMBuildXor(builder, a, b, "") }
  func not(_ a: Value) -> Value { LLVMBuildNot(builder, a, "") }
  func shl(_ a: Value, _ b: Value) -> Value { LLVMBuildShl(builder, a, b, "") }
  func ashr(_ a: Value, _ b: Value) -> Value { LLVMBuildAShr(builder, a, b, "") }
  func bitsOf(_ f: Value) -> Value { LLVMBuildBitCast(builder, f, i32, "") }
  func floatOf(_ bits: Value) -> Value { LLVMBuildBitCast(builder, bits, f32, "") }

  // MARK: calls

  /// Calls the overloaded intrinsic `name` specialised for `types`.
  func call(_ name: String, _ types: [LLVMTypeRef], _ args: [Value]) -> Value {
    let id = LLVMLookupIntrinsicID(name, name.utf8.count)
    precondition(id != 0, "unknown intrinsic \(name)")
    var tys: [LLVMTypeRef?] = types
    let fn = LLVMGetIntrinsicDeclaration(module, id, &tys, tys.count)
    let fnType = LLVMIntrinsicGetType(context, id, &tys, tys.count)
    return call(fn!, type: fnType!, args)
  }

  func call(_ fn: Value, type: LLVMTypeRef, _ args: [Value]) -> Value {
    var a: [LLVMValueRef?] = args
    return flags(LLVMBuildCall2(builder, type, fn, &a, UInt32(a.count), ""))
  }

  // MARK: attributes

  func addEnumAttribute(_ fn: Value, index: Int32, _ name: String) {
    let kind = LLVMGetEnumAttributeKindForName(name, name.utf8.count)
    precondition(kind != 0, "unknown attribute \(name)")
    LLVMAddAttributeAtIndex(fn, LLVMAttributeIndex(bitPattern: index), LLVMCreateEnumAttribute(context, kind, 0))
  }

  func addStringAttribute(_ fn: Value, _ key: String, _ value: String) {
    let attr = LLVMCreateStringAttribute(context, key, UInt32(key.utf8.count), value, UInt32(value.utf8.count))
    LLVMAddAttributeAtIndex(fn, LLVMAttributeIndex(bitPattern: Int32(LLVMAttributeFunctionIndex)), attr)
  }
}

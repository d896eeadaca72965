/// Constant index offsets common to every access of a buffer, moved out of a kernel and into
/// the pointer the kernel is called with.
///
/// Why: StyleGAN2's style affines each read one row of w+ (`b1[(512 r + k)]` for row r), so its
/// 13 affines at 256 pixels were 13 kernels that differ only in that constant, each compiled on
/// its own (about 11 ms of LLVM time each, cold); with the offset in the pointer they are the
/// same canonical kernel for each output width. Adding a constant to a pointer instead of to
/// every index reads and writes the same elements, so no result changes.
public enum BufferOffsets {
  /// `kernel` with each buffer's smallest constant offset (the constant term of its access
  /// indices, when every access has a positive one) subtracted from its accesses and from its
  /// length, and those offsets in elements, one per buffer (0 where nothing moved).
  public static func hoisted(_ kernel: Kernel) -> (kernel: Kernel, offsets: [Int]) {
    var accesses = [[IntExpr]](repeating: [], count: kernel.buffers.count)
    collect(kernel.parallel.body, into: &accesses)
    let offsets = accesses.map { indices in indices.isEmpty ? 0 : Swift.max(0, indices.map(constantTerm).min()!) }
    guard offsets.contains(where: { $0 > 0 }) else { return (kernel, offsets) }
    var out = kernel
    for b in out.buffers.indices { out.buffers[b].count -= offsets[b] }
    out.parallel.body = Shift(offsets: offsets).apply(kernel.parallel.body)
    return (out, offsets)
  }

  /// The constant term of an index: `c`, `c + e` or `e + c`; 0 for any other form.
  static func constantTerm(_ index: IntExpr) -> Int {
    switch index {
    case .const(let c), .binary(.add, .const(let c), _), .binary(.add, _, .const(let c)): return c
    default: return 0
    }
  }

  /// The index of every load and store, by buffer.
  static func collect(_ body: [Stmt], into accesses: inout [[IntExpr]]) {
    for s in body {
      if case .loop(let l) = s { collect(l.body, into: &accesses) }
      if case .store(let b, let index, _) = s { accesses[b].append(index) }
      for e in s.expressions {
        e.forEachNode { node in
          if case .float(.load(let b, let index)) = node { accesses[b].append(index) }
        }
      }
    }
  }

  /// Subtracts each buffer's offset from its accesses' constant terms.
  struct Shift {
    let offsets: [Int]

    func apply(_ body: [Stmt]) -> [Stmt] { body.map(apply) }

    func apply(_ s: Stmt) -> Stmt {
      switch s {
      case .store(let b, let i, let v):
        return .store(buffer: b, index: shifted(apply(i), by: offsets[b]), value: apply(v))
      case .letFloat(let n, let v): return .letFloat(n, apply(v))
      case .letInt(let n, let i): return .letInt(n, apply(i))
      case .accumulate(let n, let v): return .accumulate(n, apply(v))
      case .accumulator: return s
      case .loop(var l):
        l.body = apply(l.body)
        return .loop(l)
      }
    }

    func apply(_ e: FloatExpr) -> FloatExpr {
      if case .load(let b, let i) = e { return .load(buffer: b, index: shifted(apply(i), by: offsets[b])) }
      return e.mapOperands(rewriter)
    }
    func apply(_ e: IntExpr) -> IntExpr { e.mapOperands(rewriter) }
    func apply(_ e: BoolExpr) -> BoolExpr { e.mapOperands(rewriter) }
    private var rewriter: ExprRewriter { ExprRewriter(int: apply, float: apply, bool: apply) }

    /// `index` with `d` taken off its constant term (which `hoisted` made sure is at least d).
    func shifted(_ index: IntExpr, by d: Int) -> IntExpr {
      guard d != 0 else { return index }
      switch index {
      case .const(let c): return .const(c - d)
      case .binary(.add, .const(let c), let e): return c == d ? e : .binary(.add, .const(c - d), e)
      case .binary(.add, let e, .const(let c)): return c == d ? e : .binary(.add, e, .const(c - d))
      default: preconditionFailure("BufferOffsets: an access without the constant term it was measured with")
      }
    }
  }
}

/// A kernel whose parallel loop has one iteration made parallel over its inner loop instead.
///
/// Why: lowered kernels run their leading axes in the parallel loop and the last axis inside
/// it, so a tensor whose leading axes are all 1 (the batch of one of an inversion: a style
/// vector [1, 512], a per-channel reduction [1, C] over a whole 256x256 feature map, a flattened
/// weight) was one call on one thread however large its inner loop: 218 of the 417 kernels of a
/// 256-pixel ILO round, among them reductions over 8.4 M elements. With the inner loop as the
/// parallel one, the callers split it into chunks like any other. Each element is still
/// computed by the same statements, each output written by one iteration, so no bit changes.
public enum ParallelAxis {
  /// `parallel for o in 0..<1 { for i in 0..<n { body } }` as `parallel for i in 0..<n { let o
  /// = 0; body }`, when every store in `body` depends on `i` (so no two iterations write one
  /// element) and the kernel runs at least `minimumStatements`; any other kernel unchanged.
  public static func widened(_ kernel: Kernel) -> Kernel {
    guard kernel.parallel.extent == 1, kernel.parallel.body.count == 1,
          case .loop(let inner) = kernel.parallel.body[0], inner.extent > 1,
          statements(kernel.parallel.body) >= minimumStatements,
          storesDepend(on: [inner.variable], inner.body) else { return kernel }
    var out = kernel
    out.parallel = Loop(inner.variable, inner.extent, [.letInt(kernel.parallel.variable, .const(0))] + inner.body)
    return out
  }

  /// Below this many statements run, a kernel stays one call: sharing a call out over the
  /// threads costs 10-20 us, about what StyleGAN2's 512x512 style products (262 K statements,
  /// 66 a step) take whole; widened, they added 0.6-1.3 ms to a `stylegan2-256` step.
  public static let minimumStatements = 1 << 20

  /// The statements `body` runs, loops multiplied out.
  static func statements(_ body: [Stmt]) -> Int {
    body.reduce(0) { n, s in
      if case .loop(let l) = s { return n + l.extent * statements(l.body) }
      return n + 1
    }
  }

  /// Whether every store in `body` (nested loops included) has an index that reads one of
  /// `names` or an integer `let` computed from them.
  static func storesDepend(on names: Set<String>, _ body: [Stmt]) -> Bool {
    var dependent = names
    for s in body {
      switch s {
      case .letInt(let n, let e):
        if ExprNode.int(e).reads(dependent) { dependent.insert(n) } else { dependent.remove(n) }
      case .store(_, let index, _):
        guard ExprNode.int(index).reads(dependent) else { return false }
      case .loop(let l):
        guard storesDepend(on: dependent.subtracting([l.variable]), l.body) else { return false }
      case .letFloat, .accumulator, .accumulate:
        break
      }
    }
    return true
  }
}

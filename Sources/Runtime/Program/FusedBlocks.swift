import Codegen
import Foundation

/// Blocks of output rows that one thread gathers (im2col) or transforms (Winograd), multiplies
/// and writes out while the block is still in its cache. Over the whole image at once, each
/// part streams the expanded operand through memory (9x the activations for a 3x3 im2col, 4x
/// for Winograd F(2x2)), and the product of a short-K layer waits on memory, not on its FMAs.
/// Each block is computed by the same code and the same fma chains as the whole image (the own
/// GEMM's bits do not depend on where columns are split), so blocking changes no bit.
public enum FusedBlocks {
  /// What one block's expanded operand (and, for Winograd, its products) may take by default:
  /// about a core's L2 on the x86 CPUs we target (measured on `stylegan2-1024`, 2 threads:
  /// 512 KB and 1 MB alike, 2 MB 2-4 % slower). `ILOC_FUSED=0` turns blocking off,
  /// `ILOC_FUSED_BLOCK_KB` sets the size (comparisons).
  public static let bytes: Int = {
    let env = ProcessInfo.processInfo.environment
    return env["ILOC_FUSED"] == "0" ? 0 : (env["ILOC_FUSED_BLOCK_KB"].flatMap { Int($0) } ?? 1024) << 10
  }()

  /// The most rows (a divisor of `rows`) whose data fits `budget` bytes, at least 1; nil when
  /// that is all of them (one block: nothing to share out) or when the budget is 0 (off).
  static func rows(of rows: Int, bytesPerRow: Int, budget: Int) -> Int? {
    guard budget > 0 else { return nil }
    let r = fittingRows(of: rows, bytesPerRow: bytesPerRow, budget: budget)
    return r < rows ? r : nil
  }

  /// The most rows (a divisor of `rows`) whose data fits `budget` bytes; at least 1.
  static func fittingRows(of rows: Int, bytesPerRow: Int, budget: Int) -> Int {
    (1...rows).last { rows % $0 == 0 && $0 * bytesPerRow <= budget } ?? 1
  }

  /// The threads that share `blocks` blocks (one scratch block each).
  static func workers(_ blocks: Int) -> Int { Swift.min(Parallel.threads, blocks) }
}

extension ProgramStep {
  /// Runs `body(block, worker, clock)` for blocks `0..<count`, a contiguous run of them per
  /// worker (`worker` numbers its scratch block), and adds the time the workers spent in GEMM
  /// calls (timed with `clock` when profiling), per worker, to `gemmSeconds`.
  func forEachFusedBlock(_ count: Int, _ ctx: RunContext, _ body: (Int, Int, GEMMClock) -> Void) {
    let clock = GEMMClock(on: ctx.profiling)
    let partition = Partition(extent: count, work: count, grain: 1, align: 1, maxChunks: Parallel.threads)
    Parallel.forEachChunk(of: partition) { r in
      let worker = r.lowerBound / partition.size
      for b in r { body(b, worker, clock) }
    }
    gemmSeconds += clock.seconds / Double(FusedBlocks.workers(count))
  }
}

extension FusedBlocks {
  /// One compiled kernel over its whole parallel loop, on the calling thread.
  static func call(_ k: CompiledKernel, _ ptrs: [UnsafeMutablePointer<Float>?], _ scalars: [Int64], extent: Int) {
    ptrs.withUnsafeBufferPointer { pp in
      scalars.withUnsafeBufferPointer { sp in k.entry(pp.baseAddress!, sp.baseAddress, 0, Int64(extent)) }
    }
  }
}

/// Time spent inside GEMM calls summed over threads, when profiling.
final class GEMMClock: @unchecked Sendable {
  private let on: Bool
  private let lock = NSLock()
  private(set) var seconds = 0.0
  init(on: Bool) { self.on = on }

  func time(_ body: () -> Void) {
    guard on else { return body() }
    let t0 = DispatchTime.now().uptimeNanoseconds
    body()
    let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    lock.lock(); seconds += dt; lock.unlock()
  }
}

/// Keeps the best iterate of a round (spec §2 step 5): the state whose loss (the data loss, as
/// the reference's `mse_min`) is the lowest so far. Snapshot buffers are allocated once; the
/// caller offers each step's loss (of the pre-update state) and, when it improved, copies the
/// state in with `capture`. Non-finite losses never count as improvements.
public struct BestIterate: Sendable {
  public private(set) var loss: Float = .infinity
  /// The step of the best iterate, nil before any finite loss.
  public private(set) var step: Int?
  /// One snapshot per state buffer (e.g. z, noises, h).
  public private(set) var snapshots: [[Float]]

  public init(sizes: [Int] = []) { snapshots = sizes.map { [Float](repeating: 0, count: $0) } }

  /// Forgets the best loss (a new round); the snapshot buffers are kept.
  public mutating func reset() { loss = .infinity; step = nil }

  /// Records step `step`'s loss; true when it is finite and strictly below the best so far.
  public mutating func offer(loss l: Float, step s: Int) -> Bool {
    guard l.isFinite, l < loss else { return false }
    loss = l; step = s
    return true
  }

  /// Copies `source` into snapshot `index` (same size as declared).
  public mutating func capture(_ index: Int, from source: UnsafeBufferPointer<Float>) {
    precondition(source.count == snapshots[index].count, "best iterate: snapshot \(index) has size \(snapshots[index].count)")
    snapshots[index].withUnsafeMutableBufferPointer { d in _ = d.initialize(from: source) }
  }

  public mutating func capture(_ index: Int, from source: [Float]) {
    source.withUnsafeBufferPointer { capture(index, from: $0) }
  }
}

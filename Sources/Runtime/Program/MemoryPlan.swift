/// Liveness-based placement of a program's buffers in one arena.
///
/// Each buffer lives from the step that writes it to the last step that reads it (pinned
/// buffers, such as inputs, constants and outputs, live for the whole program). Buffers whose
/// lifetimes do not overlap may share memory. Placement is the classic greedy interval
/// packing: largest buffers first, each at the lowest 64-byte-aligned offset that does not
/// overlap any already placed buffer alive at the same time.
public struct MemoryPlan: Sendable {
  public struct Request: Sendable {
    public var id: Int
    public var count: Int  // floats
    public var first: Int  // step index of definition (-1 for pinned-from-start)
    public var last: Int  // last step index that reads it
    public init(id: Int, count: Int, first: Int, last: Int) { self.id = id; self.count = count; self.first = first; self.last = last }
  }

  /// Offset (in floats) of each requested buffer, by id.
  public private(set) var offsets: [Int: Int] = [:]
  /// Total arena size in floats.
  public private(set) var size: Int = 0
  /// What the arena would need without any reuse, in floats.
  public private(set) var unsharedSize: Int = 0

  static let alignment = 16  // floats = 64 bytes

  public init(_ requests: [Request]) {
    var placed: [(Request, Int)] = []
    for r in requests.sorted(by: { ($0.count, -$0.id) > ($1.count, -$1.id) }) {
      let n = Self.aligned(r.count)
      unsharedSize += n
      let conflicts = placed.filter { $0.0.first <= r.last && r.first <= $0.0.last }
        .map { ($0.1, $0.1 + Self.aligned($0.0.count)) }.sorted { $0.0 < $1.0 }
      var offset = 0
      for (lo, hi) in conflicts {
        if offset + n <= lo { break }
        offset = Swift.max(offset, hi)
      }
      placed.append((r, offset))
      offsets[r.id] = offset
      size = Swift.max(size, offset + n)
    }
  }

  static func aligned(_ n: Int) -> Int { (Swift.max(n, 1) + alignment - 1) / alignment * alignment }
}

/// A 64-byte aligned, zero-initialized float arena.
public final class Arena: @unchecked Sendable {
  public let base: UnsafeMutablePointer<Float>
  public let count: Int
  public init(count: Int) {
    self.count = Swift.max(count, 16)
    let raw = UnsafeMutableRawPointer.allocate(byteCount: self.count * 4, alignment: 64)
    base = raw.bindMemory(to: Float.self, capacity: self.count)
    base.initialize(repeating: 0, count: self.count)
  }
  deinit { UnsafeMutableRawPointer(base).deallocate() }
}

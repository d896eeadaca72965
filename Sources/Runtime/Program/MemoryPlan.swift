import Foundation

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
///
/// Mapped anonymously from the OS, whose pages read as zero until first written: building a
/// program does not touch (and fault in) gigabytes that its first run writes anyway, and
/// buffers a run never writes cost no physical memory.
public final class Arena: @unchecked Sendable {
  public let base: UnsafeMutablePointer<Float>
  public let count: Int
  private let bytes: Int
  public init(count: Int) {
    self.count = Swift.max(count, 16)
    bytes = self.count * 4
    let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    guard let raw, raw != MAP_FAILED else {
      fatalError("cannot map an arena of \(bytes) bytes: \(String(cString: strerror(errno)))")
    }
    base = raw.bindMemory(to: Float.self, capacity: self.count)
  }
  deinit { munmap(UnsafeMutableRawPointer(base), bytes) }
}

import Foundation
import Testing

@testable import Runtime

/// The unpickler and the view gatherer on hand-assembled inputs, including hostile ones.
@Suite struct PickleTests {
  func load(_ bytes: [UInt8]) throws -> PickleValue {
    try bytes.withUnsafeBytes { raw in
      var unpickler = Unpickler(raw)
      return try unpickler.load()
    }
  }

  func error(_ bytes: [UInt8]) -> String {
    do {
      _ = try load(bytes)
      return ""
    } catch {
      return "\(error)"
    }
  }

  @Test func decodesProtocol2Values() throws {
    // pickle.dumps({"a": [1, -2, 70000, 1.5, None, True], "b": (b"xy",)}, protocol=2) written
    // with the binary opcodes by hand: MARK/SETITEMS, BININT1/BININT/BININT2, BINFLOAT, ...
    var p: [UInt8] = [0x80, 0x02, 0x7D, 0x71, 0x00, 0x28]
    p += [0x58, 1, 0, 0, 0] + Array("a".utf8)
    p += [0x5D, 0x28, 0x4B, 0x01, 0x4A, 0xFE, 0xFF, 0xFF, 0xFF, 0x4A, 0x70, 0x11, 0x01, 0x00]
    p += [0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0x4E, 0x88, 0x65]
    p += [0x8C, 1] + Array("b".utf8) + [0x43, 2] + Array("xy".utf8) + [0x85]
    p += [0x75, 0x2E]
    let value = try load(p)
    let list = value["a"]?.elements ?? []
    #expect(list.count == 6)
    #expect(list.prefix(3).map(\.intValue) == [1, -2, 70000])
    if case .float(let f)? = list.dropFirst(3).first { #expect(f == 1.5) } else { Issue.record("no float") }
    #expect(list.last?.intValue == 1)
    guard case .bytes(let b)? = value["b"]?.elements?.first else {
      Issue.record("no bytes")
      return
    }
    #expect(b == Array("xy".utf8))
  }

  @Test func longIntegers() throws {
    // LONG1 two's complement: 0xff7f = -129 (2 bytes); 10 bytes do not fit in Int.
    #expect(try load([0x80, 2, 0x8A, 2, 0x7F, 0xFF, 0x2E]).intValue == -129)
    #expect(try load([0x80, 2, 0x8A, 0, 0x2E]).intValue == 0)
    guard case .bigInt(let raw) = try load([0x80, 2, 0x8A, 10] + Array(repeating: 1, count: 10) + [0x2E]) else {
      Issue.record("expected bigInt")
      return
    }
    #expect(raw.count == 10)
  }

  @Test func memoSharesMutableContainers() throws {
    // d = {}; memo[0] = d; l = [d]; then d["k"] = 1 through the memo: l[0] must see it.
    let p: [UInt8] = [
      0x80, 2, 0x7D, 0x71, 0, 0x5D, 0x68, 0, 0x61,  // {} put0, [], get0, append
      0x68, 0, 0x8C, 1, 0x6B, 0x4B, 1, 0x73, 0x30,  // get0, "k", 1, setitem, pop
      0x2E,
    ]
    #expect(try load(p).elements?.first?["k"]?.intValue == 1)
  }

  @Test func hostileStreamsThrow() {
    #expect(error([0x80, 2, 0x49]).contains("unsupported pickle opcode 0x49 at byte 2"))
    #expect(error([0x80, 2, 0x58, 0xFF, 0, 0, 0]).contains("truncated pickle"))
    #expect(error([0x80, 2, 0x8D] + Array(repeating: 0xFF, count: 8)).contains("truncated pickle"))
    #expect(error([0x80, 2, 0x52]).contains("stack underflow at byte 2"))
    #expect(error([0x80, 2, 0x68, 7]).contains("unknown memo key 7 at byte 2"))
    #expect(error([0x80, 2, 0x74]).contains("no MARK at byte 2"))
    #expect(error([0x80, 2, 0x4B, 1, 0x61]).contains("empty stack at byte 4"))
    #expect(error([0x80, 2, 0x4B, 1, 0x4B, 2, 0x61]).contains("APPEND to a non-list"))
    #expect(error([0x80, 2]).contains("truncated pickle"))
    // A list appended to itself.
    #expect(error([0x80, 2, 0x5D, 0x71, 0, 0x68, 0, 0x61, 0x2E]).contains("self-referential"))
    // Deep nesting: 5000 lists, each appended into the previous one.
    let deep: [UInt8] = [0x80, 2] + Array(repeating: 0x5D, count: 5000) + Array(repeating: 0x61, count: 4999) + [0x2E]
    #expect(error(deep).contains("nesting too deep"))
    // Exponential sharing: t = (t, t) forty times would be 2^40 nodes once expanded.
    var laughs: [UInt8] = [0x80, 2, 0x29]
    for _ in 0..<40 { laughs += [0x71, 0, 0x68, 0, 0x86] }
    #expect(error(laughs + [0x2E]).contains("self-referential"))
  }

  @Test func viewsGatherRowMajor() throws {
    // A 3x2 transposed view of a 2x3 storage: elements 0,3,1,4,2,5.
    guard case .gathered(let t) = try ElementIndices.view(offset: 0, shape: [3, 2], stride: [1, 3], storageCount: 6)
    else { Issue.record("expected a gather"); return }
    #expect(t == [0, 3, 1, 4, 2, 5])
    // expand: stride 0 repeats.
    guard case .gathered(let e) = try ElementIndices.view(offset: 1, shape: [2, 2], stride: [0, 1], storageCount: 3)
    else { Issue.record("expected a gather"); return }
    #expect(e == [1, 2, 1, 2])
    // Size-1 axes may carry any stride (even a huge one) and stay contiguous.
    guard case .contiguous(let start, let count) = try ElementIndices.view(
      offset: 2, shape: [1, 3], stride: [Int.max, 1], storageCount: 5)
    else { Issue.record("expected contiguous"); return }
    #expect(start == 2 && count == 3)
    // A size-1 axis with a huge stride inside a gather must not overflow.
    guard case .gathered(let g) = try ElementIndices.view(
      offset: 0, shape: [2, 1, 2], stride: [1, Int.max, 2], storageCount: 4)
    else { Issue.record("expected a gather"); return }
    #expect(g == [0, 2, 1, 3])
  }

  @Test func badViewsThrow() {
    func message(_ offset: Int, _ shape: [Int], _ stride: [Int], _ count: Int) -> String {
      do {
        _ = try ElementIndices.view(offset: offset, shape: shape, stride: stride, storageCount: count)
        return ""
      } catch { return "\(error)" }
    }
    #expect(message(0, [2, 3], [3, 1], 5).contains("reads element 5 of a storage with 5 elements"))
    #expect(message(-1, [2], [1], 5).contains("invalid view"))
    #expect(message(0, [2], [-1], 5).contains("invalid view"))
    #expect(message(0, [2, 2], [1], 5).contains("invalid view"))
    #expect(message(0, [Int.max, 2], [1, 1], 5).contains("invalid view"))
    #expect(message(0, [1 << 40], [0], 1).contains("has 1099511627776 elements"))
  }
}

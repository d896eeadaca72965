/// Decodes one pickle stream (protocols 2-5, the binary opcodes torch checkpoints use) into a
/// `PickleValue` tree, without executing anything.
///
/// Python containers are mutable and shared through the memo (`BINPUT`/`BINGET`), so while
/// decoding every object is a node in one flat arena, referred to by index, and the tree is
/// frozen into values at `STOP`. The arena keeps hostile nesting harmless: building and
/// freeing it never recurses, however deep the stream nests (a tree of boxes would overflow
/// the stack when released). Nesting deeper than `maxDepth` is refused as soon as it is built,
/// and again while freezing (for nesting built top-down through the memo, and for cycles).
/// All reads are bounds-checked: malformed input throws a one-line `WeightError` (with the byte
/// offset of the offending opcode), it never traps.
struct Unpickler {
  /// The deepest container nesting accepted (torch checkpoints nest a handful of levels).
  static let maxDepth = 100

  private let bytes: UnsafeRawBufferPointer
  /// Offset of the next byte to read; after `load()`, the offset just past `STOP`.
  private(set) var position: Int
  private var nodes: [Node] = []
  /// Nesting depth of each node as built (a leaf is 0); lists only grow deeper.
  private var depths: [Int] = []
  private var stack: [Int] = []
  private var marks: [Int] = []
  private var memo: [Int: Int] = [:]
  private var persistent: [Int] = []
  /// Every persistent id met, in stream order (torch: the storages the pickle refers to).
  private(set) var persistentIDs: [PickleValue] = []

  /// Prepares to read a pickle that starts at byte `start` of `bytes`.
  init(_ bytes: UnsafeRawBufferPointer, start: Int = 0) {
    self.bytes = bytes
    self.position = start
  }

  /// Decodes opcodes up to and including `STOP` and returns the value left on the stack.
  mutating func load() throws -> PickleValue {
    while true {
      let at = position
      let op = try byte()
      switch op {
      case 0x80: _ = try byte()  // PROTO
      case 0x95: _ = try take(8)  // FRAME: a length hint only
      case 0x2E:  // STOP
        var budget = 16 * bytes.count + 10_000  // nodes; guards against exponential sharing
        let result = try freeze(try pop(at), depth: 0, budget: &budget)
        for pid in persistent { persistentIDs.append(try freeze(pid, depth: 0, budget: &budget)) }
        return result

      // Constants and numbers.
      case 0x4E: try push(.value(.none))  // NONE
      case 0x88: try push(.value(.bool(true)))  // NEWTRUE
      case 0x89: try push(.value(.bool(false)))  // NEWFALSE
      case 0x4B: try push(.value(.int(Int(try unsigned(1)))))  // BININT1
      case 0x4D: try push(.value(.int(Int(try unsigned(2)))))  // BININT2
      case 0x4A: try push(.value(.int(Int(Int32(truncatingIfNeeded: try unsigned(4))))))  // BININT
      case 0x8A: try push(.value(try long(Int(try unsigned(1)))))  // LONG1
      case 0x8B:  // LONG4
        let n = Int(Int32(truncatingIfNeeded: try unsigned(4)))
        guard n >= 0 else { throw WeightError("negative LONG4 length at byte \(at)") }
        try push(.value(try long(n)))
      case 0x47:  // BINFLOAT: big-endian IEEE double
        let raw = try take(8)
        let bits = raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        try push(.value(.float(Double(bitPattern: bits))))

      // Strings and bytes.
      case 0x58: try push(.value(.string(try text(Int(try unsigned(4))))))  // BINUNICODE
      case 0x8C: try push(.value(.string(try text(Int(try unsigned(1))))))  // SHORT_BINUNICODE
      case 0x8D: try push(.value(.string(try text(try length64()))))  // BINUNICODE8
      case 0x55: try push(.value(.string(try text(Int(try unsigned(1))))))  // SHORT_BINSTRING
      case 0x54:  // BINSTRING (Python 2 str; torch loads these as UTF-8 text)
        let n = Int(Int32(truncatingIfNeeded: try unsigned(4)))
        guard n >= 0 else { throw WeightError("negative BINSTRING length at byte \(at)") }
        try push(.value(.string(try text(n))))
      case 0x43: try push(.value(.bytes(Array(try take(Int(try unsigned(1)))))))  // SHORT_BINBYTES
      case 0x42: try push(.value(.bytes(Array(try take(Int(try unsigned(4)))))))  // BINBYTES
      case 0x8E, 0x96: try push(.value(.bytes(Array(try take(try length64())))))  // BINBYTES8, BYTEARRAY8

      // Containers.
      case 0x7D: try push(.dict([]))  // EMPTY_DICT
      case 0x5D, 0x8F: try push(.list([]))  // EMPTY_LIST, EMPTY_SET (sets become lists)
      case 0x29: try push(.tuple([]))  // EMPTY_TUPLE
      case 0x28: marks.append(stack.count)  // MARK
      case 0x85: try push(.tuple(try popMany(1, at)))  // TUPLE1
      case 0x86: try push(.tuple(try popMany(2, at)))  // TUPLE2
      case 0x87: try push(.tuple(try popMany(3, at)))  // TUPLE3
      case 0x74: try push(.tuple(try popToMark(at)))  // TUPLE
      case 0x91: try push(.tuple(try popToMark(at)))  // FROZENSET
      case 0x6C: try push(.list(try popToMark(at)))  // LIST
      case 0x64: try push(.dict(try pairs(try popToMark(at), at)))  // DICT
      case 0x61:  // APPEND
        let value = try pop(at)
        try append([value], at: at)
      case 0x65, 0x90: try append(try popToMark(at), at: at)  // APPENDS, ADDITEMS
      case 0x73:  // SETITEM
        let pair = try popMany(2, at)
        try setItems(pair, at: at)
      case 0x75: try setItems(try popToMark(at), at: at)  // SETITEMS

      // Stack and memo.
      case 0x30: _ = try pop(at)  // POP
      case 0x31: _ = try popToMark(at)  // POP_MARK
      case 0x32: stack.append(try top(at))  // DUP
      case 0x71: memo[Int(try unsigned(1))] = try top(at)  // BINPUT
      case 0x72: memo[Int(try unsigned(4))] = try top(at)  // LONG_BINPUT
      case 0x94: memo[memo.count] = try top(at)  // MEMOIZE
      case 0x68: stack.append(try recall(Int(try unsigned(1)), at))  // BINGET
      case 0x6A: stack.append(try recall(Int(try unsigned(4)), at))  // LONG_BINGET

      // Globals, calls, persistent ids.
      case 0x63:  // GLOBAL "module\nname\n"
        let module = try line()
        let name = try line()
        try push(.value(.global(module: module, name: name)))
      case 0x93:  // STACK_GLOBAL
        let parts = try popMany(2, at)
        guard case .value(.string(let module)) = nodes[parts[0]], case .value(.string(let name)) = nodes[parts[1]]
        else { throw WeightError("STACK_GLOBAL without two strings at byte \(at)") }
        try push(.value(.global(module: module, name: name)))
      case 0x52:  // REDUCE: callable(*args)
        let args = try pop(at)
        let callable = try pop(at)
        try push(try call(callable, args, at))
      case 0x81:  // NEWOBJ: cls.__new__(cls, *args)
        let args = try pop(at)
        let cls = try pop(at)
        try push(try call(cls, args, at))
      case 0x92:  // NEWOBJ_EX: keyword arguments are dropped
        _ = try pop(at)
        let args = try pop(at)
        let cls = try pop(at)
        try push(try call(cls, args, at))
      case 0x62:  // BUILD: only opaque objects keep their state; a dict's attributes are ignored
        let state = try pop(at)
        let target = try top(at)
        if case .object(var object) = nodes[target] {
          object.state = state
          nodes[target] = .object(object)
          try deepen(target, below: state)
        }
      case 0x51:  // BINPERSID
        let pid = try pop(at)
        persistent.append(pid)
        try push(.persistentID(pid))
      case 0x50:  // PERSID "id\n"
        try push(.value(.string(try line())))
        let pid = try pop(at)
        persistent.append(pid)
        try push(.persistentID(pid))

      default:
        throw WeightError(
          "unsupported pickle opcode 0x\(String(op, radix: 16, uppercase: false)) at byte \(at)")
      }
    }
  }

  // MARK: Reading bytes

  private mutating func take(_ count: Int) throws -> UnsafeRawBufferPointer {
    guard count >= 0, count <= bytes.count - position else {
      throw WeightError(
        "truncated pickle (needs \(count) more bytes at byte \(position), file has \(bytes.count))")
    }
    defer { position += count }
    return UnsafeRawBufferPointer(rebasing: bytes[position..<position + count])
  }

  private mutating func byte() throws -> UInt8 { try take(1)[0] }

  /// A little-endian unsigned integer of `width` bytes.
  private mutating func unsigned(_ width: Int) throws -> UInt64 {
    try take(width).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
  }

  /// An 8-byte length, checked against what is left so it cannot overflow `Int`.
  private mutating func length64() throws -> Int {
    let n = try unsigned(8)
    guard n <= UInt64(bytes.count - position) else {
      throw WeightError("truncated pickle (length \(n) at byte \(position) exceeds the data)")
    }
    return Int(n)
  }

  private mutating func text(_ count: Int) throws -> String {
    String(decoding: try take(count), as: UTF8.self)
  }

  /// A newline-terminated ASCII line (GLOBAL and PERSID arguments).
  private mutating func line() throws -> String {
    guard let end = bytes[position...].firstIndex(of: 0x0A) else {
      throw WeightError("truncated pickle (unterminated line at byte \(position))")
    }
    let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<end]), as: UTF8.self)
    position = end + 1
    return s
  }

  /// LONG1/LONG4 payload: `count` bytes of little-endian two's complement.
  private mutating func long(_ count: Int) throws -> PickleValue {
    let raw = Array(try take(count))
    guard !raw.isEmpty else { return .int(0) }
    guard raw.count <= 8 else { return .bigInt(raw) }
    var value = raw.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    if raw.last! & 0x80 != 0 && raw.count < 8 { value |= ~UInt64(0) << (8 * UInt64(raw.count)) }
    return .int(Int(Int64(bitPattern: value)))
  }

  // MARK: Stack

  /// Adds `node` to the arena and pushes it; throws if it nests deeper than `maxDepth`.
  private mutating func push(_ node: Node) throws {
    var depth = 0
    node.forEachChild { depth = max(depth, depths[$0] + 1) }
    guard depth <= Self.maxDepth else { throw Self.tooDeep }
    nodes.append(node)
    depths.append(depth)
    stack.append(nodes.count - 1)
  }

  /// Records that `child` now sits inside the mutable container `parent` (APPEND, SETITEM,
  /// BUILD). Containers that already hold `parent` are not revisited: nesting built that way
  /// (top-down through the memo) is caught when freezing.
  private mutating func deepen(_ parent: Int, below child: Int) throws {
    let depth = max(depths[parent], depths[child] + 1)
    guard depth <= Self.maxDepth else { throw Self.tooDeep }
    depths[parent] = depth
  }

  private static let tooDeep = WeightError("malformed pickle: nesting too deep or self-referential")

  private mutating func pop(_ at: Int) throws -> Int {
    guard let item = stack.popLast(), stack.count >= (marks.last ?? 0) else {
      throw WeightError("malformed pickle: stack underflow at byte \(at)")
    }
    return item
  }

  private func top(_ at: Int) throws -> Int {
    guard let item = stack.last else {
      throw WeightError("malformed pickle: empty stack at byte \(at)")
    }
    return item
  }

  private mutating func popMany(_ n: Int, _ at: Int) throws -> [Int] {
    guard stack.count - n >= (marks.last ?? 0) else {
      throw WeightError("malformed pickle: stack underflow at byte \(at)")
    }
    defer { stack.removeLast(n) }
    return Array(stack.suffix(n))
  }

  private mutating func popToMark(_ at: Int) throws -> [Int] {
    guard let mark = marks.popLast(), mark <= stack.count else {
      throw WeightError("malformed pickle: no MARK at byte \(at)")
    }
    defer { stack.removeSubrange(mark...) }
    return Array(stack[mark...])
  }

  private func recall(_ key: Int, _ at: Int) throws -> Int {
    guard let item = memo[key] else {
      throw WeightError("malformed pickle: unknown memo key \(key) at byte \(at)")
    }
    return item
  }

  /// Alternating key, value items as pairs.
  private func pairs(_ items: [Int], _ at: Int) throws -> [(Int, Int)] {
    guard items.count % 2 == 0 else { throw WeightError("odd SETITEMS count at byte \(at)") }
    return stride(from: 0, to: items.count, by: 2).map { (items[$0], items[$0 + 1]) }
  }

  private mutating func append(_ values: [Int], at: Int) throws {
    let target = try top(at)
    switch nodes[target] {
    case .list(var items):
      nodes[target] = .value(.none)  // keeps `items` uniquely referenced while it grows
      items += values
      nodes[target] = .list(items)
    case .object(var object):
      object.listItems += values
      nodes[target] = .object(object)
    default: throw WeightError("malformed pickle: APPEND to a non-list at byte \(at)")
    }
    for value in values { try deepen(target, below: value) }
  }

  private mutating func setItems(_ items: [Int], at: Int) throws {
    let target = try top(at)
    let new = try pairs(items, at)
    switch nodes[target] {
    case .dict(var entries):
      nodes[target] = .value(.none)
      entries += new
      nodes[target] = .dict(entries)
    case .object(var object):
      object.dictItems += new
      nodes[target] = .object(object)
    default: throw WeightError("malformed pickle: SETITEM on a non-dict at byte \(at)")
    }
    for value in items { try deepen(target, below: value) }
  }

  /// REDUCE/NEWOBJ. Dict-like classes become dicts (an OrderedDict may arrive with its items
  /// as a list of pairs); anything else becomes an opaque object.
  private func call(_ callable: Int, _ args: Int, _ at: Int) throws -> Node {
    guard case .tuple(let arguments) = nodes[args] else {
      throw WeightError("malformed pickle: call arguments are not a tuple at byte \(at)")
    }
    if case .value(.global(let module, let name)) = nodes[callable] {
      switch (module, name) {
      case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
        var entries: [(Int, Int)] = []
        if let first = arguments.first, case .list(let pairs) = nodes[first] {
          for pair in pairs {
            guard let kv = nodes[pair].sequence, kv.count == 2 else {
              throw WeightError("malformed pickle: OrderedDict item is not a pair at byte \(at)")
            }
            entries.append((kv[0], kv[1]))
          }
        }
        return .dict(entries)
      case ("collections", "defaultdict"):
        return .dict([])
      default: break
      }
    }
    return .object(ObjectNode(callable: callable, args: arguments))
  }

  // MARK: Freezing nodes into values

  private func freeze(_ id: Int, depth: Int, budget: inout Int) throws -> PickleValue {
    budget -= 1
    guard depth <= Self.maxDepth, budget > 0 else { throw Self.tooDeep }
    func f(_ x: Int) throws -> PickleValue { try freeze(x, depth: depth + 1, budget: &budget) }
    switch nodes[id] {
    case .value(let v): return v
    case .tuple(let items): return .tuple(try items.map(f))
    case .list(let items): return .list(try items.map(f))
    case .dict(let entries): return .dict(try entries.map { (try f($0.0), try f($0.1)) })
    case .persistentID(let pid): return .persistentID(try f(pid))
    case .object(let node):
      var object = PickleObject(callable: try f(node.callable), args: try node.args.map(f))
      object.state = try node.state.map(f)
      object.listItems = try node.listItems.map(f)
      object.dictItems = try node.dictItems.map { (try f($0.0), try f($0.1)) }
      return .object(object)
    }
  }
}

/// An object while decoding: immutable values inline, containers as the arena indices of
/// their items, so that memo references see later mutations, as in Python.
private enum Node {
  case value(PickleValue)
  case tuple([Int])
  case list([Int])
  case dict([(Int, Int)])
  case object(ObjectNode)
  case persistentID(Int)

  /// The items of a list or tuple (OrderedDict pairs may be either).
  var sequence: [Int]? {
    switch self {
    case .list(let items), .tuple(let items): return items
    default: return nil
    }
  }

  /// Calls `body` with every node this one holds.
  func forEachChild(_ body: (Int) -> Void) {
    switch self {
    case .value: break
    case .tuple(let items), .list(let items): items.forEach(body)
    case .dict(let entries): entries.forEach { body($0.0); body($0.1) }
    case .persistentID(let pid): body(pid)
    case .object(let o):
      body(o.callable)
      o.args.forEach(body)
      o.state.map(body)
      o.listItems.forEach(body)
      o.dictItems.forEach { body($0.0); body($0.1) }
    }
  }
}

/// An opaque object being built: the callable, its arguments and what BUILD, APPEND and
/// SETITEM later add.
private struct ObjectNode {
  let callable: Int
  let args: [Int]
  var state: Int?
  var listItems: [Int] = []
  var dictItems: [(Int, Int)] = []
}

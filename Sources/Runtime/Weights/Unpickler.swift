import Foundation

/// Decodes one pickle stream (protocols 2-5, the binary opcodes torch checkpoints use) into a
/// `PickleValue` tree, without executing anything.
///
/// Python containers are mutable and shared through the memo (`BINPUT`/`BINGET`), so the stack
/// holds reference boxes while decoding and the tree is frozen into values at `STOP`.
/// All reads are bounds-checked: malformed input throws a one-line `WeightError` (with the byte
/// offset of the offending opcode), it never traps.
struct Unpickler {
  private let bytes: UnsafeRawBufferPointer
  /// Offset of the next byte to read; after `load()`, the offset just past `STOP`.
  private(set) var position: Int
  private var stack: [Item] = []
  private var marks: [Int] = []
  private var memo: [Int: Item] = [:]
  private var persistent: [Item] = []
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
      case 0x4E: stack.append(.value(.none))  // NONE
      case 0x88: stack.append(.value(.bool(true)))  // NEWTRUE
      case 0x89: stack.append(.value(.bool(false)))  // NEWFALSE
      case 0x4B: stack.append(.value(.int(Int(try unsigned(1)))))  // BININT1
      case 0x4D: stack.append(.value(.int(Int(try unsigned(2)))))  // BININT2
      case 0x4A: stack.append(.value(.int(Int(Int32(truncatingIfNeeded: try unsigned(4))))))  // BININT
      case 0x8A: stack.append(.value(try long(Int(try unsigned(1)))))  // LONG1
      case 0x8B:  // LONG4
        let n = Int(Int32(truncatingIfNeeded: try unsigned(4)))
        guard n >= 0 else { throw WeightError("negative LONG4 length at byte \(at)") }
        stack.append(.value(try long(n)))
      case 0x47:  // BINFLOAT: big-endian IEEE double
        let raw = try take(8)
        let bits = raw.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        stack.append(.value(.float(Double(bitPattern: bits))))

      // Strings and bytes.
      case 0x58: stack.append(.value(.string(try text(Int(try unsigned(4))))))  // BINUNICODE
      case 0x8C: stack.append(.value(.string(try text(Int(try unsigned(1))))))  // SHORT_BINUNICODE
      case 0x8D: stack.append(.value(.string(try text(try length64()))))  // BINUNICODE8
      case 0x55: stack.append(.value(.string(try text(Int(try unsigned(1))))))  // SHORT_BINSTRING
      case 0x54:  // BINSTRING (Python 2 str; torch loads these as UTF-8 text)
        let n = Int(Int32(truncatingIfNeeded: try unsigned(4)))
        guard n >= 0 else { throw WeightError("negative BINSTRING length at byte \(at)") }
        stack.append(.value(.string(try text(n))))
      case 0x43: stack.append(.value(.bytes(Array(try take(Int(try unsigned(1)))))))  // SHORT_BINBYTES
      case 0x42: stack.append(.value(.bytes(Array(try take(Int(try unsigned(4)))))))  // BINBYTES
      case 0x8E, 0x96: stack.append(.value(.bytes(Array(try take(try length64())))))  // BINBYTES8, BYTEARRAY8

      // Containers.
      case 0x7D: stack.append(.dict(DictBox()))  // EMPTY_DICT
      case 0x5D, 0x8F: stack.append(.list(ListBox()))  // EMPTY_LIST, EMPTY_SET (sets become lists)
      case 0x29: stack.append(.tuple([]))  // EMPTY_TUPLE
      case 0x28: marks.append(stack.count)  // MARK
      case 0x85: stack.append(.tuple(try popMany(1, at)))  // TUPLE1
      case 0x86: stack.append(.tuple(try popMany(2, at)))  // TUPLE2
      case 0x87: stack.append(.tuple(try popMany(3, at)))  // TUPLE3
      case 0x74: stack.append(.tuple(try popToMark(at)))  // TUPLE
      case 0x91: stack.append(.tuple(try popToMark(at)))  // FROZENSET
      case 0x6C: stack.append(.list(ListBox(try popToMark(at))))  // LIST
      case 0x64:  // DICT
        let box = DictBox()
        try box.add(pairs: try popToMark(at), at: at)
        stack.append(.dict(box))
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
        stack.append(.value(.global(module: module, name: name)))
      case 0x93:  // STACK_GLOBAL
        let parts = try popMany(2, at)
        guard case .value(.string(let module)) = parts[0], case .value(.string(let name)) = parts[1]
        else { throw WeightError("STACK_GLOBAL without two strings at byte \(at)") }
        stack.append(.value(.global(module: module, name: name)))
      case 0x52:  // REDUCE: callable(*args)
        let args = try pop(at)
        let callable = try pop(at)
        stack.append(try call(callable, args, at))
      case 0x81:  // NEWOBJ: cls.__new__(cls, *args)
        let args = try pop(at)
        let cls = try pop(at)
        stack.append(try call(cls, args, at))
      case 0x92:  // NEWOBJ_EX: keyword arguments are dropped
        _ = try pop(at)
        let args = try pop(at)
        let cls = try pop(at)
        stack.append(try call(cls, args, at))
      case 0x62:  // BUILD: only opaque objects keep their state; a dict's attributes are ignored
        let state = try pop(at)
        if case .object(let object) = try top(at) { object.state = state }
      case 0x51:  // BINPERSID
        let pid = try pop(at)
        persistent.append(pid)
        stack.append(.persistentID(pid))
      case 0x50:  // PERSID "id\n"
        let pid = Item.value(.string(try line()))
        persistent.append(pid)
        stack.append(.persistentID(pid))

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

  private mutating func pop(_ at: Int) throws -> Item {
    guard let item = stack.popLast(), stack.count >= (marks.last ?? 0) else {
      throw WeightError("malformed pickle: stack underflow at byte \(at)")
    }
    return item
  }

  private func top(_ at: Int) throws -> Item {
    guard let item = stack.last else {
      throw WeightError("malformed pickle: empty stack at byte \(at)")
    }
    return item
  }

  private mutating func popMany(_ n: Int, _ at: Int) throws -> [Item] {
    guard stack.count - n >= (marks.last ?? 0) else {
      throw WeightError("malformed pickle: stack underflow at byte \(at)")
    }
    defer { stack.removeLast(n) }
    return Array(stack.suffix(n))
  }

  private mutating func popToMark(_ at: Int) throws -> [Item] {
    guard let mark = marks.popLast(), mark <= stack.count else {
      throw WeightError("malformed pickle: no MARK at byte \(at)")
    }
    defer { stack.removeSubrange(mark...) }
    return Array(stack[mark...])
  }

  private func recall(_ key: Int, _ at: Int) throws -> Item {
    guard let item = memo[key] else {
      throw WeightError("malformed pickle: unknown memo key \(key) at byte \(at)")
    }
    return item
  }

  private mutating func append(_ values: [Item], at: Int) throws {
    switch try top(at) {
    case .list(let box): box.items += values
    case .object(let object): object.listItems += values
    default: throw WeightError("malformed pickle: APPEND to a non-list at byte \(at)")
    }
  }

  private mutating func setItems(_ pairs: [Item], at: Int) throws {
    switch try top(at) {
    case .dict(let box): try box.add(pairs: pairs, at: at)
    case .object(let object):
      guard pairs.count % 2 == 0 else { throw WeightError("odd SETITEMS count at byte \(at)") }
      for i in stride(from: 0, to: pairs.count, by: 2) {
        object.dictItems.append((pairs[i], pairs[i + 1]))
      }
    default: throw WeightError("malformed pickle: SETITEM on a non-dict at byte \(at)")
    }
  }

  /// REDUCE/NEWOBJ. Dict-like classes become dicts (an OrderedDict may arrive with its items
  /// as a list of pairs); anything else becomes an opaque object.
  private func call(_ callable: Item, _ args: Item, _ at: Int) throws -> Item {
    guard case .tuple(let arguments) = args else {
      throw WeightError("malformed pickle: call arguments are not a tuple at byte \(at)")
    }
    if case .value(.global(let module, let name)) = callable {
      switch (module, name) {
      case ("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict"):
        let box = DictBox()
        if case .list(let pairs)? = arguments.first {
          for pair in pairs.items {
            guard case .tuple(let kv) = pair.asSequence, kv.count == 2 else {
              throw WeightError("malformed pickle: OrderedDict item is not a pair at byte \(at)")
            }
            box.entries.append((kv[0], kv[1]))
          }
        }
        return .dict(box)
      case ("collections", "defaultdict"):
        return .dict(DictBox())
      default: break
      }
    }
    return .object(ObjectBox(callable: callable, args: arguments))
  }

  // MARK: Freezing boxes into values

  private func freeze(_ item: Item, depth: Int, budget: inout Int) throws -> PickleValue {
    budget -= 1
    guard depth < 100, budget > 0 else {
      throw WeightError("malformed pickle: nesting too deep or self-referential")
    }
    func f(_ x: Item) throws -> PickleValue { try freeze(x, depth: depth + 1, budget: &budget) }
    switch item {
    case .value(let v): return v
    case .tuple(let items): return .tuple(try items.map(f))
    case .list(let box): return .list(try box.items.map(f))
    case .dict(let box): return .dict(try box.entries.map { (try f($0.0), try f($0.1)) })
    case .persistentID(let pid): return .persistentID(try f(pid))
    case .object(let box):
      var object = PickleObject(callable: try f(box.callable), args: try box.args.map(f))
      object.state = try box.state.map(f)
      object.listItems = try box.listItems.map(f)
      object.dictItems = try box.dictItems.map { (try f($0.0), try f($0.1)) }
      return .object(object)
    }
  }
}

/// A stack entry while decoding: immutable values inline, mutable containers boxed so that
/// memo references see later mutations, as in Python.
private indirect enum Item {
  case value(PickleValue)
  case tuple([Item])
  case list(ListBox)
  case dict(DictBox)
  case object(ObjectBox)
  case persistentID(Item)

  /// A list or tuple as a tuple (OrderedDict pairs may be either).
  var asSequence: Item {
    if case .list(let box) = self { return .tuple(box.items) }
    return self
  }
}

private final class ListBox {
  var items: [Item]
  init(_ items: [Item] = []) { self.items = items }
}

private final class DictBox {
  var entries: [(Item, Item)] = []

  /// Adds alternating key, value items.
  func add(pairs: [Item], at: Int) throws {
    guard pairs.count % 2 == 0 else { throw WeightError("odd SETITEMS count at byte \(at)") }
    for i in stride(from: 0, to: pairs.count, by: 2) { entries.append((pairs[i], pairs[i + 1])) }
  }
}

private final class ObjectBox {
  let callable: Item
  let args: [Item]
  var state: Item?
  var listItems: [Item] = []
  var dictItems: [(Item, Item)] = []
  init(callable: Item, args: [Item]) {
    self.callable = callable
    self.args = args
  }
}

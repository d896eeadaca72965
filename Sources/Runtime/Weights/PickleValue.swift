/// A Python object decoded from a pickle stream, as a plain value tree.
///
/// The unpickler never runs Python code: a call it does not model (`REDUCE`/`NEWOBJ` on some
/// class) becomes an opaque `.object` that records the callable and its arguments, so unknown
/// classes in a checkpoint (argparse `Namespace`, optimizer classes, ...) load without error.
/// `collections.OrderedDict`, `collections.defaultdict` and `builtins.dict` become `.dict`; sets
/// become `.list`. Torch tensors appear as `.object`s whose callable is
/// `torch._utils._rebuild_tensor_v2` with a `.persistentID` storage argument; `TorchCheckpoint`
/// interprets them.
public indirect enum PickleValue: Sendable {
  case none
  case bool(Bool)
  case int(Int)
  /// An integer that does not fit in `Int` (e.g. torch's legacy magic number), as
  /// little-endian two's-complement bytes.
  case bigInt([UInt8])
  case float(Double)
  case string(String)
  case bytes([UInt8])
  case list([PickleValue])
  case tuple([PickleValue])
  /// A dict in insertion order. A key set twice appears twice; readers keep the later one.
  case dict([(key: PickleValue, value: PickleValue)])
  /// A reference to a class or function, e.g. module `torch._utils`, name `_rebuild_tensor_v2`.
  case global(module: String, name: String)
  /// The result of calling a global the unpickler does not model.
  case object(PickleObject)
  /// A persistent id (`BINPERSID`); torch uses it to name a storage stored outside the pickle.
  case persistentID(PickleValue)

  /// The string, if this is a `.string`.
  public var stringValue: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  /// The integer, if this is an `.int` (or a `.bool`, as Python treats it).
  public var intValue: Int? {
    switch self {
    case .int(let i): return i
    case .bool(let b): return b ? 1 : 0
    default: return nil
    }
  }

  /// The elements, if this is a `.list` or a `.tuple`.
  public var elements: [PickleValue]? {
    switch self {
    case .list(let items), .tuple(let items): return items
    default: return nil
    }
  }

  /// The value stored under string key `key`, if this is a `.dict` holding it (the last one
  /// if the key was set more than once).
  public subscript(key: String) -> PickleValue? {
    guard case .dict(let entries) = self else { return nil }
    return entries.last(where: { $0.key.stringValue == key })?.value
  }

  /// `module.name` if this is a `.global`.
  public var qualifiedName: String? {
    if case .global(let module, let name) = self { return "\(module).\(name)" }
    return nil
  }
}

/// An opaque Python object: what calling `callable(*args)` would have built, plus what the
/// stream did to it afterwards (`BUILD` state, appended items, set items).
public struct PickleObject: Sendable {
  /// Usually a `.global`, e.g. `argparse.Namespace`.
  public var callable: PickleValue
  public var args: [PickleValue]
  /// The `BUILD` state (the object's `__dict__` or `__setstate__` argument), if any.
  public var state: PickleValue?
  /// Items added by `APPEND(S)` (list subclasses).
  public var listItems: [PickleValue] = []
  /// Items added by `SETITEM(S)` (dict subclasses).
  public var dictItems: [(key: PickleValue, value: PickleValue)] = []

  /// `module.name` of the callable, if it is a global.
  public var qualifiedName: String? { callable.qualifiedName }
}

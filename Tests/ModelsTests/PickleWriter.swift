import Foundation

/// A small pickle writer (protocol 2 opcodes) for making bad and hostile network pickles inside
/// the tests: Python values, globals, calls (REDUCE), BUILD states and persistent ids.
indirect enum Py {
  case none, bool(Bool), int(Int), float(Double), str(String), bytes([UInt8])
  case tuple([Py]), list([Py]), dict([(String, Py)])
  case global(String, String)
  /// `callable(*args)` (REDUCE).
  case call(Py, [Py])
  /// `obj` followed by BUILD with `state`.
  case build(Py, Py)
  /// A persistent id (BINPERSID), as torch's storages.
  case persid(Py)

  /// The pickle stream of this value (PROTO 2 ... STOP).
  var pickled: [UInt8] {
    var out: [UInt8] = [0x80, 0x02]
    encode(into: &out)
    out.append(0x2E)
    return out
  }

  func encode(into out: inout [UInt8]) {
    func u32(_ n: Int) { out += withUnsafeBytes(of: UInt32(n).littleEndian, Array.init) }
    switch self {
    case .none: out.append(0x4E)
    case .bool(let b): out.append(b ? 0x88 : 0x89)
    case .int(let i): out.append(0x4A); out += withUnsafeBytes(of: Int32(i).littleEndian, Array.init)
    case .float(let d): out.append(0x47); out += withUnsafeBytes(of: d.bitPattern.bigEndian, Array.init)
    case .str(let s): out.append(0x58); u32(s.utf8.count); out += Array(s.utf8)
    case .bytes(let b): out.append(0x42); u32(b.count); out += b
    case .tuple(let items): out.append(0x28); items.forEach { $0.encode(into: &out) }; out.append(0x74)
    case .list(let items): out.append(0x28); items.forEach { $0.encode(into: &out) }; out.append(0x6C)
    case .dict(let entries):
      out.append(0x7D); out.append(0x28)
      for (k, v) in entries { Py.str(k).encode(into: &out); v.encode(into: &out) }
      out.append(0x75)
    case .global(let m, let n): out.append(0x63); out += Array("\(m)\n\(n)\n".utf8)
    case .call(let f, let args): f.encode(into: &out); Py.tuple(args).encode(into: &out); out.append(0x52)
    case .build(let o, let state): o.encode(into: &out); state.encode(into: &out); out.append(0x62)
    case .persid(let pid): pid.encode(into: &out); out.append(0x51)
    }
  }

  /// `os.system(command)`: what a malicious pickle runs on `pickle.load`.
  static func system(_ command: String) -> Py { .call(.global("os", "system"), [.str(command)]) }

  /// A float32 NumPy array as numpy 1.x pickles it.
  static func numpy(_ shape: [Int], _ values: [Float], module: String = "numpy.core.multiarray", fortran: Bool = false) -> Py {
    let dtype = Py.build(.call(.global("numpy", "dtype"), [.str("f4"), .bool(false), .bool(true)]),
                         .tuple([.int(3), .str("<"), .none, .none, .none, .int(-1), .int(-1), .int(0)]))
    let raw = values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
    return .build(.call(.global(module, "_reconstruct"), [.global("numpy", "ndarray"), .tuple([.int(0)]), .bytes([0x62])]),
                  .tuple([.int(1), .tuple(shape.map(Py.int)), dtype, .bool(fortran), .bytes(raw)]))
  }

  /// A float32 tensor as torch pickles it outside `torch.save`: `_rebuild_tensor_v2` over
  /// `torch.storage._load_from_bytes(legacy torch.save of the storage)`.
  static func tensor(_ shape: [Int], _ values: [Float]) -> Py {
    let blob = legacyTorchSave(storage(key: "0", count: values.count), storages: [values])
    return rebuild(.call(.global("torch.storage", "_load_from_bytes"), [.bytes(blob)]), shape)
  }

  /// The persistent id of a float storage on `cuda:0` (the location is ignored by readers).
  static func storage(key: String, count: Int) -> Py {
    .persid(.tuple([.str("storage"), .global("torch", "FloatStorage"), .str(key), .str("cuda:0"), .int(count), .none]))
  }

  /// `_rebuild_tensor_v2(storage, 0, shape, contiguous strides, False, OrderedDict())`.
  static func rebuild(_ storage: Py, _ shape: [Int]) -> Py {
    var strides: [Int] = [], step = 1
    for d in shape.reversed() { strides.insert(step, at: 0); step *= d }
    return .call(.global("torch._utils", "_rebuild_tensor_v2"),
                 [storage, .int(0), .tuple(shape.map(Py.int)), .tuple(strides.map(Py.int)), .bool(false),
                  .call(.global("collections", "OrderedDict"), [])])
  }

  /// A legacy-format `torch.save` stream: magic number, protocol, sys_info, `object`, the
  /// storage keys "0", "1", ..., then each storage as an element count and float32 values.
  static func legacyTorchSave(_ object: Py, storages: [[Float]]) -> [UInt8] {
    var blob = [UInt8]([0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E])
    blob += Py.int(1001).pickled
    blob += Py.dict([("protocol_version", .int(1001)), ("little_endian", .bool(true))]).pickled
    blob += object.pickled
    blob += Py.list(storages.indices.map { .str(String($0)) }).pickled
    for values in storages {
      blob += withUnsafeBytes(of: UInt64(values.count).littleEndian, Array.init)
      blob += values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
    }
    return blob
  }

  /// ILO's / PULSE's `gaussian_fit.pt`: `{'mean': [D], 'std': [D]}` saved on CUDA, legacy format.
  static func gaussianFit(mean: [Float], std: [Float]) -> [UInt8] {
    let object = Py.dict([("mean", rebuild(storage(key: "0", count: mean.count), [mean.count])),
                          ("std", rebuild(storage(key: "1", count: std.count), [std.count]))])
    return legacyTorchSave(object, storages: [mean, std])
  }

  /// A `torch_utils.persistence` module: `_reconstruct_persistent_obj(meta)`.
  static func module(_ className: String, attributes: [(String, Py)] = [], parameters: [(String, Py)] = [],
                     modules: [(String, Py)] = []) -> Py {
    let state = Py.dict([("training", .bool(false)), ("_parameters", .dict(parameters)), ("_buffers", .dict([])),
                         ("_modules", .dict(modules))] + attributes)
    return .call(.global("torch_utils.persistence", "_reconstruct_persistent_obj"),
                 [.dict([("type", .str("class")), ("version", .int(6)), ("module_src", .str("")),
                         ("class_name", .str(className)), ("state", state)])])
  }

  /// A pickled `dnnlib.tflib.network.Network` state.
  static func network(_ name: String, kwargs: [(String, Py)] = [], components: [(String, Py)] = [],
                      variables: [(String, Py)]) -> Py {
    .build(.call(.global("dnnlib.tflib.network", "Network"), []),
           .dict([("version", .int(4)), ("name", .str(name)), ("static_kwargs", .dict(kwargs)),
                  ("components", .dict(components)), ("build_module_src", .str("")), ("build_func_name", .str("G")),
                  ("variables", .list(variables.map { .tuple([.str($0.0), $0.1]) }))]))
  }
}

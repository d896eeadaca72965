import Foundation
import ZIPFoundation

/// A PyTorch checkpoint (`torch.save` output), read in pure Swift.
///
/// Both on-disk formats are supported:
/// - zip (torch >= 1.6): `<top>/data.pkl` is the pickled object and `<top>/data/<key>` holds
///   each storage as raw little-endian bytes; the top folder name varies.
/// - legacy (torch < 1.6 or `_use_new_zipfile_serialization=False`): five concatenated
///   pickles (magic number, protocol version, sys_info, the object, the storage keys), then
///   each storage as an 8-byte little-endian element count followed by its raw bytes.
///
/// Tensors are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` calls
/// whose storage is a persistent id `('storage', torch.FloatStorage, key, location, numel)`.
/// The location (`cpu`, `cuda:0`, ...) is ignored: everything loads to the CPU. Storages are
/// read only when a tensor is requested, so picking `g_ema` from a checkpoint that also holds
/// `g`, `d` and optimizer states reads only the `g_ema` storages.
public final class TorchCheckpoint {
  /// The file name used in error messages.
  public let fileName: String
  /// The whole unpickled object; tensors appear as opaque `_rebuild_tensor_v2` objects.
  public let tree: PickleValue
  /// Keys of every tensor in `tree`, dot-joined through nested dicts (and list indices), in
  /// file order, e.g. `g_ema.style.1.weight`.
  public let tensorKeys: [String]

  private let tensorRefs: [String: TensorRef]
  private let storage: StorageSource

  /// Reads the pickled structure of the checkpoint at `url` (storages are read on demand).
  /// Throws a one-line `WeightError` naming the file if it is not a readable checkpoint.
  public init(contentsOf url: URL) throws {
    try checkReadableFile(url)
    let name = url.lastPathComponent
    fileName = name
    let parsed: (tree: PickleValue, storage: StorageSource) = try withErrorContext(name) {
      let handle = try FileHandle(forReadingFrom: url)
      let head = try handle.read(upToCount: 4) ?? Data()
      try handle.close()
      if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) {
        return try Self.openZip(url)
      }
      if head.starts(with: [0x80]) { return try Self.openLegacy(url) }
      throw WeightError("not a PyTorch checkpoint (neither a zip archive nor a pickle stream)")
    }
    tree = parsed.tree
    storage = parsed.storage
    var refs: [(String, TensorRef)] = []
    try withErrorContext(name) { try Self.collectTensors(parsed.tree, path: "", into: &refs) }
    var keys: [String] = []
    var byKey: [String: TensorRef] = [:]
    for (key, ref) in refs {
      if byKey.updateValue(ref, forKey: key) == nil { keys.append(key) }
    }
    tensorKeys = keys
    tensorRefs = byKey
  }

  /// Loads one tensor by its flattened key (see `tensorKeys`).
  public func tensor(_ key: String) throws -> TensorData {
    guard let ref = tensorRefs[key] else {
      throw WeightError("\(fileName): no tensor '\(key)'")
    }
    return try withErrorContext(fileName) { try materialize(ref, key: key) }
  }

  /// Loads the tensors under `prefix` (all tensors if `nil`), keyed relative to it: with
  /// prefix `g_ema`, `g_ema.style.1.weight` becomes `style.1.weight`. Throws if no tensor
  /// lies under the prefix.
  public func stateDict(prefix: String? = nil) throws -> StateDict {
    var tensors: [String: TensorData] = [:]
    var cache: [String: Data] = [:]
    for key in tensorKeys {
      var relative = key
      if let prefix, !prefix.isEmpty {
        guard key.hasPrefix(prefix + ".") else { continue }
        relative = String(key.dropFirst(prefix.count + 1))
      }
      tensors[relative] = try withErrorContext(fileName) {
        try materialize(tensorRefs[key]!, key: key, cache: &cache)
      }
    }
    if tensors.isEmpty, let prefix, !prefix.isEmpty {
      let top = Set(tensorKeys.map { String($0.split(separator: ".").first ?? "") }).sorted()
      throw WeightError(
        "\(fileName): no tensors under '\(prefix)' (top-level keys: \(top.joined(separator: ", ")))")
    }
    return StateDict(source: fileName, tensors: tensors)
  }

  // MARK: Tensors in the tree

  /// Finds tensors in dicts, lists and tuples, joining keys with dots.
  private static func collectTensors(_ value: PickleValue, path: String, into refs: inout [(String, TensorRef)])
    throws
  {
    func join(_ part: String) -> String { path.isEmpty ? part : path + "." + part }
    switch value {
    case .dict(let entries):
      for (key, child) in entries {
        let part: String
        switch key {
        case .string(let s): part = s
        case .int(let i): part = String(i)
        default: continue
        }
        try collectTensors(child, path: join(part), into: &refs)
      }
    case .list(let items), .tuple(let items):
      for (i, child) in items.enumerated() { try collectTensors(child, path: join(String(i)), into: &refs) }
    case .object(let object):
      if let ref = try TensorRef(object, key: path) { refs.append((path, ref)) }
    default: break
    }
  }

  /// Reads the storage bytes of `ref` and gathers its view into a contiguous tensor.
  private func materialize(_ ref: TensorRef, key: String) throws -> TensorData {
    var cache: [String: Data] = [:]
    return try materialize(ref, key: key, cache: &cache)
  }

  private func materialize(_ ref: TensorRef, key: String, cache: inout [String: Data]) throws
    -> TensorData
  {
    guard let dtype = ref.storage.dtype else {
      throw WeightError("tensor '\(key)': unsupported storage type \(ref.storage.typeName)")
    }
    let (offset, overflow) = ref.offset.addingReportingOverflow(ref.storage.viewOffset)
    guard !overflow else { throw WeightError("tensor '\(key)': storage offset overflows") }
    let indices = try withErrorContext("tensor '\(key)'") {
      try ElementIndices.view(
        offset: offset, shape: ref.shape, stride: ref.stride, storageCount: ref.storage.numel)
    }
    let data: Data
    if let cached = cache[ref.storage.key] {
      data = cached
    } else {
      let (byteCount, overflow) = ref.storage.numel.multipliedReportingOverflow(by: dtype.byteCount)
      guard !overflow else { throw WeightError("tensor '\(key)': storage size overflows") }
      data = try storage.bytes(of: ref.storage.key, count: byteCount)
      cache[ref.storage.key] = data
    }
    return data.withUnsafeBytes { decodeTensor($0, dtype: dtype, shape: ref.shape, indices: indices) }
  }

  // MARK: Formats

  private static func openZip(_ url: URL) throws -> (PickleValue, StorageSource) {
    let archive: Archive
    try ZipDirectory.check(url)
    do {
      archive = try Archive(url: url, accessMode: .read)
    } catch {
      throw WeightError("unreadable zip archive, truncated or corrupt (\(error))")
    }
    var entries: [String: Entry] = [:]
    for entry in archive { entries[entry.path] = entry }
    let fileSize = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? UInt64 ?? 0
    let reader = try ZipEntryReader(archive: archive, entries: Array(entries.values), fileSize: fileSize)
    let pickles = entries.keys.filter {
      $0.hasSuffix("/data.pkl") && $0.split(separator: "/", omittingEmptySubsequences: false).count == 2
    }
    guard let pickle = pickles.sorted().first, let pickleEntry = entries[pickle] else {
      throw WeightError("not a PyTorch checkpoint (no data.pkl in zip)")
    }
    let top = String(pickle.dropLast("data.pkl".count))
    let source = StorageSource.zip(ZipStorages(reader: reader, entries: entries, top: top))
    if let order = entries[top + "byteorder"] {
      let text = String(decoding: try source.zipRead(order), as: UTF8.self)
      guard text.trimmingCharacters(in: .whitespacesAndNewlines) == "little" else {
        throw WeightError("unsupported byte order '\(text)' (only little-endian checkpoints)")
      }
    }
    let pickleData = try source.zipRead(pickleEntry)
    let tree = try withErrorContext(pickle) {
      try pickleData.withUnsafeBytes { raw in
        var unpickler = Unpickler(raw)
        return try unpickler.load()
      }
    }
    return (tree, source)
  }

  /// torch's legacy magic number 0x1950a86a20f9469cfc6c, little-endian.
  private static let legacyMagic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

  private static func openLegacy(_ url: URL) throws -> (PickleValue, StorageSource) {
    try openLegacy(data: try Data(contentsOf: url, options: .alwaysMapped))
  }

  private static func openLegacy(data file: Data) throws -> (PickleValue, StorageSource) {
    try file.withUnsafeBytes { raw -> (PickleValue, StorageSource) in
      var reader = Unpickler(raw)
      let magic = try? reader.load()
      guard case .bigInt(let bytes)? = magic, bytes == legacyMagic else {
        throw WeightError("not a PyTorch checkpoint (pickle without torch's magic number)")
      }
      guard case .int(let version) = try Unpickler.next(&reader, raw), version == 1001 else {
        throw WeightError("unsupported legacy checkpoint protocol version")
      }
      let sysInfo = try Unpickler.next(&reader, raw)
      if case .bool(false)? = sysInfo["little_endian"] {
        throw WeightError("unsupported big-endian legacy checkpoint")
      }
      var main = Unpickler(raw, start: reader.position)
      let tree = try main.load()
      var storageTypes: [String: StorageRef] = [:]
      for pid in main.persistentIDs {
        if let ref = try StorageRef(pid) { storageTypes[ref.key] = ref }
      }
      var keyReader = Unpickler(raw, start: main.position)
      guard let keys = try keyReader.load().elements else {
        throw WeightError("legacy checkpoint: storage key list is not a list")
      }
      // Storages follow in key order, each as an int64 element count and the raw elements.
      var position = keyReader.position
      var ranges: [String: Range<Int>] = [:]
      for keyValue in keys {
        let key = keyValue.stringValue ?? keyValue.intValue.map(String.init) ?? "?"
        guard let ref = storageTypes[key] else {
          throw WeightError("legacy checkpoint: storage '\(key)' is listed but never used")
        }
        guard let dtype = ref.dtype else {
          throw WeightError("unsupported storage type \(ref.typeName) (storage '\(key)')")
        }
        guard raw.count - position >= 8 else {
          throw WeightError("truncated storage '\(key)' (no size header at byte \(position))")
        }
        let numel = (0..<8).reduce(UInt64(0)) { $0 | UInt64(raw[position + $1]) << (8 * UInt64($1)) }
        position += 8
        let available = raw.count - position
        guard numel <= UInt64(available / dtype.byteCount) else {
          throw WeightError(
            "truncated storage '\(key)' (expected \(numel) elements of \(dtype.byteCount) bytes, "
              + "found \(available) bytes)")
        }
        let byteCount = Int(numel) * dtype.byteCount
        ranges[key] = position..<position + byteCount
        position += byteCount
      }
      return (tree, .legacy(file, ranges))
    }
  }
}

extension Unpickler {
  /// Loads the pickle that follows the one `reader` just finished, advancing `reader`.
  fileprivate static func next(_ reader: inout Unpickler, _ raw: UnsafeRawBufferPointer) throws
    -> PickleValue
  {
    var next = Unpickler(raw, start: reader.position)
    let value = try next.load()
    reader = next
    return value
  }
}

/// A tensor view as `_rebuild_tensor_v2` describes it, before its storage is read.
private struct TensorRef {
  var storage: StorageRef
  var offset: Int
  var shape: [Int]
  var stride: [Int]

  init(storage: StorageRef, offset: Int, shape: [Int], stride: [Int]) {
    self.storage = storage
    self.offset = offset
    self.shape = shape
    self.stride = stride
  }

  /// Interprets the torch rebuild calls; returns `nil` for any other object.
  init?(_ object: PickleObject, key: String) throws {
    switch object.qualifiedName {
    case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
      let a = object.args
      guard a.count >= 4, case .persistentID(let pid) = a[0], let storage = try StorageRef(pid),
        let offset = a[1].intValue, let shape = a[2].elements?.compactMap(\.intValue),
        let stride = a[3].elements?.compactMap(\.intValue),
        shape.count == a[2].elements?.count, stride.count == a[3].elements?.count
      else { throw WeightError("tensor '\(key)': malformed _rebuild_tensor_v2 arguments") }
      self.init(storage: storage, offset: offset, shape: shape, stride: stride)
    case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
      // nn.Parameter(data, requires_grad, hooks[, state]): the tensor is the first argument.
      guard case .object(let data)? = object.args.first, let ref = try TensorRef(data, key: key) else {
        throw WeightError("tensor '\(key)': malformed _rebuild_parameter arguments")
      }
      self = ref
    case "torch._tensor._rebuild_from_type_v2":
      // Tensor subclasses: (func, type, args, state); the tensor is func(*args).
      guard object.args.count >= 3, let args = object.args[2].elements,
        let ref = try TensorRef(PickleObject(callable: object.args[0], args: args), key: key)
      else { throw WeightError("tensor '\(key)': malformed _rebuild_from_type_v2 arguments") }
      self = ref
    default:
      return nil
    }
  }
}

/// A storage named by a persistent id `('storage', type, key, location, numel[, view])`.
private struct StorageRef {
  var key: String
  var typeName: String
  var dtype: TensorDType?
  /// Elements in the whole (root) storage.
  var numel: Int
  /// Legacy storage views (`view_metadata = (view_key, offset, size)`): offset in elements.
  var viewOffset: Int = 0

  /// Returns `nil` for persistent ids that are not storages; throws if a storage id is malformed.
  init?(_ pid: PickleValue) throws {
    guard let parts = pid.elements, parts.first?.stringValue == "storage" else { return nil }
    guard parts.count >= 5, let typeName = parts[1].qualifiedName,
      let key = parts[2].stringValue ?? parts[2].intValue.map(String.init),
      let numel = parts[4].intValue, numel >= 0
    else { throw WeightError("malformed storage persistent id") }
    self.key = key
    self.typeName = typeName
    self.numel = numel
    let dtypes: [String: TensorDType] = [
      "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
      "DoubleStorage": .float64, "LongStorage": .int64, "IntStorage": .int32,
      "ShortStorage": .int16, "CharStorage": .int8, "ByteStorage": .uint8, "BoolStorage": .bool,
      "UntypedStorage": .uint8,
    ]
    dtype = dtypes[String(typeName.split(separator: ".").last ?? "")]
    if parts.count >= 6, let view = parts[5].elements {
      guard view.count == 3, let offset = view[1].intValue, offset >= 0 else {
        throw WeightError("malformed storage view metadata")
      }
      viewOffset = offset
    }
  }
}

/// The open zip archive of a zip checkpoint.
private struct ZipStorages {
  let reader: ZipEntryReader
  let entries: [String: Entry]
  let top: String
}

/// Where a checkpoint's storage bytes are.
private enum StorageSource {
  case zip(ZipStorages)
  /// The mapped legacy file and each storage's byte range in it.
  case legacy(Data, [String: Range<Int>])

  /// The first `count` bytes of storage `key`; throws if the storage is missing or shorter.
  func bytes(of key: String, count: Int) throws -> Data {
    switch self {
    case .zip(let zip):
      let path = zip.top + "data/" + key
      guard let entry = zip.entries[path] else { throw WeightError("missing storage '\(path)'") }
      guard entry.uncompressedSize >= UInt64(count) else {
        throw WeightError(
          "truncated storage '\(path)' (expected \(count) bytes, found \(entry.uncompressedSize))")
      }
      let data = try zipRead(entry)
      guard data.count >= count else {
        throw WeightError("truncated storage '\(path)' (expected \(count) bytes, found \(data.count))")
      }
      return data
    case .legacy(let file, let ranges):
      guard let range = ranges[key] else { throw WeightError("missing storage '\(key)'") }
      guard range.count >= count else {
        throw WeightError("truncated storage '\(key)' (expected \(count) bytes, found \(range.count))")
      }
      return file.subdata(in: range)
    }
  }

  /// Extracts one zip entry, checking its sizes and CRC-32 (see `ZipEntryReader`).
  func zipRead(_ entry: Entry) throws -> Data {
    guard case .zip(let zip) = self else { return Data() }
    return try zip.reader.read(entry)
  }
}

// MARK: Tensors embedded in other pickles

extension TorchCheckpoint {
  /// Decodes a tensor pickled with plain `pickle.dump` rather than `torch.save`, as network
  /// pickles hold them (stylegan2-ada-pytorch, stylegan3): `_rebuild_tensor_v2(storage, offset,
  /// size, stride, ...)`, possibly inside `_rebuild_parameter`, whose storage is
  /// `torch.storage._load_from_bytes(b)` with `b` a legacy-format `torch.save` of the storage
  /// (its location tag, e.g. `cuda:0`, is ignored). Nothing is executed. Returns nil when
  /// `object` is not a tensor rebuild; throws a one-line error naming `key` when it is malformed.
  public static func embeddedTensor(_ object: PickleObject, key: String) throws -> TensorData? {
    switch object.qualifiedName {
    case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
      guard case .object(let data)? = object.args.first, let t = try embeddedTensor(data, key: key) else {
        throw WeightError("tensor '\(key)': malformed _rebuild_parameter arguments")
      }
      return t
    case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor":
      let a = object.args
      guard a.count >= 4, case .object(let holder) = a[0],
        holder.qualifiedName == "torch.storage._load_from_bytes", case .bytes(let bytes)? = holder.args.first,
        let offset = a[1].intValue, let shape = a[2].elements?.compactMap(\.intValue),
        let stride = a[3].elements?.compactMap(\.intValue),
        shape.count == a[2].elements?.count, stride.count == a[3].elements?.count
      else {
        throw WeightError("tensor '\(key)': not a tensor over an embedded storage (torch.storage._load_from_bytes)")
      }
      return try withErrorContext("tensor '\(key)'") {
        try decodeEmbedded(Data(bytes), offset: offset, shape: shape, stride: stride)
      }
    default:
      return nil
    }
  }

  /// Reads the one storage of a legacy `torch.save` stream and gathers the view from it.
  private static func decodeEmbedded(_ data: Data, offset: Int, shape: [Int], stride: [Int]) throws -> TensorData {
    let (tree, source) = try openLegacy(data: data)
    guard case .persistentID(let pid) = tree, let ref = try StorageRef(pid) else {
      throw WeightError("embedded storage is not a torch storage")
    }
    guard let dtype = ref.dtype else { throw WeightError("unsupported storage type \(ref.typeName)") }
    let (start, overflow) = offset.addingReportingOverflow(ref.viewOffset)
    guard !overflow else { throw WeightError("storage offset overflows") }
    let indices = try ElementIndices.view(offset: start, shape: shape, stride: stride, storageCount: ref.numel)
    let (byteCount, tooBig) = ref.numel.multipliedReportingOverflow(by: dtype.byteCount)
    guard !tooBig else { throw WeightError("storage size overflows") }
    let bytes = try source.bytes(of: ref.key, count: byteCount)
    return bytes.withUnsafeBytes { decodeTensor($0, dtype: dtype, shape: shape, indices: indices) }
  }
}

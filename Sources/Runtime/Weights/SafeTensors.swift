import Foundation

/// A safetensors file: an 8-byte little-endian header length N, N bytes of JSON
/// `{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}`,
/// then the raw little-endian tensor bytes (offsets are relative to the end of the header).
///
/// Reading accepts F32, F16, BF16, F64 and the integer/bool dtypes. Writing stores F32, except
/// that a tensor read as F16 or BF16 is written back in that dtype when every value still fits it
/// exactly (a float16 checkpoint converts to a file of the same size, bit for bit).
public struct SafeTensorsFile: Sendable {
  public var tensors: [String: TensorData]
  /// The free-form `__metadata__` strings.
  public var metadata: [String: String]

  public init(tensors: [String: TensorData], metadata: [String: String] = [:]) {
    self.tensors = tensors
    self.metadata = metadata
  }

  private static let dtypes: [String: TensorDType] = [
    "F32": .float32, "F16": .float16, "BF16": .bfloat16, "F64": .float64, "I64": .int64,
    "I32": .int32, "I16": .int16, "I8": .int8, "U8": .uint8, "BOOL": .bool,
  ]

  /// Reads and validates the file at `url`: header length, JSON, dtypes, shapes and that every
  /// tensor's byte range lies in the file and matches its shape.
  public init(contentsOf url: URL) throws {
    try checkReadableFile(url)
    let name = url.lastPathComponent
    let data = try withErrorContext(name) { try Data(contentsOf: url, options: .alwaysMapped) }
    self = try withErrorContext(name) { try Self.decode(data) }
  }

  /// Decodes a whole safetensors file held in memory.
  public static func decode(_ data: Data) throws -> SafeTensorsFile {
    guard data.count >= 8 else {
      throw WeightError("not a safetensors file (\(data.count) bytes, too short for a header)")
    }
    let headerLength = data.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    guard headerLength <= UInt64(data.count - 8) else {
      throw WeightError(
        "bad safetensors header length \(headerLength) (file has \(data.count - 8) bytes after it)")
    }
    let headerEnd = 8 + Int(headerLength)
    let header = data.subdata(in: data.startIndex + 8..<data.startIndex + headerEnd)
    guard let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
      throw WeightError("safetensors header is not a JSON object")
    }
    let body = data.count - headerEnd
    var file = SafeTensorsFile(tensors: [:])
    for (key, value) in json {
      if key == "__metadata__" {
        guard let meta = value as? [String: String] else {
          throw WeightError("safetensors __metadata__ is not a string-to-string map")
        }
        file.metadata = meta
        continue
      }
      guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
        let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int],
        offsets.count == 2
      else { throw WeightError("tensor '\(key)': header entry lacks dtype, shape or data_offsets") }
      guard let dtype = dtypes[dtypeName] else {
        throw WeightError("tensor '\(key)': unsupported dtype \(dtypeName)")
      }
      guard let count = elementCount(shape) else {
        throw WeightError("tensor '\(key)': invalid shape \(describeShape(shape))")
      }
      let (begin, end) = (offsets[0], offsets[1])
      let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteCount)
      guard 0 <= begin, begin <= end, end <= body else {
        throw WeightError(
          "tensor '\(key)': data_offsets [\(begin), \(end)] outside the \(body)-byte data section")
      }
      guard !overflow, end - begin == expected else {
        throw WeightError(
          "tensor '\(key)': \(end - begin) bytes for shape \(describeShape(shape)) of \(dtypeName)")
      }
      file.tensors[key] = data.withUnsafeBytes { raw in
        let bytes = UnsafeRawBufferPointer(rebasing: raw[headerEnd + begin..<headerEnd + end])
        return decodeTensor(bytes, dtype: dtype, shape: shape, indices: .contiguous(start: 0, count: count))
      }
    }
    return file
  }

  /// Whether `url` starts like a safetensors file (a plausible length, then `{`).
  static func looksLikeSafeTensors(_ url: URL) throws -> Bool {
    let handle = try withErrorContext(url.lastPathComponent) { try FileHandle(forReadingFrom: url) }
    defer { try? handle.close() }
    guard let head = try? handle.read(upToCount: 9), head.count == 9, head.last == UInt8(ascii: "{")
    else { return false }
    return head.prefix(8).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) } < 1 << 32
  }

  /// Encodes all tensors (F32, or F16/BF16 as described above), in sorted key order, with the
  /// header padded with spaces to a multiple of 8 bytes (as the reference implementation does).
  public func encoded() throws -> Data {
    var entries: [String] = []
    var payload = Data()
    if !metadata.isEmpty {
      let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
      entries.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
    }
    for key in tensors.keys.sorted() {
      let tensor = tensors[key]!
      guard let count = elementCount(tensor.shape), count == tensor.values.count else {
        throw WeightError(
          "cannot write tensor '\(key)': shape \(describeShape(tensor.shape)) does not match "
            + "\(tensor.values.count) values")
      }
      let begin = payload.count
      let dtype = Self.appendPayload(tensor, to: &payload)
      let shape = tensor.shape.map(String.init).joined(separator: ",")
      entries.append(
        "\(jsonString(key)):{\"dtype\":\"\(dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(payload.count)]}")
    }
    var header = Array("{\(entries.joined(separator: ","))}".utf8)
    while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
    var out = Data()
    withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
    out.append(contentsOf: header)
    out.append(payload)
    return out
  }

  /// Appends the tensor's little-endian bytes and returns the dtype name it was stored as: its own
  /// 16-bit dtype when it was read as one and every value round-trips exactly, else F32.
  private static func appendPayload(_ tensor: TensorData, to payload: inout Data) -> String {
    let half: [UInt16]?
    switch tensor.dtype {
    case .float16: half = exactBits(tensor.values) { Float16($0).bitPattern } decode: { Float(Float16(bitPattern: $0)) }
    case .bfloat16: half = exactBits(tensor.values) { UInt16($0.bitPattern >> 16) } decode: { Float(bitPattern: UInt32($0) << 16) }
    default: half = nil
    }
    guard let bits = half else {
      tensor.values.withUnsafeBytes { payload.append(contentsOf: $0) }  // little-endian hosts
      return "F32"
    }
    bits.withUnsafeBytes { payload.append(contentsOf: $0) }
    return tensor.dtype == .float16 ? "F16" : "BF16"
  }

  /// `values` encoded by `encode`, or nil when some value does not decode back to itself.
  private static func exactBits(_ values: [Float], encode: (Float) -> UInt16, decode: (UInt16) -> Float) -> [UInt16]? {
    var bits = [UInt16](repeating: 0, count: values.count)
    for (i, v) in values.enumerated() {
      bits[i] = encode(v)
      guard decode(bits[i]).bitPattern == v.bitPattern else { return nil }
    }
    return bits
  }

  /// Writes `encoded()` to `url`.
  public func write(to url: URL) throws {
    let data = try encoded()
    try withErrorContext(url.lastPathComponent) { try data.write(to: url, options: .atomic) }
  }
}

/// `s` as a JSON string literal.
private func jsonString(_ s: String) -> String {
  var out = "\""
  for scalar in s.unicodeScalars {
    switch scalar {
    case "\"": out += "\\\""
    case "\\": out += "\\\\"
    case "\n": out += "\\n"
    case "\r": out += "\\r"
    case "\t": out += "\\t"
    case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
    default: out.unicodeScalars.append(scalar)
    }
  }
  return out + "\""
}

import Foundation

/// The savable description of a forward operator: the task, the seed and the parameters from
/// which the operator's data is regenerated bit for bit (explicit masks carry their bits).
/// Stored as a small JSON file (`format: "iloc-operator"`, `version: 1`).
public struct OperatorRecord: Codable, Equatable, Sendable {
  public var format = "iloc-operator"
  public var version = 1
  public var task: Task
  /// The seed of seeded data (random masks use `mask.seed`).
  public var seed: UInt64?
  /// superres: the factor; `compat: "reference"` selects the reference's f = 1 filter.
  public var factor: Int?
  public var compat: String?
  /// denoise: σ (0 = plain identity).
  public var sigma: Float?
  /// cs-circulant / cs-gaussian: image size S and measurement count m.
  public var imageSize: Int?
  public var measurements: Int?
  /// inpaint: the mask.
  public var mask: MaskRecord?

  public init(task: Task) { self.task = task }

  /// The JSON text (sorted keys, so equal records give equal files).
  public func jsonData() throws -> Data {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try e.encode(self)
  }

  public func save(to url: URL) throws {
    do { try jsonData().write(to: url) } catch {
      throw InversionError("cannot write operator file \(url.path): \(error.localizedDescription)")
    }
  }

  public static func load(from url: URL) throws -> OperatorRecord {
    let data: Data
    do { data = try Data(contentsOf: url) } catch { throw InversionError("cannot read operator file \(url.path)") }
    return try decode(data, source: url.path)
  }

  public static func decode(_ data: Data, source: String = "operator file") throws -> OperatorRecord {
    let r: OperatorRecord
    do { r = try JSONDecoder().decode(OperatorRecord.self, from: data) } catch let e as DecodingError {
      throw InversionError("\(source): not a valid operator description (\(Self.summary(e)))")
    } catch { throw InversionError("\(source): not valid JSON") }
    guard r.format == "iloc-operator", r.version == 1 else {
      throw InversionError("\(source): unsupported format \(r.format) version \(r.version)")
    }
    return r
  }

  static func summary(_ e: DecodingError) -> String {
    func path(_ c: DecodingError.Context) -> String { c.codingPath.map(\.stringValue).joined(separator: ".") }
    switch e {
    case .keyNotFound(let k, _): return "missing key '\(k.stringValue)'"
    case .typeMismatch(_, let c), .valueNotFound(_, let c): return "bad value at '\(path(c))'"
    case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not valid JSON" : "bad value at '\(path(c))'"
    @unknown default: return "unreadable"
    }
  }

  /// `makeOperator()` for images of `size`: the sizes the record declares are checked against
  /// it first, so a record made for other images fails in one line before any data is built.
  public func makeOperator(imageSize size: Int) throws -> any ForwardOperator {
    if task == .inpaint, let m = mask, m.height != size || m.width != size {
      throw InversionError("operator file: the mask is \(m.height)x\(m.width) but the images are \(size)x\(size)")
    }
    if task == .csCirculant || task == .csGaussian, let s = imageSize, s != size {
      throw InversionError("operator file: the operator is for \(s)x\(s) images, not \(size)x\(size)")
    }
    return try makeOperator()
  }

  /// Rebuilds the operator, validating every parameter (one-line errors).
  public func makeOperator() throws -> any ForwardOperator {
    func need<T>(_ v: T?, _ key: String) throws -> T {
      guard let v else { throw InversionError("operator file: task \(task.rawValue) needs '\(key)'") }
      return v
    }
    switch task {
    case .inpaint: return try need(mask, "mask").makeMask()
    case .superres:
      guard compat == nil || compat == "reference" else { throw InversionError("operator file: unknown compat '\(compat!)'") }
      return try BicubicDownsampler(factor: need(factor, "factor"), referenceFactorOne: compat == "reference")
    case .denoise: return try NoiseAddition(sigma: need(sigma, "sigma"), seed: seed ?? 0)
    case .csCirculant:
      return try CirculantSensing(imageSize: need(imageSize, "imageSize"), measurements: need(measurements, "measurements"), seed: need(seed, "seed"))
    case .csGaussian:
      return try GaussianSensing(imageSize: need(imageSize, "imageSize"), measurements: need(measurements, "measurements"), seed: need(seed, "seed"))
    case .colorize: return Colorizer()
    }
  }
}

/// A mask in an operator file: generated masks by their parameters, explicit ones as bits.
public struct MaskRecord: Codable, Equatable, Sendable {
  public enum Kind: String, Codable, Sendable { case random, box, explicit }
  public var kind: Kind
  public var height: Int
  public var width: Int
  /// random: keep probability and seed.
  public var keepProbability: Double?
  public var seed: UInt64?
  /// box: [top, left, height, width] of the missing rectangle.
  public var box: [Int]?
  /// explicit: planes and the bits (1 = known), `[batch, height, width]` row-major, packed
  /// 8 per byte, most significant bit first, base64.
  public var batch: Int?
  public var bits: String?

  public init(kind: Kind, height: Int, width: Int) { self.kind = kind; self.height = height; self.width = width }

  func makeMask() throws -> InpaintMask {
    switch kind {
    case .random:
      guard let p = keepProbability, let seed else { throw InversionError("operator file: a random mask needs 'keepProbability' and 'seed'") }
      return try InpaintMask(keepProbability: p, seed: seed, height: height, width: width)
    case .box:
      guard let b = box, b.count == 4 else { throw InversionError("operator file: a box mask needs 'box': [top, left, height, width]") }
      return try InpaintMask(box: b[0], left: b[1], boxHeight: b[2], boxWidth: b[3], height: height, width: width)
    case .explicit:
      let planes = batch ?? 1
      try InpaintMask.checkDimensions(batch: planes, height: height, width: width)
      guard let text = bits, let data = Data(base64Encoded: text) else {
        throw InversionError("operator file: an explicit mask needs base64 'bits'")
      }
      let count = planes * height * width
      guard data.count == (count + 7) / 8 else {
        throw InversionError("operator file: mask bits hold \(data.count) bytes, expected \((count + 7) / 8) for \(planes)x\(height)x\(width)")
      }
      let bytes = [UInt8](data)
      let v = (0..<count).map { i -> Float in (bytes[i / 8] >> (7 - UInt8(i % 8))) & 1 == 1 ? 1 : 0 }
      return try InpaintMask(values: v, batch: planes, height: height, width: width)
    }
  }
}

extension InpaintMask {
  public var record: OperatorRecord {
    var r = OperatorRecord(task: .inpaint)
    var m: MaskRecord
    switch origin {
    case .random(let p, let seed):
      m = MaskRecord(kind: .random, height: height, width: width)
      m.keepProbability = p; m.seed = seed
    case .box(let top, let left, let h, let w):
      m = MaskRecord(kind: .box, height: height, width: width)
      m.box = [top, left, h, w]
    case .explicit:
      m = MaskRecord(kind: .explicit, height: height, width: width)
      var bytes = [UInt8](repeating: 0, count: (values.count + 7) / 8)
      for i in values.indices where values[i] != 0 { bytes[i / 8] |= 1 << (7 - UInt8(i % 8)) }
      m.batch = batch; m.bits = Data(bytes).base64EncodedString()
    }
    r.mask = m
    return r
  }
}

extension BicubicDownsampler {
  public var record: OperatorRecord {
    var r = OperatorRecord(task: .superres)
    r.factor = factor
    if referenceFactorOne { r.compat = "reference" }
    return r
  }
}

extension NoiseAddition {
  public var record: OperatorRecord {
    var r = OperatorRecord(task: .denoise)
    r.sigma = sigma; r.seed = seed
    return r
  }
}

extension CirculantSensing {
  /// The record of a seeded operator (an operator from explicit data has no seed and cannot be
  /// regenerated from its record; its seed field is then absent).
  public var record: OperatorRecord {
    var r = OperatorRecord(task: .csCirculant)
    r.imageSize = imageSize; r.measurements = measurements; r.seed = seed
    return r
  }
}

extension GaussianSensing {
  public var record: OperatorRecord {
    var r = OperatorRecord(task: .csGaussian)
    r.imageSize = imageSize; r.measurements = measurements; r.seed = seed
    return r
  }
}

extension Colorizer {
  public var record: OperatorRecord { OperatorRecord(task: .colorize) }
}

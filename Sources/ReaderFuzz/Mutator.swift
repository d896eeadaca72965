import Foundation
import GraphIR
import Runtime

/// Seeded mutations of reader inputs: byte-level (bit flips, interesting integers, truncation,
/// insertion, deletion, duplication, splicing with another input) and structure-aware (JSON
/// values and keys, pickle opcodes, a torch zip rebuilt around a mutated pickle). The same
/// seed gives the same inputs on every machine.
struct Mutator {
  var rng: SplitMix64
  /// Inputs grow no larger than this (a reader's limits, not the mutator, should stop big files).
  static let maxSize = 1 << 20

  init(seed: UInt64) { rng = SplitMix64(seed: seed) }

  mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }
  mutating func chance(_ p: Double) -> Bool { rng.uniform() < p }

  /// One to four stacked mutations of `input`; `corpus` supplies splicing partners.
  mutating func mutate(_ input: Data, structure: FuzzStructure, corpus: [Data]) -> Data {
    var bytes = [UInt8](input)
    for _ in 0...below(4) {
      if structure != .bytes, chance(0.5), let s = structured(bytes, structure) {
        bytes = s
      } else {
        bytes = mutateBytes(bytes, partner: corpus.isEmpty ? [] : [UInt8](corpus[below(corpus.count)]))
      }
    }
    return Data(bytes.prefix(Self.maxSize))
  }

  // MARK: Bytes

  static let interesting: [UInt64] = [
    0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 32,
    0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, .max,
  ]

  mutating func mutateBytes(_ b: [UInt8], partner: [UInt8]) -> [UInt8] {
    var b = b
    guard !b.isEmpty else { return [UInt8(truncatingIfNeeded: rng.next())] }
    let at = below(b.count)
    switch below(8) {
    case 0: b[at] ^= 1 << UInt8(below(8))
    case 1: b[at] = UInt8(truncatingIfNeeded: rng.next())
    case 2:  // an interesting integer, 1/2/4/8 bytes, either byte order
      let width = 1 << below(4), value = Self.interesting[below(Self.interesting.count)]
      let little = chance(0.5)
      for i in 0..<min(width, b.count - at) {
        let shift = UInt64(8 * (little ? i : width - 1 - i))
        b[at + i] = UInt8(truncatingIfNeeded: value >> shift)
      }
    case 3: b.removeSubrange(at...)  // truncate
    case 4: b.insert(contentsOf: (0..<1 + below(16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
    case 5: b.removeSubrange(at..<min(b.count, at + 1 + below(32)))
    case 6:  // duplicate a chunk
      let end = min(b.count, at + 1 + below(64))
      b.insert(contentsOf: Array(b[at..<end]), at: below(b.count))
    default:  // splice: our head, the partner's tail
      guard !partner.isEmpty else { return b }
      b = Array(b[..<at]) + Array(partner[below(partner.count)...])
    }
    return b
  }

  mutating func structured(_ b: [UInt8], _ structure: FuzzStructure) -> [UInt8]? {
    switch structure {
    case .bytes: return nil
    case .json: return mutateJSONOrState(b)
    case .pickle: return mutatePickle(b)
    case .zippedPickle:
      let pickle = mutatePickle(TorchPickle.oneTensor(count: chance(0.8) ? 4 : below(64)))
      let storage = FuzzSeeds.floats(chance(0.8) ? 4 : below(64))
      return (try? FuzzSeeds.zip(pickle: pickle, storages: ["0": storage])).map { [UInt8]($0) }
    }
  }

  // MARK: JSON

  /// A JSON file, or a safetensors file whose `iloc` metadata is JSON (a saved state).
  mutating func mutateJSONOrState(_ b: [UInt8]) -> [UInt8]? {
    if let json = try? JSONSerialization.jsonObject(with: Data(b)) {
      return serialized(mutateValue(json)).map { [UInt8]($0) }
    }
    guard let file = try? SafeTensorsFile.decode(Data(b)), let text = file.metadata["iloc"],
      let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)), let mutated = serialized(mutateValue(json))
    else { return nil }
    var metadata = file.metadata
    metadata["iloc"] = String(decoding: mutated, as: UTF8.self)
    return (try? SafeTensorsFile(tensors: file.tensors, metadata: metadata).encoded()).map { [UInt8]($0) }
  }

  /// JSON text of `value` (keys sorted: the same seed gives the same bytes), or nil where
  /// Foundation cannot write it (it traps on a top-level value that is neither an array nor an
  /// object).
  func serialized(_ value: Any) -> Data? {
    guard JSONSerialization.isValidJSONObject(value) else { return nil }
    return try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
  }

  static let interestingJSON: [Any] = [
    0, -1, 1, 2, 3, 7, 64, 255, 65536, 2_147_483_647, 2_147_483_648, -2_147_483_649, 4_294_967_296, Int.max, Int.min,
    NSNumber(value: UInt64.max), 1e30, -1e30, 1e308, 0.5, -0.0, 1e-320,
    "", "x", "inf", "nan", "abc", "stylegan2", "dcgan",
    "inpaint", "cs-circulant", "explicit", "random", "box", NSNull(), [Any](), [String: Any](), true, false,
    [Int.max, Int.max, 1, 1], [0, 0, 1, 1], [-1],
  ]

  /// Replaces, removes or adds one value somewhere in `value`.
  mutating func mutateValue(_ value: Any) -> Any {
    let pick = Self.interestingJSON[below(Self.interestingJSON.count)]
    if var dict = value as? [String: Any], !dict.isEmpty, chance(0.7) {
      let key = dict.keys.sorted()[below(dict.count)]
      switch below(4) {
      case 0: dict[key] = nil
      case 1: dict[["abc", "", "-1", "99999", "4"][below(5)]] = pick
      default: dict[key] = mutateValue(dict[key]!)
      }
      return dict
    }
    if var array = value as? [Any], !array.isEmpty, chance(0.7) {
      let i = below(array.count)
      switch below(4) {
      case 0: array.remove(at: i)
      case 1: array.insert(array[i], at: i)
      default: array[i] = mutateValue(array[i])
      }
      return array
    }
    return pick
  }

  // MARK: Pickle

  /// Opcodes with a fixed-size argument (size in bytes), as torch pickles use them.
  static let opcodes: [(UInt8, Int)] = [
    (0x28, 0), (0x29, 0), (0x5D, 0), (0x7D, 0), (0x8F, 0), (0x61, 0), (0x65, 0), (0x73, 0), (0x75, 0), (0x90, 0),
    (0x85, 0), (0x86, 0), (0x87, 0), (0x74, 0), (0x91, 0), (0x6C, 0), (0x64, 0), (0x52, 0), (0x81, 0), (0x92, 0),
    (0x62, 0), (0x51, 0), (0x30, 0), (0x31, 0), (0x32, 0), (0x94, 0), (0x4E, 0), (0x88, 0), (0x89, 0), (0x2E, 0),
    (0x93, 0), (0x71, 1), (0x68, 1), (0x4B, 1), (0x72, 4), (0x6A, 4), (0x4A, 4), (0x4D, 2), (0x47, 8), (0x95, 8),
    (0x80, 1),
  ]

  /// Inserts or overwrites one opcode (with a random or interesting argument), or a length-
  /// prefixed string/bytes/long opcode, at a random position.
  mutating func mutatePickle(_ b: [UInt8]) -> [UInt8] {
    var b = b
    let at = below(b.count + 1)
    var piece: [UInt8]
    if chance(0.8) {
      let (op, width) = Self.opcodes[below(Self.opcodes.count)]
      let value = chance(0.5) ? Self.interesting[below(Self.interesting.count)] : rng.next() % 8
      piece = [op] + (0..<width).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
    } else {
      let op: UInt8 = [0x8C, 0x43, 0x8A, 0x55][below(4)]
      let text = ["storage", "torch", "FloatStorage", "cpu", "0", "_rebuild_tensor_v2", "collections", "OrderedDict"]
      let s = Array(text[below(text.count)].utf8)
      piece = [op, UInt8(s.count)] + s
    }
    if chance(0.5), at < b.count {
      b.replaceSubrange(at..<min(b.count, at + piece.count), with: piece)
    } else {
      b.insert(contentsOf: piece, at: at)
    }
    return b
  }
}

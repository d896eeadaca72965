import Foundation
import Runtime

/// A StyleGAN2 generator read from one of NVIDIA's network pickles, the files people download:
/// the original TensorFlow release (`stylegan2-ffhq-config-f.pkl`: the tuple `(G, D, Gs)` of
/// `dnnlib.tflib.network.Network` states) or a stylegan2-ada-pytorch / stylegan3 (config
/// `stylegan2`) pickle (a dict whose `G_ema` is a tree of `torch_utils.persistence` objects).
///
/// The pickle is decoded by iloc's unpickler, which never executes anything: classes and
/// functions stay inert names, so a hostile file can at worst be refused. The moving-average
/// generator (`Gs` / `G_ema`) is converted to the reference port's layout (`style.1.weight`,
/// `convs.0.conv.weight`, ..., `latent_avg`), so everything downstream is the same as for a
/// `.pt` checkpoint.
public struct NetworkPickle: Sendable {
  public enum Format: String, Codable, Sendable {
    case tensorflow = "stylegan2-tensorflow-pickle"
    case adaPytorch = "stylegan2-ada-pytorch-pickle"

    /// A name for people, e.g. in `iloc convert`'s output.
    public var title: String {
      switch self {
      case .tensorflow: "TensorFlow StyleGAN2 network pickle"
      case .adaPytorch: "stylegan2-ada-pytorch network pickle"
      }
    }
  }

  /// What was read and how: printed by `iloc convert` and kept in the converted model's JSON.
  public struct Info: Codable, Equatable, Sendable {
    public var format: Format
    /// The network that was read: `Gs` or `G_ema`.
    public var network: String
    /// Architecture values read from the pickle (resolution, channels, kwargs).
    public var details: [String: String]
    /// How the pickle's names and layouts map onto the reference layout, one rule per line.
    public var mapping: [String]
    /// What the pickle asks for that iloc does not reproduce exactly (empty when nothing).
    public var notes: [String]

    /// The report `iloc convert` prints: format and network, the architecture read, the name
    /// mapping used, and any notes.
    public var reportLines: [String] {
      let facts = details.keys.sorted().map { "\($0) \(details[$0]!)" }.joined(separator: ", ")
      return ["read \(format.title), network \(network): \(facts)", "mapping onto the reference layout:"]
        + mapping.map { "  " + $0 } + notes.map { "note: " + $0 }
    }
  }

  public var info: Info
  /// The generator in the reference port's layout, plus `latent_avg`.
  public var stateDict: StateDict
  /// The mapping network's learning-rate multiplier (applied at run time by both formats).
  public var lrMul: Float
  /// `conv_clamp` of stylegan2-ada models (None in the StyleGAN2 release).
  public var convClamp: Float?

  /// True when `url` starts like a plain pickle (not a torch zip or legacy `torch.save` file).
  public static func looksLikeNetworkPickle(_ url: URL) -> Bool { PickleDecoding.isPlainPickle(url) }

  /// Reads and converts the pickle at `url`. One-line `ModelError`s name what is wrong: not a
  /// network pickle (and what was found instead), a missing or mis-shaped variable, or a
  /// network iloc does not implement (resnet / orig architecture, StyleGAN3 synthesis,
  /// conditional models).
  public init(contentsOf url: URL) throws {
    let name = url.lastPathComponent
    let data: Data
    do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
      throw ModelError("\(name): cannot read (\(error.localizedDescription))")
    }
    let tree = try PickleDecoding.load(data, name: name)
    if case .dict = tree, tree["G_ema"] != nil {
      self = try ADANetworkPickle.read(tree, source: name)
    } else if let items = tree.elements, items.count == 3, items.allSatisfy(TFNetworkPickle.isNetwork) {
      self = try TFNetworkPickle.read(items[2], source: name)
    } else {
      throw ModelError("\(name): not a StyleGAN2 network pickle: expected a dict with 'G_ema' (stylegan2-ada-pytorch) "
        + "or the tuple (G, D, Gs) of dnnlib.tflib.network.Network (TensorFlow), found \(Self.describe(tree))")
    }
  }

  init(format: Format, network: String, details: [String: String], mapping: [String], notes: [String],
       stateDict: StateDict, lrMul: Float, convClamp: Float?) {
    info = Info(format: format, network: network, details: details, mapping: mapping, notes: notes)
    self.stateDict = stateDict; self.lrMul = lrMul; self.convClamp = convClamp
  }

  /// A short description of a decoded value for error messages, e.g. `a call to os.system`.
  static func describe(_ v: PickleValue) -> String {
    switch v {
    case .object(let o): return "a call to \(o.qualifiedName ?? "an unnamed callable")"
    case .dict(let entries):
      let keys = entries.prefix(6).map { $0.key.stringValue ?? "?" }
      return "a dict with keys \(keys.joined(separator: ", "))\(entries.count > 6 ? ", ..." : "")"
    case .tuple(let items):
      return "a tuple of \(items.count) (\(items.prefix(3).map(describe).joined(separator: "; ")))"
    case .list(let items): return "a list of \(items.count)"
    case .global(let m, let n): return "the global \(m).\(n)"
    case .none: return "None"
    default: return "a plain value"
    }
  }
}

extension PickleObject {
  /// The items of a dict subclass rebuilt by the stream (e.g. `dnnlib.EasyDict`) or the BUILD
  /// state dict's entries.
  var dictEntries: [(key: PickleValue, value: PickleValue)] {
    if !dictItems.isEmpty { return dictItems }
    if case .dict(let e)? = state { return e }
    return []
  }
}

extension PickleValue {
  /// The value under `key` of a dict, or of a dict-like object (EasyDict and similar).
  func lookup(_ key: String) -> PickleValue? {
    if let v = self[key] { return v }
    if case .object(let o) = self { return o.dictEntries.last { $0.key.stringValue == key }?.value }
    return nil
  }

  /// A number as Double (`int`, `float`, or a numpy scalar is not decoded: nil).
  var doubleValue: Double? {
    switch self {
    case .float(let d): return d
    case .int(let i): return Double(i)
    case .bool(let b): return b ? 1 : 0
    default: return nil
    }
  }

  /// A short text for reports: numbers, strings, None and lists of them.
  var reportText: String {
    switch self {
    case .none: return "None"
    case .bool(let b): return b ? "True" : "False"
    case .int(let i): return String(i)
    case .float(let d): return String(d)
    case .string(let s): return s
    case .list(let a), .tuple(let a): return "[" + a.map(\.reportText).joined(separator: ", ") + "]"
    default: return "?"
    }
  }
}

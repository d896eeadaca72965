import Foundation

/// The JSON file written next to a converted model (`model.safetensors` -> `model.json`): what
/// the weights are, where they came from, and how the latent proxy was fitted. Loaders use it
/// to check the weights against the declared configuration; people read it.
///
/// Keys are snake_case; sizes are those of the reference implementations (`size`, `style_dim`,
/// `n_mlp`, `n_latent`, `n_noise` for StyleGAN2; `nz`, `ngf` for DCGAN). Channels are keyed by
/// resolution ("4" ... "size").
public struct ModelManifest: Codable, Equatable, Sendable {
  public static let formatName = "iloc-model"
  /// Bumped when a change would make older readers misread a file.
  public static let currentVersion = 1

  public struct Source: Codable, Equatable, Sendable {
    /// The converted file's name (no directory).
    public var file: String
    public var sha256: String
  }

  public struct ProxyInfo: Codable, Equatable, Sendable {
    /// Tensor names of the fitted moments in the weights file.
    public var mean: String
    public var std: String
    public var samples: Int
    public var seed: UInt64
    public var batch: Int
    public var engine: String
    public var recipe: String
    /// Averages over the coordinates, for a quick look (FFHQ config-f: about −0.32 and 0.80).
    public var meanAverage: Double
    public var stdAverage: Double

    enum CodingKeys: String, CodingKey {
      case mean, std, samples, seed, batch, engine, recipe
      case meanAverage = "mean_average", stdAverage = "std_average"
    }
  }

  public var format: String = formatName
  public var formatVersion: Int = currentVersion
  /// "stylegan2" or "dcgan".
  public var architecture: String
  /// The safetensors file, relative to the JSON file.
  public var weights: String
  public var tensorCount: Int
  /// Output side in pixels.
  public var size: Int
  public var channels: [String: Int]
  public var source: Source

  // StyleGAN2
  public var styleDim: Int?
  public var nMlp: Int?
  public var lrMlp: Double?
  /// Set when the channels are the standard ones for this multiplier.
  public var channelMultiplier: Int?
  public var nLatent: Int?
  public var nNoise: Int?
  /// "checkpoint" (copied) or "fitted" (mean of mapping(z) over the proxy samples).
  public var latentAvg: String?
  public var latentProxy: ProxyInfo?
  /// stylegan2-ada-pytorch's `conv_clamp` (synthesis outputs clamped to ±c); absent: none.
  public var convClamp: Double?
  /// Set when the source was an NVIDIA network pickle: its format, the network read, the
  /// architecture found and the name mapping used.
  public var networkPickle: NetworkPickle.Info?
  /// Conditional generators: the class count and the class the latent proxy was fitted for
  /// (the class used when the model is loaded without one).
  public var classes: Int?
  public var classIndex: Int?

  // DCGAN
  public var nz: Int?
  /// Set when the channels are 8·ngf, 4·ngf, 2·ngf, ngf, nc (the tutorial layout).
  public var ngf: Int?
  public var nc: Int?

  enum CodingKeys: String, CodingKey {
    case format, architecture, weights, size, channels, source, nz, ngf, nc
    case formatVersion = "format_version", tensorCount = "tensor_count", styleDim = "style_dim", nMlp = "n_mlp"
    case lrMlp = "lr_mlp", channelMultiplier = "channel_multiplier", nLatent = "n_latent", nNoise = "n_noise"
    case latentAvg = "latent_avg", latentProxy = "latent_proxy", networkPickle = "network_pickle"
    case convClamp = "conv_clamp", classes, classIndex = "class"
  }

  /// `model.safetensors` -> `model.json` (same directory).
  public static func url(forWeights weights: URL) -> URL {
    weights.deletingPathExtension().appendingPathExtension("json")
  }

  /// The weights file this manifest (read from `url`) describes.
  public func weightsURL(relativeTo url: URL) -> URL {
    url.deletingLastPathComponent().appendingPathComponent(weights)
  }

  /// Stable bytes: sorted keys, pretty-printed, trailing newline.
  public func encoded() throws -> Data {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    return try enc.encode(self) + Data("\n".utf8)
  }

  /// Reads and checks a manifest. One-line errors: unreadable, not JSON, not an iloc model
  /// file, a newer format version, missing fields.
  public init(contentsOf url: URL) throws {
    let name = url.lastPathComponent
    guard let data = try? Data(contentsOf: url) else { throw ModelError("\(name): cannot read the file") }
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
      throw ModelError("\(name): not a JSON object")
    }
    guard object["format"] as? String == Self.formatName else {
      throw ModelError("\(name): not an iloc model description (no \"format\": \"\(Self.formatName)\")")
    }
    if let v = object["format_version"] as? Int, v > Self.currentVersion {
      throw ModelError("\(name): format version \(v) is newer than this iloc reads (\(Self.currentVersion)); update iloc")
    }
    do {
      self = try JSONDecoder().decode(ModelManifest.self, from: data)
    } catch let DecodingError.keyNotFound(key, _) {
      throw ModelError("\(name): missing field '\(key.stringValue)'")
    } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
      throw ModelError("\(name): bad value for '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))'")
    } catch {
      throw ModelError("\(name): unreadable model description (\(error))")
    }
    guard ["stylegan2", "dcgan"].contains(architecture) else {
      throw ModelError("\(name): unknown architecture '\(architecture)' (iloc knows stylegan2, dcgan)")
    }
    for key in channels.keys.sorted() where (Int(key) ?? 0) <= 0 {
      throw ModelError("\(name): bad 'channels' key '\(key)' (keys are resolutions in pixels, e.g. \"4\")")
    }
  }

  /// The channel counts ordered by resolution (keys are checked to be positive integers).
  var channelsByResolution: [Int] {
    channels.sorted { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }.map(\.value)
  }

  /// The manifest beside a weights file, when there is one that describes that file: the
  /// same name with `.json`, holding `"format": "iloc-model"` and naming this weights file.
  /// Other JSON files (e.g. a training config of the same name) are ignored; a file that
  /// claims to be a manifest but is broken is an error.
  static func companion(of weights: URL) throws -> ModelManifest? {
    let url = url(forWeights: weights)
    guard url != weights, FileManager.default.fileExists(atPath: url.path),
          let data = try? Data(contentsOf: url),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          object["format"] as? String == formatName
    else { return nil }
    let m = try ModelManifest(contentsOf: url)
    return m.weights == weights.lastPathComponent ? m : nil
  }

  init(architecture: String, weights: String, tensorCount: Int, size: Int, channels: [Int: Int], source: Source) {
    self.architecture = architecture
    self.weights = weights
    self.tensorCount = tensorCount
    self.size = size
    self.channels = Dictionary(uniqueKeysWithValues: channels.map { (String($0.key), $0.value) })
    self.source = source
  }
}

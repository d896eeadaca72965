import Foundation

/// Named tensors from one weight file (a flattened state dict), with shape checks that fail
/// with one clear line naming the key, the expected and the found shape.
public struct StateDict: Sendable {
  /// The file the tensors came from, for error messages.
  public var source: String
  /// Tensors by flattened, dot-joined key, e.g. `style.1.weight`.
  public var tensors: [String: TensorData]

  public init(source: String, tensors: [String: TensorData]) {
    self.source = source
    self.tensors = tensors
  }

  /// All keys, sorted.
  public var keys: [String] { tensors.keys.sorted() }

  public subscript(key: String) -> TensorData? { tensors[key] }

  /// The tensor `key`, which must exist and have exactly `shape`.
  public func require(_ key: String, shape: [Int]) throws -> TensorData {
    guard let tensor = tensors[key] else {
      throw WeightError("\(source): missing tensor '\(key)' (expected shape \(describeShape(shape)))")
    }
    guard tensor.shape == shape else {
      throw WeightError(
        "\(source): tensor '\(key)' has shape \(describeShape(tensor.shape)), "
          + "expected \(describeShape(shape))")
    }
    return tensor
  }

  /// Checks every key of `expected` with `require`, in sorted key order; the first problem is
  /// thrown. Extra tensors in the file are allowed.
  public func requireAll(_ expected: [String: [Int]]) throws {
    for key in expected.keys.sorted() { _ = try require(key, shape: expected[key]!) }
  }

  /// The tensors under `prefix`, with the prefix and its dot removed from their keys.
  public func subDict(prefix: String) -> StateDict {
    var sub: [String: TensorData] = [:]
    for (key, tensor) in tensors where key.hasPrefix(prefix + ".") {
      sub[String(key.dropFirst(prefix.count + 1))] = tensor
    }
    return StateDict(source: source, tensors: sub)
  }
}

/// Loads the tensors of a weight file: a PyTorch checkpoint (zip or legacy) or a safetensors
/// file, recognised by content, not extension. Nested dicts are flattened with dot-joined keys
/// (`{"g_ema": {...}, "latent_avg": t}` gives `g_ema.style.1.weight`, `latent_avg`); with
/// `prefix`, only the tensors under it are loaded, keyed relative to it.
public func loadStateDict(_ url: URL, prefix: String? = nil) throws -> StateDict {
  try checkReadableFile(url)
  if try SafeTensorsFile.looksLikeSafeTensors(url) {
    let file = try SafeTensorsFile(contentsOf: url)
    let all = StateDict(source: url.lastPathComponent, tensors: file.tensors)
    guard let prefix, !prefix.isEmpty else { return all }
    let sub = all.subDict(prefix: prefix)
    if sub.tensors.isEmpty {
      throw WeightError("\(url.lastPathComponent): no tensors under '\(prefix)'")
    }
    return sub
  }
  return try TorchCheckpoint(contentsOf: url).stateDict(prefix: prefix)
}

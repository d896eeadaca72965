import Foundation
import Runtime

/// Finds a model's tensors in a weight file whose layout varies: training checkpoints nest the
/// state dict (`{"g_ema": ..., "latent_avg": ...}`, `{"netG_state_dict": ...}`), exported ones
/// do not. The model is recognised by a `marker` key; nothing else in the file is read.
enum CheckpointLoading {
  /// The tensors under the first of `prefixes` ("" = top level) that holds `marker`, keyed
  /// relative to it, plus the top-level tensors named in `extras` (kept under their own name)
  /// when present. Throws `<file>: not a <architecture>: missing key '<marker>'` otherwise.
  static func load(_ url: URL, prefixes: [String], marker: String, extras: [String] = [],
                   architecture: String) throws -> StateDict {
    if !isTorchCheckpoint(url) {  // safetensors, or anything else: loadStateDict names the problem
      let all = try loadStateDict(url)
      for prefix in prefixes where all[prefix.isEmpty ? marker : prefix + "." + marker] != nil {
        var sd = prefix.isEmpty ? all : all.subDict(prefix: prefix)
        for e in extras { if let t = all[e] { sd.tensors[e] = t } }
        return sd
      }
      throw ModelError("\(url.lastPathComponent): not a \(architecture): missing key '\(marker)'", wrongArchitecture: true)
    }
    let ck = try TorchCheckpoint(contentsOf: url)
    let keys = Set(ck.tensorKeys)
    for prefix in prefixes where keys.contains(prefix.isEmpty ? marker : prefix + "." + marker) {
      var sd = try ck.stateDict(prefix: prefix.isEmpty ? nil : prefix)
      for e in extras where keys.contains(e) { sd.tensors[e] = try ck.tensor(e) }
      return sd
    }
    throw ModelError("\(url.lastPathComponent): not a \(architecture): missing key '\(marker)'", wrongArchitecture: true)
  }

  /// True when the file starts like a torch zip archive or a legacy pickle stream.
  static func isTorchCheckpoint(_ url: URL) -> Bool {
    guard let handle = try? FileHandle(forReadingFrom: url) else { return false }
    defer { try? handle.close() }
    guard let head = try? handle.read(upToCount: 4), head.count >= 1 else { return false }
    return head.starts(with: [0x50, 0x4B]) || head.first == 0x80
  }
}

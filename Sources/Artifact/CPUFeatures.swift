import Codegen
import Foundation

/// CPU feature sets of ahead-of-time artifacts, without LLVM: what a build requires (LLVM
/// feature names, e.g. `avx2`) and what this machine has (the `flags` line of /proc/cpuinfo).
public enum CPUFeatures {
  /// LLVM x86 feature name -> the Linux /proc/cpuinfo flag that shows it. Only features that
  /// change the instructions generated code may contain are listed; others (tuning flags,
  /// system features) are recorded in the manifest but not checked.
  public static let cpuinfoName: [String: String] = [
    "x87": "fpu", "cmov": "cmov", "cx8": "cx8", "fxsr": "fxsr", "mmx": "mmx", "sse": "sse", "sse2": "sse2",
    "sse3": "pni", "ssse3": "ssse3", "sse4.1": "sse4_1", "sse4.2": "sse4_2", "sse4a": "sse4a", "cx16": "cx16",
    "popcnt": "popcnt", "sahf": "lahf_lm", "64bit": "lm",
    "avx": "avx", "avx2": "avx2", "fma": "fma", "fma4": "fma4", "xop": "xop", "f16c": "f16c", "bmi": "bmi1", "bmi2": "bmi2",
    "lzcnt": "abm", "movbe": "movbe", "xsave": "xsave", "adx": "adx", "aes": "aes", "pclmul": "pclmulqdq",
    "sha": "sha_ni", "gfni": "gfni", "vaes": "vaes", "vpclmulqdq": "vpclmulqdq", "avxvnni": "avx_vnni",
    "avx512f": "avx512f", "avx512bw": "avx512bw", "avx512cd": "avx512cd", "avx512dq": "avx512dq",
    "avx512vl": "avx512vl", "avx512ifma": "avx512ifma", "avx512vbmi": "avx512vbmi", "avx512vbmi2": "avx512_vbmi2",
    "avx512vnni": "avx512_vnni", "avx512bitalg": "avx512_bitalg", "avx512vpopcntdq": "avx512_vpopcntdq",
    "avx512bf16": "avx512_bf16", "avx512fp16": "avx512_fp16", "avx512vp2intersect": "avx512_vp2intersect",
    "amx-tile": "amx_tile", "amx-int8": "amx_int8", "amx-bf16": "amx_bf16",
  ]

  /// The x86-64 psABI micro-architecture levels and their features (`TargetLevel`'s table,
  /// which `ILOC_TARGET` uses too).
  public static let levels: [String: [String]] = {
    var table = ["x86-64": TargetLevel.baseline]
    for level in TargetLevel.allCases { table[level.rawValue] = level.featureNames }
    return table
  }()

  /// The checked subset of an LLVM feature string ("+avx2,-avx512f,..."): enabled features
  /// with a /proc/cpuinfo name, sorted.
  public static func checkable(_ featureString: String) -> [String] {
    featureString.split(separator: ",").filter { $0.hasPrefix("+") }.map { String($0.dropFirst()) }
      .filter { cpuinfoName[$0] != nil }.sorted()
  }

  /// This machine's CPU flags from /proc/cpuinfo (nil when it cannot be read).
  public static func hostFlags() -> Set<String>? {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("flags") {
      guard let colon = line.firstIndex(of: ":") else { continue }
      return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }
    return nil
  }

  /// The required features (LLVM names) this machine lacks. A feature with no known cpuinfo
  /// name is looked up under its own name.
  public static func missing(_ required: [String], host: Set<String>) -> [String] {
    required.filter { !host.contains(cpuinfoName[$0] ?? $0) }
  }
}

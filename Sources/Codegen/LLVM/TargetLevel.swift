// `ILOC_TARGET`: generating code for an x86-64 microarchitecture level below the host's.

/// An x86-64 microarchitecture level (the psABI's v2, v3, v4) that the JIT can target instead
/// of the host CPU. Uses: the same kernels, so the same bits, on every node of a cluster that
/// mixes AVX2 and AVX-512 machines (`x86-64-v3` everywhere), and measuring an ISA on a host
/// that has a wider one (benchmarks restricted to AVX2). A level the host lacks is refused:
/// its code would stop with an illegal instruction.
public enum TargetLevel: String, CaseIterable, Sendable {
  case v2 = "x86-64-v2"
  case v3 = "x86-64-v3"
  case v4 = "x86-64-v4"

  /// Why `ILOC_TARGET` was refused (one line).
  public struct Problem: Error, CustomStringConvertible, Equatable {
    public var description: String
  }

  /// The environment variable that selects a level ("host" or unset: the host CPU).
  public static let variable = "ILOC_TARGET"

  /// The features of x86-64 itself (every x86-64 CPU has them), LLVM names.
  public static let baseline = ["cmov", "cx8", "fxsr", "mmx", "sse", "sse2", "x87", "64bit"]

  /// LLVM target features each level adds to the previous one (a table of our own: the LLVM C
  /// API has no call that lists the features a named CPU implies).
  var addedFeatures: [String] {
    switch self {
    case .v2: return ["cx16", "sahf", "popcnt", "sse3", "sse4.1", "sse4.2", "ssse3"]
    case .v3: return ["avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave"]
    case .v4: return ["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]
    }
  }

  /// The features the level adds to x86-64's baseline, this level's and the ones below.
  var addedFeaturesUpToHere: [String] {
    (Self.allCases.prefix { $0 != self } + [self]).flatMap(\.addedFeatures)
  }

  /// Every feature of the level, baseline included (LLVM names).
  public var featureNames: [String] { Self.baseline + addedFeaturesUpToHere }

  /// Every feature of the level as an LLVM feature string ("+cmov,...,+avx2,+fma,...").
  public var features: String { featureNames.map { "+" + $0 }.joined(separator: ",") }

  /// The level named by `ILOC_TARGET` in `environment`, nil for the host CPU; throws (one line)
  /// for an unknown name or a level that `hostFeatures` (an LLVM feature string) lacks.
  public static func requested(_ environment: [String: String], hostFeatures: @autoclosure () -> String) throws
    -> TargetLevel?
  {
    guard let name = environment[variable], !name.isEmpty, name != "host" else { return nil }
    guard let level = TargetLevel(rawValue: name) else {
      let names = (["host"] + allCases.map(\.rawValue)).joined(separator: ", ")
      throw Problem(description: "\(variable)=\(name) is not a target level (\(names))")
    }
    let host = Set(hostFeatures().split(separator: ",").map(String.init))
    let missing = level.addedFeaturesUpToHere.filter { !host.contains("+" + $0) }
    guard missing.isEmpty else {
      let list = missing.joined(separator: ", ")
      throw Problem(description: "\(variable)=\(name) needs \(list), which this CPU lacks")
    }
    return level
  }
}

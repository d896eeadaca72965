import Foundation

/// `ILOC_DEBUG`: 1 compile summaries, 2 one line per kernel launch, 3 pass-by-pass graph
/// dumps, 4 the LLVM IR of each kernel (each level includes the ones below).
public enum DebugLevel {
  public static let current: Int = Int(ProcessInfo.processInfo.environment["ILOC_DEBUG"] ?? "") ?? 0
}

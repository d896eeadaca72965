import Foundation

/// Per-step timing of a program, aggregated over its runs (`iloc profile`).
public struct ProfileRow: Codable, Sendable {
  public var step: Int
  public var kernel: String
  public var kind: String
  public var opsFused: Int
  public var calls: Int
  public var milliseconds: Double
  public var percent: Double
  public var flopsPerCall: Double
  public var bytesPerCall: Double
  public var gflops: Double
  public var gbPerSecond: Double
  /// GEMM steps: GFLOP/s as a percentage of the host's measured FMA peak on all threads.
  public var percentOfFMAPeak: Double?
  /// GEMM steps: the time inside the GEMM calls alone (the rest is im2col / col2im gathers
  /// and Winograd transforms), and their rate as a percentage of the FMA peak.
  public var gemmMilliseconds: Double?
  public var gemmPercentOfFMAPeak: Double?
}

public struct ProfileReport: Codable, Sendable {
  public var program: String
  public var runs: Int
  public var totalMilliseconds: Double
  public var rows: [ProfileRow]
  /// The FMA peak the GEMM rows are compared with (GFLOP/s on all threads) and its ISA.
  public var fmaPeakGFLOPS: Double?
  public var fmaPeakISA: String?

  /// A fixed-width table, most expensive steps first (at most `limit` rows, then a total).
  public func table(limit: Int = 40) -> String {
    var lines = ["kernel".padded(44) + " " + "kind".padded(8) + "ops".leftPadded(5) + "calls".leftPadded(7) + "ms".leftPadded(11)
                 + "%".leftPadded(7) + "GFLOP/s".leftPadded(10) + "GB/s".leftPadded(9)
                 + (fmaPeakGFLOPS == nil ? "" : "%peak".leftPadded(7) + "gemm%".leftPadded(7))]
    lines.append(String(repeating: "-", count: lines[0].count))
    for r in rows.sorted(by: { $0.milliseconds > $1.milliseconds }).prefix(limit) {
      lines.append(String(r.kernel.prefix(44)).padded(44) + " " + r.kind.padded(8)
                   + String(format: "%5d %6d %10.3f %6.1f %9.2f %8.2f", r.opsFused, r.calls, r.milliseconds, r.percent, r.gflops, r.gbPerSecond)
                   + (r.percentOfFMAPeak.map { String(format: " %6.1f", $0) } ?? "")
                   + (r.gemmPercentOfFMAPeak.map { String(format: " %6.1f", $0) } ?? ""))
    }
    if rows.count > limit { lines.append("... \(rows.count - limit) more steps") }
    if let p = fmaPeakGFLOPS {
      lines.append(String(format: "%%peak: GEMM GFLOP/s against the measured FMA peak, %.1f GFLOP/s (%@, %d threads); "
                          + "gemm%%: the same for the time inside the GEMM calls alone", p, fmaPeakISA ?? "?", Parallel.threads))
    }
    let flops = rows.reduce(0) { $0 + $1.flopsPerCall * Double($1.calls) }
    lines.append(String(format: "total: %d steps, %.3f ms per run over %d runs, %.2f GFLOP/s overall", rows.count,
                        totalMilliseconds / Double(Swift.max(runs, 1)), runs, flops / (totalMilliseconds / 1e3) / 1e9))
    return lines.joined(separator: "\n")
  }

  public func csv() -> String {
    var s = "step,kernel,kind,ops_fused,calls,ms,percent,flops_per_call,bytes_per_call,gflops,gb_per_s,percent_of_fma_peak,"
      + "gemm_ms,gemm_percent_of_fma_peak\n"
    for r in rows {
      let optional = [r.percentOfFMAPeak, r.gemmMilliseconds, r.gemmPercentOfFMAPeak].map { $0.map { "\($0)" } ?? "" }
      s += "\(r.step),\"\(r.kernel)\",\(r.kind),\(r.opsFused),\(r.calls),\(r.milliseconds),\(r.percent),\(r.flopsPerCall),"
        + "\(r.bytesPerCall),\(r.gflops),\(r.gbPerSecond)," + optional.joined(separator: ",") + "\n"
    }
    return s
  }

  /// The profile as JSON (a non-finite number, e.g. a percentage of a zero total, as null).
  public func json() throws -> Data { try ReportJSON.encode(self) }
}

extension Program {
  /// The loop-IR text of step `k`'s kernel (nil for GEMM and builtin steps): `ILOC_DEBUG=3 iloc
  /// profile` prints it for the slowest kernel steps, to see why one runs at the rate it does.
  public func kernelText(ofStep k: Int) -> String? {
    (steps.indices.contains(k) ? steps[k] as? KernelStep : nil)?.kernel.description
  }

  /// Clears the accumulated per-step timings and turns timing on.
  public func resetProfile() {
    profiling = true
    for k in stepSeconds.indices { stepSeconds[k] = 0; stepCalls[k] = 0; steps[k].gemmSeconds = 0 }
  }

  /// The per-step table of everything run since `resetProfile()`. With `fmaPeak` (GFLOP/s on
  /// all threads, and its ISA; see `FMAPeak`), GEMM rows also show their share of it.
  public func profileReport(fmaPeak: (gflops: Double, isa: String)? = nil) -> ProfileReport {
    let total = stepSeconds.reduce(0, +)
    let rows = steps.enumerated().map { k, s in
      let sec = stepSeconds[k], calls = stepCalls[k], inGEMM = s.kind == "gemm" && s.gemmSeconds > 0
      let gemmRate = inGEMM ? s.flops * Double(calls) / s.gemmSeconds / 1e9 : 0
      return ProfileRow(step: k, kernel: s.label, kind: s.kind, opsFused: s.ops, calls: calls, milliseconds: sec * 1e3,
                        percent: total > 0 ? 100 * sec / total : 0, flopsPerCall: s.flops, bytesPerCall: s.bytes,
                        gflops: sec > 0 ? s.flops * Double(calls) / sec / 1e9 : 0,
                        gbPerSecond: sec > 0 ? s.bytes * Double(calls) / sec / 1e9 : 0,
                        percentOfFMAPeak: s.kind == "gemm" && sec > 0
                          ? fmaPeak.map { 100 * s.flops * Double(calls) / sec / 1e9 / $0.gflops } : nil,
                        gemmMilliseconds: inGEMM ? s.gemmSeconds * 1e3 : nil,
                        gemmPercentOfFMAPeak: inGEMM ? fmaPeak.map { 100 * gemmRate / $0.gflops } : nil)
    }
    return ProfileReport(program: graph.name, runs: stepCalls.max() ?? 0, totalMilliseconds: total * 1e3, rows: rows,
                         fmaPeakGFLOPS: fmaPeak?.gflops, fmaPeakISA: fmaPeak?.isa)
  }
}

extension String {
  /// Left-aligned in a field of `width` characters (String(format:) does not pad `%@` on Linux).
  public func padded(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
  /// Right-aligned in a field of `width` characters.
  public func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}

import Foundation

/// The memory of this process as the kernel accounts it (Linux `/proc/self/status`).
public enum ProcessMemory {
  /// Peak resident set size ("high water mark", `VmHWM`) in bytes, or nil where
  /// `/proc/self/status` is unavailable or has no such line.
  public static func peakResidentBytes() -> Int? { statusField("VmHWM") }

  /// Current resident set size (`VmRSS`) in bytes, or nil.
  public static func residentBytes() -> Int? { statusField("VmRSS") }

  /// A `Name:   1234 kB` line of `/proc/self/status`, in bytes.
  static func statusField(_ name: String) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    return parseStatusField(name, in: text)
  }

  /// The value of field `name` in `/proc/<pid>/status` text, in bytes (the file gives kB).
  static func parseStatusField(_ name: String, in text: String) -> Int? {
    for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
      let parts = line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" })
      guard let n = parts.first.flatMap({ Int($0) }) else { return nil }
      let unit = parts.count > 1 ? parts[1].lowercased() : "b"
      return unit == "kb" ? n * 1024 : n
    }
    return nil
  }
}

extension ProgramStats {
  /// Bytes of the program's arena: the memory plan's size after liveness-based reuse.
  public var arenaBytes: Int { peakBytes }
  /// The arena plus the scratch buffer (im2col and Winograd workspaces): what the program
  /// allocates for its values.
  public var allocatedBytes: Int { peakBytes + scratchBytes }
}

import Foundation
@testable import Runtime
import Testing

/// Peak RSS from `/proc/self/status` (what `iloc bench` and `iloc profile` print).
@Suite struct ProcessMemoryTests {
  @Test func readsKilobyteFieldsSeparatedByTabsAndSpaces() {
    let text = "Name:\tiloc\nVmPeak:\t  900 kB\nVmHWM:\t    2172 kB\nVmRSS:\t 1500 kB\nThreads:\t3\n"
    #expect(ProcessMemory.parseStatusField("VmHWM", in: text) == 2172 * 1024)
    #expect(ProcessMemory.parseStatusField("VmRSS", in: text) == 1500 * 1024)
    #expect(ProcessMemory.parseStatusField("Threads", in: text) == 3)
    #expect(ProcessMemory.parseStatusField("VmSwap", in: text) == nil)
    #expect(ProcessMemory.parseStatusField("VmPeak", in: "VmPeak:\tmany kB\n") == nil)
  }

  @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/status"), "Linux only"))
  func peakCoversMemoryTouchedNow() throws {
    let n = 64 << 20
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
    defer { p.deallocate() }
    for i in stride(from: 0, to: n, by: 4096) { p[i] = UInt8(truncatingIfNeeded: i >> 12) }
    #expect(try #require(ProcessMemory.residentBytes()) >= n)
    #expect(try #require(ProcessMemory.peakResidentBytes()) >= n)
    // Both from one read of the file: two reads may see RSS counters that other threads' page
    // faults moved in between (seen: peak 8 KB below an earlier RSS while the suite ran).
    let text = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
    let rss = try #require(ProcessMemory.parseStatusField("VmRSS", in: text))
    #expect(try #require(ProcessMemory.parseStatusField("VmHWM", in: text)) >= rss)
  }
}

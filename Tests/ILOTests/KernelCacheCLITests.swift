import Foundation
import Testing

/// `iloc invert` with a damaged, shared or unusable kernel cache: the result never changes,
/// a problem is one warning line naming the cache, and two processes can fill one cache.
@Suite(.enabled(if: FileManager.default.isExecutableFile(atPath: TestModels.iloc.path) && TestModels.dcganURL != nil,
                "skipped: needs the iloc executable and the DCGAN weights (bash models/fetch.sh)"))
struct KernelCacheCLITests {
  static let face = TestModels.root.appendingPathComponent("models/samples/face64.png").path

  static func invert(_ out: URL) -> [String] {
    ["invert", "--model", "dcgan", "--task", "inpaint", "--mask", "random:0.5", "--observed", face, "--steps", "2,1",
     "-o", out.path]
  }

  static func results(_ out: URL) throws -> [Data] {
    try ["result.png", "state.safetensors"].map { try Data(contentsOf: out.appendingPathComponent($0)) }
  }

  static func warnings(_ stderr: String) -> [Substring] {
    stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") }
  }

  static func tempDir() throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("iloc-kcache-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
  }

  /// Flips one bit in the middle of the first non-empty `.text*` section of the ELF object
  /// inside a cache entry (the object starts at its ELF magic, after the entry's header).
  static func flipCodeByte(in entry: URL) throws {
    var bytes = [UInt8](try Data(contentsOf: entry))
    let base = try #require((0..<bytes.count - 4).first { bytes[$0..<$0 + 4] == [0x7f, 0x45, 0x4c, 0x46] })
    func u(_ at: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(bytes[base + at + $1]) << (8 * $1) } }
    let (shoff, shentsize, shnum, shstrndx) = (u(0x28, 8), u(0x3a, 2), u(0x3c, 2), u(0x3e, 2))
    let names = u(shoff + shstrndx * shentsize + 24, 8)
    let text = try #require((0..<shnum).map { shoff + $0 * shentsize }.first { h in
      let name = bytes[(base + names + u(h, 4))...].prefix { $0 != 0 }
      return name.starts(with: Array(".text".utf8)) && u(h + 32, 8) > 0
    })
    bytes[base + u(text + 24, 8) + u(text + 32, 8) / 2] ^= 0x10
    try Data(bytes).write(to: entry)
  }

  @Test func aFlippedByteInACachedKernelChangesNothingAndWarnsOnce() throws {
    let d = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let cache = d.appendingPathComponent("kernels"), env = ["ILOC_CACHE_DIR": cache.path]
    let clean = try ILOCProcess.run(Self.invert(d.appendingPathComponent("clean")), environment: env)
    #expect(clean.status == 0 && Self.warnings(clean.stderr).isEmpty, "\(clean.stderr)")
    // the largest entry: the most code to hit
    let entries = try FileManager.default.contentsOfDirectory(at: cache, includingPropertiesForKeys: [.fileSizeKey])
      .filter { $0.pathExtension == "kobj" }
    let victim = try #require(entries.max { try! $0.resourceValues(forKeys: [.fileSizeKey]).fileSize!
      < $1.resourceValues(forKeys: [.fileSizeKey]).fileSize! })
    try Self.flipCodeByte(in: victim)

    let again = try ILOCProcess.run(Self.invert(d.appendingPathComponent("again")), environment: env)
    #expect(again.status == 0, "\(again.stderr)")
    let warned = Self.warnings(again.stderr)
    #expect(warned.count == 1, "\(again.stderr)")
    #expect(warned.first?.contains("kernel cache \(cache.path)") == true, "\(again.stderr)")
    #expect(try Self.results(d.appendingPathComponent("again")) == Self.results(d.appendingPathComponent("clean")))
  }

  @Test func twoProcessesFillOneCacheAtOnce() throws {
    let d = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let env = ["ILOC_CACHE_DIR": d.appendingPathComponent("kernels").path]
    let runs = try ["a", "b"].map { try ILOCProcess(Self.invert(d.appendingPathComponent($0)), environment: env) }
    for r in try runs.map({ try $0.wait() }) {
      #expect(r.status == 0 && Self.warnings(r.stderr).isEmpty, "\(r.stderr)")
    }
    let cached = try ILOCProcess.run(Self.invert(d.appendingPathComponent("c")), environment: env)
    #expect(cached.status == 0 && Self.warnings(cached.stderr).isEmpty, "\(cached.stderr)")
    let a = try Self.results(d.appendingPathComponent("a"))
    #expect(try Self.results(d.appendingPathComponent("b")) == a)
    #expect(try Self.results(d.appendingPathComponent("c")) == a)
  }

  @Test func anUnusableCacheDirectoryMeansOneWarningAndTheSameResult() throws {
    let d = try Self.tempDir()
    defer { try? FileManager.default.removeItem(at: d) }
    let notADirectory = d.appendingPathComponent("file")
    try Data("x".utf8).write(to: notADirectory)
    let r = try ILOCProcess.run(Self.invert(d.appendingPathComponent("out")),
                                environment: ["ILOC_CACHE_DIR": notADirectory.path])
    #expect(r.status == 0, "\(r.stderr)")
    let warned = Self.warnings(r.stderr)
    #expect(warned.count == 1 && warned[0].contains("kernel cache \(notADirectory.path)"), "\(r.stderr)")
    let good = try ILOCProcess.run(Self.invert(d.appendingPathComponent("good")),
                                   environment: ["ILOC_CACHE_DIR": d.appendingPathComponent("kernels").path])
    #expect(good.status == 0)
    #expect(try Self.results(d.appendingPathComponent("out")) == Self.results(d.appendingPathComponent("good")))
  }
}

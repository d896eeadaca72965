import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The output directory of one run, held from before its first step to its last write.
///
/// - Checked up front: created with its parents when missing; a path that is a file, or a place
///   where nothing can be written (`/proc`, a read-only disk), is a one-line error before any
///   work, not after a long optimization.
/// - Locked: an exclusive `flock` on the directory itself (no lock file), held while this
///   object lives and released by the kernel even if the process dies, so two runs into one
///   directory never mix their files: the second fails at once.
/// - Filled as one unit (`commit`): the files are written into a hidden staging folder and
///   renamed in (each rename replaces atomically), the report last, so a report always
///   describes the files beside it. Staging folders of runs that died are removed.
/// - Left as found on failure: directories this object created are removed again (when still
///   empty) if nothing was committed.
public final class OutputDirectory {
  public let url: URL
  /// The prefix of staging folders (`.iloc-partial-PID`).
  public static let stagingPrefix = ".iloc-partial-"
  private let descriptor: Int32
  private let created: [URL]
  private var committed = false

  public init(_ url: URL) throws {
    let url = url.standardizedFileURL
    self.url = url
    created = try Self.makeDirectories(url)
    descriptor = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard descriptor >= 0 else {
      let why = errnoText()
      Self.removeEmpty(created)
      throw FileError("cannot open output directory \(url.path): \(why)")
    }
    do {
      try lock()
      removeStaleStaging()
      try probeWritable()
    } catch {
      close(descriptor)
      Self.removeEmpty(created)
      throw error
    }
  }

  deinit {
    close(descriptor)  // releases the lock
    if !committed { Self.removeEmpty(created) }
  }

  /// Writes a set of files as one unit: `write` fills a fresh staging folder; its files are
  /// then renamed into the directory, `last` (the report) after all the others and only once
  /// they are in place. The previous `last` is removed first, so a report never sits beside
  /// files of another run. The staging folder is removed whatever happens.
  public func commit(last: String, _ write: (URL) throws -> Void) throws {
    let fm = FileManager.default
    let staging = url.appendingPathComponent(Self.stagingPrefix + "\(getpid())")
    try? fm.removeItem(at: staging)
    guard mkdir(staging.path, 0o755) == 0 else { throw FileError("cannot write into \(url.path): \(errnoText())") }
    defer { try? fm.removeItem(at: staging) }
    try write(staging)
    let names = try fm.contentsOfDirectory(atPath: staging.path).sorted()
    guard names.contains(last) else { throw FileError("internal: \(last) was not written") }
    if unlink(url.appendingPathComponent(last).path) != 0 && errno != ENOENT {
      throw FileError("cannot replace \(url.appendingPathComponent(last).path): \(errnoText())")
    }
    for name in names.filter({ $0 != last }) + [last] {
      let from = staging.appendingPathComponent(name), to = url.appendingPathComponent(name)
      guard rename(from.path, to.path) == 0 else { throw FileError("cannot write \(to.path): \(errnoText())") }
    }
    committed = true
  }

  /// Takes the exclusive lock, without waiting.
  private func lock() throws {
    guard flock(descriptor, LOCK_EX | LOCK_NB) != 0 else { return }
    if errno == EWOULDBLOCK {
      throw FileError("output directory \(url.path) is in use by another iloc run; "
                      + "wait for it to finish or choose another -o")
    }
    throw FileError("cannot lock output directory \(url.path): \(errnoText())")
  }

  /// Creates and removes a staging folder: the directory accepts new entries.
  private func probeWritable() throws {
    let probe = url.appendingPathComponent(Self.stagingPrefix + "\(getpid())")
    guard mkdir(probe.path, 0o755) == 0 || errno == EEXIST else {
      throw FileError("cannot write into output directory \(url.path): \(errnoText())")
    }
    rmdir(probe.path)
  }

  /// Staging folders left by runs that died (the lock is ours, so no live run owns one).
  private func removeStaleStaging() {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
    for n in names where n.hasPrefix(Self.stagingPrefix) {
      try? FileManager.default.removeItem(at: url.appendingPathComponent(n))
    }
  }

  /// `mkdir -p`, returning the directories it created (outermost first); one-line errors.
  private static func makeDirectories(_ url: URL) throws -> [URL] {
    var missing: [URL] = []
    var u = url
    while true {
      var st = stat()
      if lstat(u.path, &st) == 0 || u.path == "/" { break }
      missing.insert(u, at: 0)
      u = u.deletingLastPathComponent()
    }
    var isDir: ObjCBool = false
    let existing = missing.isEmpty ? url : missing[0].deletingLastPathComponent()
    guard FileManager.default.fileExists(atPath: existing.path, isDirectory: &isDir), isDir.boolValue else {
      throw FileError(existing == url
        ? "output directory \(url.path) exists and is not a directory"
        : "cannot create output directory \(url.path): \(existing.path) is not a directory")
    }
    var made: [URL] = []
    for d in missing {
      guard mkdir(d.path, 0o755) == 0 else {
        let why = errnoText()
        removeEmpty(made)
        throw FileError("cannot create output directory \(url.path): \(why)")
      }
      made.append(d)
    }
    return made
  }

  /// Removes the given directories, innermost first, where they are still empty.
  private static func removeEmpty(_ dirs: [URL]) {
    for d in dirs.reversed() { rmdir(d.path) }
  }
}

/// A single output file (`iloc render`, `iloc degrade`), checked before the work that makes
/// it: its folder exists and accepts new files, and the path is not a directory. The writers
/// themselves replace the file atomically (temporary file + rename).
public enum OutputFile {
  public static func checkWritable(_ url: URL) throws {
    let dir = url.deletingLastPathComponent()
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
      throw FileError("cannot write \(url.path): \(dir.path) is not an existing directory")
    }
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), isDir.boolValue {
      throw FileError("cannot write \(url.path): it is a directory")
    }
    let probe = dir.appendingPathComponent(".\(url.lastPathComponent).iloc-probe-\(getpid())")
    let fd = open(probe.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw FileError("cannot write \(url.path): \(errnoText())") }
    close(fd)
    unlink(probe.path)
  }
}

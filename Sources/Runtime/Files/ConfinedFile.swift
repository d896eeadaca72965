import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files that a manifest names, kept inside the manifest's folder: a name is a plain file
/// name (no `/`, not `.` or `..`), and the file is a regular file (not a link, a device such
/// as /dev/zero, a pipe or a folder) whose size is known before a byte of it is read. So a
/// hostile manifest can neither make iloc read outside its folder nor make it hash forever.
public enum ConfinedFile {
  /// Checks that `name` is a plain file name and `dir/name` a regular file; returns its URL
  /// and size. Errors are one line that starts with `name`.
  public static func check(_ name: String, in dir: URL) throws -> (url: URL, bytes: Int) {
    guard isPlainName(name) else {
      throw FileError("'\(name)' is not a plain file name inside the folder (no '/', '.' or '..')")
    }
    let url = dir.appendingPathComponent(name)
    var st = stat()
    guard lstat(url.path, &st) == 0 else { throw FileError("\(name) is missing") }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
      throw FileError("\(name) is not a regular file (a link, device, pipe or folder)")
    }
    return (url, Int(st.st_size))
  }

  /// Reads a whole regular file inside `dir` of at most `limit` bytes.
  public static func read(_ name: String, in dir: URL, limit: Int) throws -> Data {
    let (url, bytes) = try check(name, in: dir)
    return try readChecked(url, bytes: bytes, limit: limit, label: name)
  }

  /// Reads a whole small file a user named (links followed), refusing anything that is not
  /// a regular file of at most `limit` bytes.
  public static func readSmallFile(_ url: URL, limit: Int) throws -> Data {
    var st = stat()
    guard stat(url.path, &st) == 0 else { throw FileError("\(url.path): no such file") }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileError("\(url.path) is not a regular file") }
    return try readChecked(url, bytes: Int(st.st_size), limit: limit, label: url.path)
  }

  private static func readChecked(_ url: URL, bytes: Int, limit: Int, label: String) throws -> Data {
    guard bytes <= limit else { throw FileError("\(label) is \(bytes) bytes, more than the \(limit) expected") }
    let handle: FileHandle
    do { handle = try FileHandle(forReadingFrom: url) } catch { throw FileError("\(label) is not readable") }
    defer { try? handle.close() }
    do { return try handle.read(upToCount: limit + 1) ?? Data() } catch { throw FileError("\(label): read error") }
  }

  /// A name with no path in it.
  public static func isPlainName(_ name: String) -> Bool {
    !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\0")
  }
}

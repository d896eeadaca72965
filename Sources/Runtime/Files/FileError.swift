import Foundation

/// A user-facing problem with a file or directory iloc reads or writes (an output directory
/// that cannot be written, a path that leaves its folder, a bad key or signature). The
/// description is one line.
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
  public var message: String
  /// Creates an error; newlines in `message` are folded so the description stays one line.
  public init(_ message: String) { self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ") }
  public var description: String { message }
}

/// The text of the current `errno`, for messages such as "Permission denied".
func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

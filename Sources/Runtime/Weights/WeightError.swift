import Foundation

/// An error a user can cause by handing iloc a bad weight file: not a checkpoint, truncated,
/// corrupt, or holding a tensor of the wrong shape.
///
/// `description` is always one line, usually starting with the file name, e.g.
/// `weights.pt: truncated storage 'archive/data/3' (expected 4096 bytes, found 100)`.
public struct WeightError: Error, CustomStringConvertible, Equatable, Sendable {
  /// The one-line message.
  public var message: String

  /// Creates an error; newlines in `message` are folded so the description stays one line.
  public init(_ message: String) {
    self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ")
  }

  public var description: String { message }
}

/// Runs `body`, prefixing any error it throws with `context` (usually the file name), so that
/// low-level failures (pickle, zip, JSON) surface as one `WeightError` line that names the file.
func withErrorContext<T>(_ context: String, _ body: () throws -> T) throws -> T {
  do {
    return try body()
  } catch let error as WeightError {
    throw WeightError("\(context): \(error.message)")
  } catch {
    throw WeightError("\(context): \(error)")
  }
}

/// Throws a one-line error unless `url` is an existing, readable regular file.
func checkReadableFile(_ url: URL) throws {
  var isDirectory: ObjCBool = false
  guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
    throw WeightError("\(url.lastPathComponent): no such file (\(url.path))")
  }
  guard !isDirectory.boolValue, FileManager.default.isReadableFile(atPath: url.path) else {
    throw WeightError("\(url.lastPathComponent): not a readable file (\(url.path))")
  }
}

/// Formats a shape the way error messages print it: `[512, 3, 3]`, `[]` for a scalar.
func describeShape(_ shape: [Int]) -> String {
  "[" + shape.map(String.init).joined(separator: ", ") + "]"
}

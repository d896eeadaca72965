/// A problem with a batch manifest, a shard specification or a batch output directory. The
/// description is one line.
public struct BatchError: Error, CustomStringConvertible, Equatable, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ") }
  public var description: String { message }
}

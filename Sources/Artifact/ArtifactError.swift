/// A problem with an ahead-of-time artifact (missing, altered, built for another CPU,
/// unsigned): one line, printed as the command's error.
public struct ArtifactError: Error, CustomStringConvertible, Equatable, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ") }
  public var description: String { message }
}

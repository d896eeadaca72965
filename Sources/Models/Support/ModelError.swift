/// An error a user can cause by handing iloc a model that does not fit: a checkpoint of another
/// architecture, a missing or mis-shaped tensor, an impossible configuration.
/// `description` is always one line, e.g.
/// `weights.tar: not a StyleGAN2 generator: missing key 'style.1.weight'`.
public struct ModelError: Error, CustomStringConvertible, Equatable, Sendable {
  public var message: String
  /// Creates an error; newlines are folded so the description stays one line.
  public init(_ message: String) {
    self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ")
  }
  public var description: String { message }
}

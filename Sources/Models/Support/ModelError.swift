/// An error a user can cause by handing iloc a model that does not fit: a checkpoint of another
/// architecture, a missing or mis-shaped tensor, an impossible configuration.
/// `description` is always one line, e.g.
/// `weights.tar: not a StyleGAN2 generator: missing key 'style.1.weight'`.
public struct ModelError: Error, CustomStringConvertible, Equatable, Sendable {
  public var message: String
  /// True when the file is readable but holds another architecture (its marker key is absent),
  /// so a caller may try the next model type.
  public var isWrongArchitecture: Bool
  /// Creates an error; newlines are folded so the description stays one line.
  public init(_ message: String, wrongArchitecture: Bool = false) {
    self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    self.isWrongArchitecture = wrongArchitecture
  }
  public var description: String { message }
}

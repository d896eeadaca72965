/// A user-caused error (bad parameter, bad file, wrong shape) with a one-line description,
/// so the command-line tool can print it and exit non-zero instead of crashing.
public struct InversionError: Error, CustomStringConvertible, Equatable, Sendable {
  public var message: String
  public init(_ message: String) { self.message = message }
  public var description: String { message }
}

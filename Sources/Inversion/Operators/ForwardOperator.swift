import GraphIR

/// A task's forward operator A (spec §3): builds the differentiable IR of A(x) for a generated
/// image x of shape [B, 3, S, S] with values in [-1, 1]. Operators embed their data (masks,
/// kernels, index sets, matrices) as graph constants; stochastic ones declare named inputs
/// that the runtime feeds every step (`runtimeInputs`).
public protocol ForwardOperator: Sendable {
  /// The task name used on the command line and in operator files (e.g. "superres").
  var task: Task { get }
  /// A(x). Shape mismatches are recorded as the graph's error (one line), like any IR op.
  func apply(_ x: Tensor) -> Tensor
  /// The shape of A(x) for an input of shape `[batch, 3, size, size]`, or a one-line error.
  func outputShape(batch: Int, size: Int) throws -> Shape
  /// Names and shapes of the graph inputs `apply` declares (besides x), for the runtime to feed.
  func runtimeInputs(batch: Int, size: Int) -> [(name: String, shape: Shape)]
  /// The savable description (seed and parameters) that `OperatorRecord.makeOperator()`
  /// turns back into an identical operator.
  var record: OperatorRecord { get }
}

extension ForwardOperator {
  public func runtimeInputs(batch: Int, size: Int) -> [(name: String, shape: Shape)] { [] }
}

/// The tasks of spec §3.
public enum Task: String, Codable, Sendable, CaseIterable {
  case inpaint, superres, denoise, csCirculant = "cs-circulant", csGaussian = "cs-gaussian", colorize
}

/// Checks that x is `[B, 3, S, S]`, recording a graph error otherwise; returns (B, S).
func imageDims(_ x: Tensor, _ op: String) -> (batch: Int, size: Int)? {
  let s = x.shape
  guard x.graph.error == nil else { return nil }
  guard s.count == 4, s[1] == 3, s[2] == s[3] else {
    _ = x.graph.fail(GraphError(op: op, message: "expects an image [B, 3, S, S], got \(s.shapeText)"))
    return nil
  }
  return (s[0], s[2])
}

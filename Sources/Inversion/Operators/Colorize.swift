import GraphIR

/// Colorization (spec §3, SGILO's operator): the luma `0.2989 R + 0.5870 G + 0.1140 B`,
/// repeated on all three channels, applied to x in [-1, 1] directly.
public struct Colorizer: ForwardOperator, Equatable {
  public static let weights: [Float] = [0.2989, 0.5870, 0.1140]
  public var task: Task { .colorize }
  public init() {}

  public func outputShape(batch: Int, size: Int) throws -> Shape { [batch, 3, size, size] }

  public func apply(_ x: Tensor) -> Tensor {
    guard imageDims(x, "colorize") != nil else { return x.graph.fail(x.graph.error!) }
    let gray = sum(x * x.graph.constant(Self.weights, [1, 3, 1, 1]), axes: [1], keepDims: true)
    return broadcast(gray, to: x.shape)
  }
}

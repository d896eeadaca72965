import GraphIR

/// How each node of a graph is executed, decided before any code is generated.
///
/// Every node is either *materialized* (it gets a buffer and is computed by one step) or
/// *inlined* (recomputed inside each step that reads it). Steps run in graph order. Every
/// decision carries a reason, so "why wasn't this fused?" always has an answer
/// (`FusionPlan.explain`).
public struct FusionPlan: Sendable {
  /// How a materialized node is computed.
  public enum StepKind: String, Sendable {
    /// A generated loop nest (elementwise, movement and reduction work, fused).
    case kernel
    /// A GEMM-shaped library call (OpenBLAS): matmul and the convolution family.
    case library
    /// Executed by the reference interpreter's implementation (rare ops: DFT, gather/scatter,
    /// max-pool gradient, sin/cos).
    case builtin
    /// A graph input: bound by the caller, no work.
    case input
    /// A non-splat constant: filled once when the program is built.
    case constant
  }

  /// One materialized value and how it is produced.
  public struct Step: Sendable {
    public var node: Int
    public var kind: StepKind
    /// Nodes computed inline inside this step (its fused producers), in graph order.
    public var fused: [Int]
    /// Materialized nodes the step reads.
    public var reads: [Int]
    /// Why this node has its own buffer.
    public var reason: String
  }

  /// A fusion decision between a producer and one of its consumers.
  public struct Decision: Sendable, CustomStringConvertible {
    public var producer: Int
    public var consumer: Int
    public var fused: Bool
    public var reason: String
    public var description: String {
      "%\(producer) -> %\(consumer): " + (fused ? "fused" : "not fused") + ": " + reason
    }
  }

  public var steps: [Step]
  public var decisions: [Decision]
  /// Materialization flag per node.
  public var materialized: [Bool]

  /// Why node `id` is (or is not) computed in its own step, and how it meets its consumers.
  public func explain(_ id: Int) -> [String] {
    var lines: [String] = []
    if let s = steps.first(where: { $0.node == id }) {
      lines.append("%\(id) is materialized (\(s.kind.rawValue)): \(s.reason)")
    } else {
      lines.append("%\(id) is inlined into its consumers")
    }
    lines += decisions.filter { $0.producer == id }.map(\.description)
    return lines
  }
}

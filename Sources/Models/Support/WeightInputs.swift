import GraphIR
import RealModule
import Runtime

/// The weights of a model, declared as named graph inputs while the model is built.
///
/// Every weight is a graph input named `prefix + key`, where `key` is the tensor's name in the
/// model's PyTorch state dict (e.g. `conv1.conv.weight`) and the input's shape is the
/// checkpoint's shape (e.g. `[1, 512, 512, 3, 3]`), so a runtime binds weights by name with no
/// translation table. Declaring the same key twice returns the same input. Weights stay inputs
/// (not constants) so one compiled graph serves any checkpoint of the same configuration; an
/// engine may still fold them once bound.
public final class WeightInputs {
  public let graph: Graph
  /// Prepended to every key to form the graph input name (empty by default).
  public let prefix: String
  /// Checkpoint key -> shape of every weight declared so far.
  public private(set) var shapes: [String: Shape] = [:]

  public init(graph: Graph, prefix: String = "") {
    self.graph = graph
    self.prefix = prefix
  }

  /// The input for weight `key` of `shape`, declared on first use.
  public func callAsFunction(_ key: String, _ shape: Shape) -> Tensor {
    if let known = shapes[key] {
      guard known == shape, let t = graph.input(named: prefix + key) else {
        return graph.fail(GraphError(op: "weight", message: "'\(key)' declared as \(known.shapeText) and \(shape.shapeText)"))
      }
      return t
    }
    shapes[key] = shape
    return graph.input(prefix + key, shape)
  }

  /// Graph input names of the weights, sorted.
  public var inputNames: [String] { shapes.keys.sorted().map { prefix + $0 } }

  /// Whether `name` (a graph input name) is one of these weights.
  public func isWeight(inputName name: String) -> Bool {
    name.hasPrefix(prefix) && shapes[String(name.dropFirst(prefix.count))] != nil
  }

  /// The values of every declared weight taken from `stateDict`, keyed by graph input name.
  /// Throws one line naming the file and the first (sorted) missing or mis-shaped key.
  public func bind(_ stateDict: StateDict) throws -> [String: HostTensor<Float>] {
    var out: [String: HostTensor<Float>] = [:]
    for key in shapes.keys.sorted() {
      let t = try stateDict.require(key, shape: shapes[key]!)
      guard t.values.count == t.shape.elementCount else {
        throw ModelError("\(stateDict.source): tensor '\(key)' holds \(t.values.count) values for shape \(t.shape.shapeText)")
      }
      out[prefix + key] = HostTensor(shape: t.shape, values: t.values)
    }
    return out
  }
}

/// A model graph with its weight declarations: what a runtime needs to bind and run it.
/// Models only build graphs; running them (interpreter or compiled engine) is separate.
public struct ModelGraph {
  public let graph: Graph
  public let weights: WeightInputs
  /// Names of the non-weight inputs (latents, noises, states, images), in declaration order.
  public var dataInputs: [String] { graph.inputs.map(\.name).filter { !weights.isWeight(inputName: $0) } }
  /// The weight values from `stateDict`, keyed by graph input name.
  public func bind(_ stateDict: StateDict) throws -> [String: HostTensor<Float>] { try weights.bind(stateDict) }
}

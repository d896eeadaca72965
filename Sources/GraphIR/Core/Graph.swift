/// A static SSA graph of tensor operations on f32 values.
///
/// Nodes are appended in topological order (a node's inputs always have smaller ids), so the
/// node array *is* a schedule. Shapes are inferred and checked when a node is added; the first
/// failure is recorded in `error` (one line naming the op and the shapes) and every later node
/// that depends on a failed one is silently poisoned, so builder code needs no `try`. Every
/// consumer of a graph (interpreter, autodiff, passes, compiler) calls `check()` first.
public final class Graph: @unchecked Sendable {
  /// A node: an op applied to earlier nodes, with its inferred shape.
  public struct Node: Hashable, Sendable {
    public var op: Op
    public var inputs: [Int]
    public var shape: Shape
  }

  public var name: String
  public private(set) var nodes: [Node] = []
  /// Named results of the graph, in order.
  public var outputs: [(name: String, id: Int)] = []
  /// The first shape or construction error, if any.
  public private(set) var error: GraphError?
  private var poisoned: Set<Int> = []

  public init(_ name: String = "graph") { self.name = name }

  /// A copy with the same nodes, ids and outputs (its own builder state).
  public func copy(name: String? = nil) -> Graph {
    let g = Graph(name ?? self.name)
    g.nodes = nodes; g.outputs = outputs; g.error = error; g.poisoned = poisoned
    return g
  }

  /// Throws the first construction error, if any.
  public func check() throws { if let error { throw error } }

  /// Appends `op` applied to `inputs` and returns the new value. Shape rules run here.
  @discardableResult
  public func add(_ op: Op, _ inputs: [Tensor]) -> Tensor {
    let ids = inputs.map { v -> Int in
      precondition(v.graph === self, "a value of graph '\(v.graph.name)' was used in graph '\(name)'")
      return v.id
    }
    return Tensor(graph: self, id: addNode(op, ids))
  }

  /// Low-level form of `add` on node ids (used by passes that rebuild graphs).
  public func addNode(_ op: Op, _ inputs: [Int]) -> Int {
    let id = nodes.count
    if inputs.contains(where: { poisoned.contains($0) }) {
      poisoned.insert(id)
      nodes.append(Node(op: op, inputs: inputs, shape: []))
      return id
    }
    do {
      let shape = try op.inferShape(inputs.map { nodes[$0].shape })
      nodes.append(Node(op: op, inputs: inputs, shape: shape))
    } catch let e as GraphError {
      record(e)
      poisoned.insert(id)
      nodes.append(Node(op: op, inputs: inputs, shape: []))
    } catch {
      record(GraphError(op: op.name, message: "\(error)"))
      poisoned.insert(id)
      nodes.append(Node(op: op, inputs: inputs, shape: []))
    }
    return id
  }

  private func record(_ e: GraphError) { if error == nil { error = e } }

  /// Records an error found by a builder function before it could add a node.
  public func fail(_ e: GraphError) -> Tensor {
    record(e)
    let id = nodes.count
    poisoned.insert(id)
    nodes.append(Node(op: .constant(Constant(shape: [], values: [0])), inputs: [], shape: []))
    return Tensor(graph: self, id: id)
  }

  /// Declares a named runtime input (data or parameter).
  public func input(_ name: String, _ shape: Shape) -> Tensor {
    if nodes.contains(where: { if case .input(let n, _) = $0.op { return n == name }; return false }) {
      return fail(GraphError(op: "input", message: "duplicate input name '\(name)'"))
    }
    if shape.contains(where: { $0 <= 0 }) {
      return fail(GraphError(op: "input", message: "'\(name)' has a non-positive dimension in \(shape.shapeText)"))
    }
    return add(.input(name, shape: shape), [])
  }

  /// A constant tensor. `values.count` must equal the shape's element count.
  public func constant(_ values: [Float], _ shape: Shape) -> Tensor {
    if values.count != shape.elementCount {
      return fail(GraphError(op: "constant", message: "\(values.count) values for shape \(shape.shapeText)"))
    }
    return add(.constant(Constant(shape: shape, values: values)), [])
  }

  /// A scalar constant (shape `[]`).
  public func scalar(_ v: Float) -> Tensor { constant([v], []) }

  /// Marks `value` as a named output.
  public func output(_ name: String, _ value: Tensor) {
    precondition(value.graph === self)
    outputs.append((name, value.id))
  }

  /// The value of node `id`.
  public func value(_ id: Int) -> Tensor { Tensor(graph: self, id: id) }

  /// The input nodes, by name, in declaration order.
  public var inputs: [(name: String, id: Int)] {
    nodes.indices.compactMap { i in if case .input(let n, _) = nodes[i].op { return (n, i) } else { return nil } }
  }

  /// Looks up an input by name.
  public func input(named name: String) -> Tensor? {
    inputs.first { $0.name == name }.map { value($0.id) }
  }

  /// Looks up an output by name.
  public func output(named name: String) -> Tensor? {
    outputs.first { $0.name == name }.map { value($0.id) }
  }

  /// Op histogram, e.g. `["conv2d": 3, "add": 10]`.
  public var opCounts: [String: Int] {
    var c: [String: Int] = [:]
    for n in nodes { c[n.op.name, default: 0] += 1 }
    return c
  }
}

/// A handle to one value (node) of a graph. The builder DSL is defined on this type.
public struct Tensor: Hashable, @unchecked Sendable {
  public let graph: Graph
  public let id: Int
  public init(graph: Graph, id: Int) { self.graph = graph; self.id = id }
  public var shape: Shape { graph.nodes[id].shape }
  public var rank: Int { shape.count }
  public var op: Op { graph.nodes[id].op }
  /// The name of the graph input this value is, if it is one.
  public var inputName: String? { if case .input(let n, _) = op { n } else { nil } }
  public static func == (a: Tensor, b: Tensor) -> Bool { a.graph === b.graph && a.id == b.id }
  public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(graph)); h.combine(id) }
}

/// A construction error: one line naming the op and the shapes involved.
public struct GraphError: Error, CustomStringConvertible, Equatable, Sendable {
  public var op: String
  public var message: String
  public init(op: String, message: String) { self.op = op; self.message = message }
  public var description: String { "\(op): \(message)" }
}

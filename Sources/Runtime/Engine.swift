import Foundation
import GraphIR

/// Which engine executes a graph: the compiled program or the reference interpreter.
public enum Engine: String, CaseIterable, Sendable {
  case jit, interp
}

/// What `iloc` needs from either engine: bind inputs by name, run, read outputs.
public protocol Executable: AnyObject {
  var graph: Graph { get }
  func setInput(_ name: String, _ values: [Float]) throws
  func run() throws
  func output(_ name: String) throws -> HostTensor<Float>
}

extension Program: Executable {}

/// The reference interpreter behind the `Executable` interface (Float).
public final class InterpretedProgram: Executable {
  public let graph: Graph
  var inputs: [String: HostTensor<Float>] = [:]
  var results: [String: HostTensor<Float>] = [:]
  public init(_ graph: Graph) throws {
    try graph.check()
    self.graph = graph
  }
  public func setInput(_ name: String, _ values: [Float]) throws {
    guard let v = graph.input(named: name) else { throw GraphError(op: "run", message: "graph '\(graph.name)' has no input '\(name)'") }
    guard values.count == v.shape.elementCount else {
      throw GraphError(op: "run", message: "input '\(name)' has \(values.count) values, expected \(v.shape.elementCount) \(v.shape.shapeText)")
    }
    inputs[name] = HostTensor(shape: v.shape, values: values)
  }
  public func run() throws { results = try Interpreter.run(graph, inputs: inputs) }
  public func output(_ name: String) throws -> HostTensor<Float> {
    guard let r = results[name] else { throw GraphError(op: "run", message: "no output '\(name)' (not run yet, or not an output)") }
    return r
  }
}

/// Builds an executable of `graph` on `engine`.
public func makeExecutable(_ graph: Graph, engine: Engine, options: ProgramOptions = ProgramOptions()) throws -> Executable {
  switch engine {
  case .jit: return try Program(graph, options: options)
  case .interp: return try InterpretedProgram(graph)
  }
}

/// Measures this machine's OpenBLAS sgemm throughput right now (best of a few 1024^3 runs),
/// the yardstick for "fraction of peak" figures. Compare only with figures from the same run.
public enum SgemmPeak {
  public static func measure(size n: Int = 1024, repeats: Int = 5) -> Double {
    _ = Parallel.threads
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    var best = 0.0
    for _ in 0..<repeats {
      let t0 = DispatchTime.now().uptimeNanoseconds
      a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in c.withUnsafeMutableBufferPointer { pc in
        BLAS.sgemm(m: n, n: n, k: n, a: pa.baseAddress!, b: pb.baseAddress!, c: pc.baseAddress!)
      } } }
      let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
      best = Swift.max(best, 2 * Double(n * n * n) / dt / 1e9)
    }
    return best
  }
}

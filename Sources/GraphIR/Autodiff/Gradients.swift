/// Symbolic reverse-mode automatic differentiation.
///
/// The backward graph is built from the per-op VJP rules, in IR ops, and appended to the
/// graph: it is an ordinary graph that passes and the compiler treat like any other. Only
/// nodes that both depend on a `wrt` value and feed the loss get adjoints, so parameters and
/// inputs that are not asked for cost no gradient work.

/// Appends the backward graph to `loss.graph` and returns d(loss)/d(each `wrt`).
///
/// `loss` must have one element unless `seed` (the incoming gradient, loss-shaped) is given.
/// A `wrt` value that does not influence the loss gets a zero gradient.
public func appendGradients(of loss: Tensor, wrt: [Tensor], seed: Tensor? = nil) throws -> [Tensor] {
  let g = loss.graph
  try g.check()
  if seed == nil && loss.shape.elementCount != 1 {
    throw GraphError(op: "gradients", message: "the loss must have one element, got \(loss.shape.shapeText); pass a seed")
  }
  let nodes = g.nodes
  // Forward reachability from the wrt values, backward reachability from the loss.
  var fromWrt = [Bool](repeating: false, count: loss.id + 1)
  for w in wrt where w.id <= loss.id { fromWrt[w.id] = true }
  for i in 0...loss.id where !fromWrt[i] { fromWrt[i] = nodes[i].inputs.contains { fromWrt[$0] } }
  var toLoss = [Bool](repeating: false, count: loss.id + 1)
  toLoss[loss.id] = true
  for i in stride(from: loss.id, through: 0, by: -1) where toLoss[i] { for j in nodes[i].inputs { toLoss[j] = true } }

  var adjoint: [Int: Tensor] = [loss.id: seed ?? full(like: loss, 1)]
  for i in stride(from: loss.id, through: 0, by: -1) {
    guard fromWrt[i], toLoss[i], let gy = adjoint[i] else { continue }
    let node = nodes[i]
    if node.inputs.isEmpty { continue }
    let xs = node.inputs.map { g.value($0) }
    guard let grads = node.op.vjp(xs, g.value(i), gy) else {
      throw GraphError(op: node.op.name, message: "has no VJP rule (it is backward-only)")
    }
    for (j, gx) in zip(node.inputs, grads) {
      guard let gx, fromWrt[j] else { continue }
      adjoint[j] = adjoint[j].map { $0 + gx } ?? gx
    }
  }
  try g.check()
  return wrt.map { adjoint[$0.id] ?? zerosLike($0) }
}

/// A new graph computing the original outputs, the loss, and the gradients of the loss with
/// respect to `wrt`, cleaned by dead-code elimination. Gradient outputs are named
/// `grad:<input name>` (or `grad:%<id>` for intermediate values); the loss is output `loss`.
public func gradients(of loss: Tensor, wrt: [Tensor]) throws -> Graph {
  try loss.graph.check()
  let g = loss.graph.copy(name: loss.graph.name + ".grad")
  let grads = try appendGradients(of: g.value(loss.id), wrt: wrt.map { g.value($0.id) })
  if !g.outputs.contains(where: { $0.name == "loss" }) { g.output("loss", g.value(loss.id)) }
  for (w, d) in zip(wrt, grads) {
    if case .input(let name, _) = w.op { g.output("grad:" + name, d) } else { g.output("grad:%\(w.id)", d) }
  }
  return DeadCodeElimination().run(g)
}

/// `graph` with the gradients of its output `loss` w.r.t. its inputs `wrt` added as outputs
/// `grad:<name>`, optimized for differentiation: the forward graph first goes through
/// `forwardPasses` (by default `PassPipeline.forward`, whose rewrites, such as moving
/// StyleGAN2's per-sample weight scales onto activations, make the backward graph cheaper),
/// then the backward graph is appended and dead code removed. What a compiler differentiates;
/// `gradients(of:wrt:)` differentiates the graph exactly as written.
public func differentiate(_ graph: Graph, loss: String, wrt: [String],
                          forwardPasses: PassPipeline = .forward) throws -> Graph {
  try graph.check()
  guard graph.output(named: loss) != nil else {
    throw GraphError(op: "gradients", message: "the graph has no output '\(loss)'")
  }
  for name in wrt where graph.input(named: name) == nil {
    throw GraphError(op: "gradients", message: "the graph has no input '\(name)'")
  }
  let (forward, _) = try forwardPasses.run(graph)
  forward.name = graph.name + ".grad"
  let grads = try appendGradients(of: forward.output(named: loss)!, wrt: wrt.map { forward.input(named: $0)! })
  for (name, d) in zip(wrt, grads) { forward.output("grad:" + name, d) }
  return DeadCodeElimination().run(forward)
}

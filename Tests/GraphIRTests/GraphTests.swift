import Testing
@testable import GraphIR

@Suite struct ShapeErrorTests {
  @Test func convChannelMismatchIsOneLineNamingOpAndShapes() {
    let g = Graph()
    let x = g.input("x", [1, 3, 8, 8]), w = g.input("w", [4, 2, 3, 3])
    let y = leakyRelu(conv2d(x, w, padding: 1), slope: 0.2) * 2  // later ops on a failed node stay silent
    g.output("y", y)
    #expect(throws: GraphError.self) { try g.check() }
    let text = "\(g.error!)"
    #expect(!text.contains("\n"))
    #expect(text.hasPrefix("conv2d:"))
    #expect(text.contains("[1, 3, 8, 8]") && text.contains("[4, 2, 3, 3]"))
  }

  @Test func broadcastMismatch() {
    let g = Graph()
    _ = g.input("a", [2, 3]) + g.input("b", [4, 3])
    #expect("\(g.error!)" == "add: cannot broadcast [2, 3] with [4, 3]")
  }

  @Test func matmulAndReshape() {
    let g = Graph()
    _ = matmul(g.input("a", [2, 3]), g.input("b", [4, 5]))
    #expect("\(g.error!)" == "matmul: cannot multiply [2, 3] by [4, 5]")
    let h = Graph()
    _ = reshape(h.input("a", [2, 3]), [4, 2])
    #expect("\(h.error!)" == "reshape: cannot reshape to [4, 2] (input [2, 3])")
  }

  @Test func interpreterRejectsWrongInputShape() throws {
    let g = Graph()
    g.output("y", exp(g.input("x", [2, 2])))
    #expect(throws: GraphError(op: "run", message: "input 'x' has shape [3], expected [2, 2]")) {
      try Interpreter.run(g, inputs: ["x": HostTensor<Float>(shape: [3], values: [1, 2, 3])])
    }
    #expect(throws: GraphError(op: "run", message: "missing input 'x' [2, 2]")) {
      try Interpreter.run(g, inputs: [String: HostTensor<Float>]())
    }
  }
}

@Suite struct AutodiffStructureTests {
  @Test func unusedInputsGetNoGradientWork() throws {
    let g = Graph()
    let x = g.input("x", [1, 2, 4, 4]), w = g.input("w", [3, 2, 3, 3])
    let loss = sum(square(conv2d(x, w, padding: 1)))
    let gx = try gradients(of: loss, wrt: [x])
    #expect(gx.opCounts["conv_transpose2d"] == 1)
    #expect(gx.opCounts["conv2d_weight_grad"] == nil)  // w was not asked for
    let gw = try gradients(of: loss, wrt: [w])
    #expect(gw.opCounts["conv2d_weight_grad"] == 1)
    #expect(gw.opCounts["conv_transpose2d"] == nil)
  }

  @Test func independentValueGetsZeroGradient() throws {
    let g = Graph()
    let x = g.input("x", [3]), z = g.input("z", [2])
    let gg = try gradients(of: sum(exp(x)), wrt: [z])
    let out = try Interpreter.run(gg, inputs: ["x": HostTensor<Float>(shape: [3], values: [0, 1, 2]), "z": HostTensor(shape: [2], values: [5, 6])])
    #expect(out["grad:z"]!.values == [0, 0])
  }

  @Test func nonScalarLossNeedsSeed() {
    let g = Graph()
    let x = g.input("x", [3])
    #expect(throws: GraphError.self) { try appendGradients(of: exp(x), wrt: [x]) }
  }

  @Test func backwardOnlyOpHasNoVJP() throws {
    let g = Graph()
    let x = g.input("x", [1, 1, 4, 4])
    let y = maxPool2d(x, kernel: 2)
    let (gx,) = (try appendGradients(of: sum(y), wrt: [x])[0],)
    #expect(throws: GraphError.self) { try appendGradients(of: sum(gx * gx), wrt: [x]) }
  }

  @Test func secondOrderThroughLinearBackwardOps() throws {
    // d/dx of |d/dx sum(conv(x, w)^2)|^2 exists: conv's VJP ops are themselves differentiable.
    let g = Graph()
    let x = g.input("x", [1, 1, 4, 4]), w = g.input("w", [1, 1, 3, 3])
    let gx = try appendGradients(of: sum(square(conv2d(x, w, padding: 1))), wrt: [x])[0]
    let ggx = try appendGradients(of: sum(square(gx)), wrt: [w])[0]
    #expect(ggx.shape == [1, 1, 3, 3])
  }
}

@Suite struct TextTests {
  @Test func printsOneLinePerNode() {
    let g = Graph("t")
    let x = g.input("x", [1, 2, 4, 4])
    g.output("y", leakyRelu(x, slope: 0.2))
    let text = "\(g)"
    #expect(text.contains("%0 = input \"x\" : [1, 2, 4, 4]"))
    #expect(text.contains("%1 = leaky_relu(%0) slope=0.2 : [1, 2, 4, 4]"))
    #expect(text.hasSuffix("outputs: y = %1"))
  }

  @Test func verifierAcceptsBuiltGraphsAndGradients() throws {
    let g = Graph()
    let x = g.input("x", [2, 3])
    let loss = sum(tanh(matmul(x, transpose(x, [1, 0]))))
    g.output("loss", loss)
    try Verifier.verify(g)
    try Verifier.verify(try gradients(of: loss, wrt: [x]))
  }
}

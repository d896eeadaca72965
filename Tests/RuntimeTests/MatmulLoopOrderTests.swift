import Codegen
import Foundation
import GraphIR
import Testing
@testable import Runtime

/// A directly generated product's loop order follows where its B operand's loads go once fused
/// views are read through (`KernelLowering.readsRowsOfB`): k innermost (dot products) when B is
/// read by columns, j innermost (row updates) when by rows; the values agree with the
/// interpreter either way.
@Suite struct MatmulLoopOrderTests {
  static let views: [(String, (Tensor) -> Tensor, String)] = [
    ("rows", { $0 }, "j"),
    ("columns", { swapLastAxes($0) }, "k"),
    // W^T as StyleGAN2's demodulation product reads it: a transpose behind reshapes
    ("columns behind reshapes", { transposedBehindReshapes($0) }, "k"),
    // and its gradient's: a last-axes swap of that view (rows again)
    ("rows through two transposes", { swapLastAxes(transposedBehindReshapes($0)) }, "j"),
  ]

  // (64 products an output: more than the direct form unrolls, so its k loop stays a loop)

  /// `w^T` for a 64 x 64 `w`, spelled as a transpose of a reshaped view, reshaped back.
  static func transposedBehindReshapes(_ w: Tensor) -> Tensor {
    reshape(transpose(reshape(w, [1, 64, 64, 1]), [2, 1, 0, 3]), [64, 64])
  }

  /// The variable of the deepest loop of `l` (depth first, last loop at each level).
  static func innermost(_ l: Loop) -> String {
    for case .loop(let inner) in l.body.reversed() { return innermost(inner) }
    return l.variable
  }

  @Test(arguments: 0..<4) func loopOrderFollowsTheLoadsOfB(_ c: Int) throws {
    let (name, view, inner) = Self.views[c]
    let g = Graph("mm")
    let a = g.input("a", [1, 64]), w = g.input("w", [64, 64])
    g.output("y", matmul(a, view(square(w))))
    let p = try Program(g)
    let kernels = p.steps.compactMap { $0 as? KernelStep }.filter { $0.kernel.name.contains("matmul") }
    #expect(kernels.count == 1, "\(name): \(p.steps.map(\.label))")
    #expect(kernels.map { Self.innermost($0.kernel.parallel) } == [inner], "\(name)")
    let feed = ProgramTests.feed(g, seed: 3)
    let ref = try Interpreter.run(g, inputs: feed.mapValues { $0.converted(to: Double.self) })
    let y = try p.run(inputs: feed)["y"]!
    #expect(y.converted(to: Double.self).maxRelativeDifference(to: ref["y"]!) < 1e-5)
  }
}

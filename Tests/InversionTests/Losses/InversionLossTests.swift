import Foundation
import GraphIR
import Testing
@testable import Inversion

@Suite struct InversionLossTests {
  /// Builds the loss on small inputs and returns every output, evaluated in Double.
  static func evaluate(_ w: LossWeights, lpips: Bool = true) throws -> (Graph, [String: HostTensor<Double>], [String: HostTensor<Double>]) {
    let g = Graph("loss")
    let p = g.input("p", [2, 3]), y = g.input("y", [2, 3]), z = g.input("z", [1, 3, 4])
    _ = try buildInversionLoss(prediction: p, observation: y, latents: z, weights: w, perceptual: lpips ? { mean(square(p)) } : nil)
    let feed = ["p": GraphHarness.random([2, 3], seed: 1), "y": GraphHarness.random([2, 3], seed: 2), "z": GraphHarness.random([1, 3, 4], seed: 3)]
    return (g, feed, try Interpreter.run(g, inputs: feed))
  }

  @Test func termsAndWeightedTotal() throws {
    let w = LossWeights(mse: 2, perceptual: 0.5, geoCross: 0.01, deadZone: 3, deadZoneAlpha: 0.2)
    let (_, feed, out) = try Self.evaluate(w)
    let p = feed["p"]!.values, y = feed["y"]!.values
    let mse = zip(p, y).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / 6
    let dz = zip(p, y).map { Swift.max(0, Swift.abs($0 - $1) - Double(Float(0.2))) }.reduce(0, +) / 6
    let pe = p.map { $0 * $0 }.reduce(0, +) / 6
    // GeoCross closed form on the 3 rows of z (D = 4), with 1e-9 inside each norm.
    let z = feed["z"]!.values
    var geo = 0.0
    for i in 0..<3 {
      for j in 0..<3 {
        var a = 1e-9, b = 1e-9
        for k in 0..<4 { a += (z[i * 4 + k] - z[j * 4 + k]) * (z[i * 4 + k] - z[j * 4 + k]); b += (z[i * 4 + k] + z[j * 4 + k]) * (z[i * 4 + k] + z[j * 4 + k]) }
        let d = 2 * Foundation.atan2(a.squareRoot(), b.squareRoot())
        geo += 4 * d * d / 8
      }
    }
    geo /= 9
    #expect(Swift.abs(out["loss.mse"]!.values[0] - mse) < 1e-12)
    #expect(Swift.abs(out["loss.deadzone"]!.values[0] - dz) < 1e-12)
    #expect(Swift.abs(out["loss.lpips"]!.values[0] - pe) < 1e-12)
    #expect(Swift.abs(out["loss.geocross"]!.values[0] - geo) < 1e-9)
    let total = 2 * mse + 0.5 * pe + Double(Float(0.01)) * geo + 3 * dz
    #expect(Swift.abs(out["loss"]!.values[0] - total) < 1e-9)
  }

  @Test func zeroWeightsAreNotBuilt() throws {
    let (g, _, out) = try Self.evaluate(LossWeights(mse: 1, perceptual: 0, geoCross: 0, deadZone: 0), lpips: false)
    #expect(Set(g.outputs.map(\.name)) == ["loss", "loss.mse"])
    #expect(out["loss"]!.values[0] == out["loss.mse"]!.values[0])
  }

  @Test func userErrors() throws {
    let g = Graph()
    let p = g.input("p", [2, 3]), y = g.input("y", [3, 2]), z = g.input("z", [6])
    #expect(throws: InversionError.self) { try buildInversionLoss(prediction: p, observation: y, latents: nil, weights: LossWeights(perceptual: 0)) }
    #expect(throws: InversionError.self) { try buildInversionLoss(prediction: p, observation: p, latents: nil, weights: LossWeights(perceptual: 1)) }
    #expect(throws: InversionError.self) { try buildInversionLoss(prediction: p, observation: p, latents: nil, weights: LossWeights(mse: -1, perceptual: 0)) }
    #expect(throws: InversionError.self) { try buildInversionLoss(prediction: p, observation: p, latents: z, weights: LossWeights(perceptual: 0)) }
    #expect(throws: InversionError.self) {
      try buildInversionLoss(prediction: p, observation: p, latents: nil, weights: LossWeights(mse: 0, perceptual: 0, geoCross: 0, deadZone: 0))
    }
  }

  @Test func gradientOfTheTotal() throws {
    // d loss / d p through MSE, the LPIPS closure and the dead zone (residuals away from α).
    let y = HostTensor<Double>(shape: [2, 3], values: [0.9, -0.8, 0.05, 0.7, -0.6, 0.5])
    let w = LossWeights(mse: 1.5, perceptual: 0.3, geoCross: 0, deadZone: 2, deadZoneAlpha: 0.1)
    let err = try GraphHarness.gradientError([2, 3], seed: 4, extra: ["y": y]) { p in
      let t = try! buildInversionLoss(prediction: p, observation: p.graph.input("y", [2, 3]), latents: nil, weights: w, perceptual: { mean(p * p * p) })
      return t.total
    }
    #expect(err < 1e-6)
  }
}

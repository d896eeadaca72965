import GraphIR
import Testing
@testable import Inversion

@Suite struct DenoiseTests {
  @Test func addsSigmaTimesTheFedNoise() throws {
    let op = try NoiseAddition(sigma: 0.2, seed: 9)
    #expect(op.runtimeInputs(batch: 2, size: 3).map(\.name) == [NoiseAddition.inputName])
    let x = GraphHarness.random([2, 3, 3, 3], seed: 1)
    var n = [Float](repeating: 0, count: x.count)
    op.fill(&n, step: 7)
    let y = try GraphHarness.apply(op, x, extra: [NoiseAddition.inputName: HostTensor(shape: x.shape, values: n.map(Double.init))])
    for i in 0..<x.count { #expect(Swift.abs(y.values[i] - (x.values[i] + Double(Float(0.2)) * Double(n[i]))) < 1e-12) }
  }

  @Test func identityWhenSigmaIsZero() throws {
    let g = Graph()
    let x = g.input("x", [1, 3, 2, 2])
    #expect(NoiseAddition.identity.apply(x) == x)
    #expect(NoiseAddition.identity.runtimeInputs(batch: 1, size: 2).isEmpty)
    #expect(throws: InversionError.self) { try NoiseAddition(sigma: -1, seed: 0) }
  }

  @Test func noiseDependsOnlyOnSeedAndStep() throws {
    let op = try NoiseAddition(sigma: 0.1, seed: 3)
    var a = [Float](repeating: 0, count: 1001), b = a, c = a, d = a
    op.fill(&a, step: 5); op.fill(&c, step: 6)
    try NoiseAddition(sigma: 0.5, seed: 3).fill(&b, step: 5)  // σ does not change the draws
    try NoiseAddition(sigma: 0.1, seed: 4).fill(&d, step: 5)
    #expect(a == b && a != c && a != d)
    // The documented formula: Box–Muller pairs of sub-stream t.
    var rng = SeededStreams.generator(3, 5)
    let u1 = rng.uniform(), u2 = rng.uniform()
    let r = (-2 * Foundation.log(u1)).squareRoot()
    #expect(a[0] == Float(r * Foundation.cos(2 * .pi * u2)) && a[1] == Float(r * Foundation.sin(2 * .pi * u2)))
  }

  @Test func noiseIsStandardNormal() throws {
    let op = try NoiseAddition(sigma: 1, seed: 11)
    var v = [Float](repeating: 0, count: 200_000)
    op.fill(&v, step: 0)
    let n = Double(v.count)
    let mean = v.reduce(0.0) { $0 + Double($1) } / n
    let variance = v.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / n
    let tail = Double(v.filter { Swift.abs($0) > 1.959964 }.count) / n
    #expect(Swift.abs(mean) < 0.012)  // sd 0.0022
    #expect(Swift.abs(variance - 1) < 0.016)  // sd 0.0032
    #expect(Swift.abs(tail - 0.05) < 0.0025)  // sd 0.0005
  }

  @Test func gradient() throws {
    let op = try NoiseAddition(sigma: 0.3, seed: 1)
    let noise = GraphHarness.random([1, 3, 2, 2], seed: 8)
    #expect(try GraphHarness.gradientError([1, 3, 2, 2], extra: [NoiseAddition.inputName: noise]) { op.apply($0) } < 1e-7)
  }
}

import Foundation

import Testing
@testable import Inversion

@Suite struct HoldoutTests {
  @Test func holdsOutWholePixelsOfObservedMeasurementsOnly() throws {
    let mask = try InpaintMask(keepProbability: 0.5, seed: 3, height: 16, width: 16)
    let h = try Holdout(observationShape: [1, 3, 16, 16], fraction: 0.2, seed: 9, observed: mask.values)
    let plane = 256
    let pixels = Set(h.heldOut.map { $0 % plane })
    #expect(h.heldOut.count == 3 * pixels.count)  // all three channels of each held-out pixel
    #expect(pixels.allSatisfy { mask.values[$0] == 1 })  // never a hole
    let observed = mask.values.filter { $0 == 1 }.count
    #expect(Double(pixels.count) > 0.1 * Double(observed) && Double(pixels.count) < 0.3 * Double(observed))
    // the same seed gives the same split; the loss weights average to 1 over the training part
    #expect(try Holdout(observationShape: [1, 3, 16, 16], fraction: 0.2, seed: 9, observed: mask.values) == h)
    let w = h.lossWeights
    #expect(h.heldOut.allSatisfy { w[$0] == 0 })
    #expect(Swift.abs(w.reduce(0, +) / Float(w.count) - 1) < 1e-5)
  }

  @Test func measurementsAreUnitsForCompressedSensing() throws {
    let h = try Holdout(observationShape: [1, 400], fraction: 0.1, seed: 1)
    #expect(h.heldOut.count > 20 && h.heldOut.count < 60)
    var p = [Float](repeating: 0, count: 400), y = p
    for i in h.heldOut { y[i] = 2 }
    #expect(h.error(p, y) == 4)
    p = y
    #expect(h.error(p, y) == 0)
  }

  @Test func badFractionsAndTinyObservations() {
    #expect(throws: InversionError.self) { try Holdout(observationShape: [1, 10], fraction: 0, seed: 1) }
    #expect(throws: InversionError.self) { try Holdout(observationShape: [1, 10], fraction: 1, seed: 1) }
    #expect(throws: InversionError.self) { try Holdout(observationShape: [1, 1], fraction: 0.5, seed: 1) }
  }
}

import GraphIR
import Testing
@testable import Inversion

@Suite struct InpaintTests {
  @Test func appliesMaskPerPixelOnAllChannels() throws {
    let mask = try InpaintMask(values: [1, 0, 0, 1, 1, 1, 0, 1, 0], height: 3, width: 3)
    let x = GraphHarness.random([2, 3, 3, 3], seed: 4)
    let y = try GraphHarness.apply(mask, x)
    #expect(y.shape == [2, 3, 3, 3])
    for i in 0..<x.count { #expect(y.values[i] == x.values[i] * Double(mask.values[i % 9])) }
  }

  @Test func blackPixelsAreMissingOnlyWhenAllChannelsAreMinusOne() throws {
    // 1 image, 2x2: pixel 0 black, pixel 1 has R = G = -1 only, pixel 2 white, pixel 3 black.
    let obs: [Float] = [-1, -1, 1, -1, /* G */ -1, -1, 1, -1, /* B */ -1, 0.5, 1, -1]
    let m = try InpaintMask(blackPixelsOf: obs, batch: 1, height: 2, width: 2)
    #expect(m.values == [0, 1, 1, 0])
    let two = try InpaintMask(blackPixelsOf: obs + obs.map { _ in 0 }, batch: 2, height: 2, width: 2)
    #expect(two.values == [0, 1, 1, 0, 1, 1, 1, 1] && two.batch == 2)
  }

  @Test func maskImageWhiteIsKnown() throws {
    // RGBA pixels: white, black, mid-gray 128 (known), dark gray 127 (missing); alpha ignored.
    let px: [UInt8] = [255, 255, 255, 0, 0, 0, 0, 255, 128, 128, 128, 0, 127, 127, 127, 255]
    #expect(try InpaintMask(maskImage: px, height: 2, width: 2, channels: 4).values == [1, 0, 1, 0])
    #expect(try InpaintMask(maskImage: [200, 10], height: 1, width: 2, channels: 1).values == [1, 0])
    #expect(throws: InversionError.self) { try InpaintMask(maskImage: [1, 2, 3], height: 1, width: 2, channels: 1) }
  }

  @Test func randomMaskIsSeededAndKeepsAboutP() throws {
    let a = try InpaintMask(keepProbability: 0.3, seed: 5, height: 64, width: 64)
    let b = try InpaintMask(keepProbability: 0.3, seed: 5, height: 64, width: 64)
    let c = try InpaintMask(keepProbability: 0.3, seed: 6, height: 64, width: 64)
    #expect(a.values == b.values && a.values != c.values)
    // 4096 Bernoulli(0.3): sd of the fraction is 0.0072; 5 sd band.
    #expect(Swift.abs(a.knownFraction - 0.3) < 0.036)
    // The documented formula: pixel k is kept when the k-th uniform is below p.
    var rng = SplitMix64(seed: 5)
    #expect(a.values == (0..<4096).map { _ in rng.uniform() < 0.3 ? 1 : 0 })
    #expect(try InpaintMask(keepProbability: 1, seed: 1, height: 4, width: 4).knownFraction == 1)
    #expect(try InpaintMask(keepProbability: 0, seed: 1, height: 4, width: 4).knownFraction == 0)
    #expect(throws: InversionError.self) { try InpaintMask(keepProbability: 1.5, seed: 1, height: 4, width: 4) }
  }

  @Test func boxMaskRemovesTheRectangle() throws {
    let m = try InpaintMask(box: 1, left: 2, boxHeight: 2, boxWidth: 1, height: 4, width: 4)
    #expect(m.values == [1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1])
    #expect(throws: InversionError.self) { try InpaintMask(box: 3, left: 0, boxHeight: 2, boxWidth: 1, height: 4, width: 4) }
  }

  @Test func wrongImageSizeIsAGraphError() throws {
    let m = try InpaintMask(keepProbability: 0.5, seed: 1, height: 4, width: 4)
    let g = Graph()
    _ = m.apply(g.input("x", [1, 3, 5, 5]))
    #expect(g.error?.description.contains("does not fit") == true)
    #expect(throws: InversionError.self) { try m.outputShape(batch: 1, size: 5) }
    let perImage = try InpaintMask(values: [1, 0, 1, 1, 0, 0, 1, 1], batch: 2, height: 2, width: 2)
    #expect(throws: InversionError.self) { try perImage.outputShape(batch: 3, size: 2) }
  }

  @Test func gradient() throws {
    let m = try InpaintMask(keepProbability: 0.5, seed: 2, height: 3, width: 3)
    #expect(try GraphHarness.gradientError([2, 3, 3, 3]) { m.apply($0) } < 1e-7)
  }
}

import Foundation
import GraphIR
import Testing
@testable import Inversion

/// Values that used to trap (integer overflow, Int(inf)) or to allocate without bound: each is
/// one error line, and the message names the operator the user asked for.
@Suite struct HostileValueTests {
  func message(_ body: () throws -> Void) -> String {
    do {
      try body()
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  @Test func boxMasksWithOverflowingCornersAreErrors() {
    let big = Int.max
    for (top, left, h, w) in [(big, 1, 1, 1), (1, big, 1, 1), (1, 1, big, 1), (1, 1, 1, big), (2, 0, big - 1, 1)] {
      let m = message { _ = try InpaintMask(box: top, left: left, boxHeight: h, boxWidth: w, height: 64, width: 64) }
      #expect(m.hasPrefix("mask: box") && m.contains("does not fit in 64x64"), "\(m)")
    }
    #expect(message { _ = try InpaintMask(box: 60, left: 0, boxHeight: 4, boxWidth: 64, height: 64, width: 64) } == "no error")
  }

  @Test func measurementCountsFromFlags() throws {
    for bad in [Double.infinity, -.infinity, .nan, 1e30, 0, -1, 12289, 2.5] {
      let m = message { _ = try CirculantSensing.measurementCount(bad, imageSize: 64) }
      #expect(m.hasPrefix("cs-circulant: measurements must be a count in 1...12288"), "\(bad): \(m)")
    }
    #expect(try CirculantSensing.measurementCount(12288, imageSize: 64) == 12288)
    #expect(try CirculantSensing.measurementCount(0.5, imageSize: 64) == 6144)
    #expect(try CirculantSensing.measurementCount(1e-9, imageSize: 64) == 1)
    let g = message { _ = try CirculantSensing.measurementCount(.infinity, imageSize: 64, task: .csGaussian) }
    #expect(g.hasPrefix("cs-gaussian: "), "\(g)")
  }

  @Test func gaussianSensingErrorsSayGaussian() {
    let m = message { _ = try GaussianSensing(imageSize: 4, measurements: 1000, seed: 0) }
    #expect(m.hasPrefix("cs-gaussian: measurements must be in 1...48"), "\(m)")
  }

  @Test func hugeSigmaIsRefused() {
    for bad: Float in [1e30, .infinity, -1, 10.5] {
      let m = message { _ = try NoiseAddition(sigma: bad, seed: 0) }
      #expect(m.hasPrefix("denoise: sigma must be in [0, 10]"), "\(bad): \(m)")
    }
    #expect(message { _ = try NoiseAddition(sigma: 10, seed: 0) } == "no error")
  }

  @Test func superresShapeErrorsNameTheTaskOnce() {
    let g = Graph("t")
    let x = g.input("x", [1, 3, 64, 64])
    _ = (try? BicubicDownsampler(factor: 3))?.apply(x)
    let m = "\(g.error.map { "\($0)" } ?? "no error")"
    #expect(m == "superres: image size 64 is not a multiple of the factor 3", "\(m)")
  }

  func record(_ mask: String) -> String {
    #"{"format":"iloc-operator","version":1,"task":"inpaint","mask":\#(mask)}"#
  }

  @Test func operatorFilesWithHugeMasksFailWithoutAllocating() {
    let cases = [
      #"{"kind":"random","height":2147483648,"width":64,"keepProbability":0.5,"seed":1}"#,
      #"{"kind":"random","height":9223372036854775807,"width":2,"keepProbability":0.5,"seed":1}"#,
      #"{"kind":"box","height":9223372036854775807,"width":9223372036854775807,"box":[0,0,1,1]}"#,
      #"{"kind":"explicit","height":4611686018427387904,"width":4,"batch":8,"bits":"AA=="}"#,
    ]
    for c in cases {
      let m = message { _ = try OperatorRecord.decode(Data(record(c).utf8)).makeOperator() }
      #expect(m.hasPrefix("mask: dimensions") && m.contains("out of range"), "\(c): \(m)")
      let sized = message { _ = try OperatorRecord.decode(Data(record(c).utf8)).makeOperator(imageSize: 64) }
      #expect(sized.hasPrefix("operator file: the mask is") && sized.hasSuffix("but the images are 64x64"), "\(sized)")
    }
    let cs = #"{"format":"iloc-operator","version":1,"task":"cs-circulant","imageSize":16384,"measurements":1,"seed":1}"#
    let m = message { _ = try OperatorRecord.decode(Data(cs.utf8)).makeOperator(imageSize: 64) }
    #expect(m == "operator file: the operator is for 16384x16384 images, not 64x64")
  }
}

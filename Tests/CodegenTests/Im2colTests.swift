import GraphIR
import Testing
@testable import Codegen

/// im2col with output rows of 16 or more columns, which loop per row with the row's interior
/// split from its borders: compiled and interpreted, against the columns by their definition.
@Suite struct Im2colTests {
  struct Case: Sendable, CustomTestStringConvertible {
    var input: Int, kernel: Int, stride: Int, pad: Int
    /// Output rows of a block starting at `row0`, or nil for the whole output.
    var rows: Int?, row0: Int
    var output: Int { (input + 2 * pad - kernel) / stride + 1 }
    var testDescription: String { "\(input)px k\(kernel) s\(stride) p\(pad)" + (rows.map { " rows \(row0)..+\($0)" } ?? "") }
  }

  /// `col[(c, ky, kx), oy, ox] = x[c, oy*s - p + ky, ox*s - p + kx]`, 0 outside.
  static func reference(_ x: [Float], channels: Int, _ t: Case) -> [Float] {
    let (n, k, wo) = (t.input, t.kernel, t.output)
    let ho = t.rows ?? wo
    var col: [Float] = []
    for c in 0..<channels {
      for ky in 0..<k {
        for kx in 0..<k {
          for oy in t.row0..<(t.row0 + ho) {
            for ox in 0..<wo {
              let (iy, ix) = (oy * t.stride - t.pad + ky, ox * t.stride - t.pad + kx)
              col.append(iy >= 0 && iy < n && ix >= 0 && ix < n ? x[(c * n + iy) * n + ix] : 0)
            }
          }
        }
      }
    }
    return col
  }

  @Test(arguments: [Case(input: 20, kernel: 3, stride: 1, pad: 1, rows: nil, row0: 0),
                    Case(input: 33, kernel: 3, stride: 2, pad: 1, rows: nil, row0: 0),
                    Case(input: 18, kernel: 2, stride: 1, pad: 0, rows: nil, row0: 0),
                    Case(input: 40, kernel: 3, stride: 2, pad: 0, rows: 4, row0: 8),
                    Case(input: 24, kernel: 3, stride: 1, pad: 1, rows: 3, row0: 21)])
  func wideRowsMatchTheDefinition(_ t: Case) throws {
    let channels = 2
    let attrs = ConvAttrs(stride: [t.stride, t.stride], padding: [t.pad, t.pad, t.pad, t.pad])
    let kernel = ConvolutionKernels.im2col(x: [1, channels, t.input, t.input], kernel: [t.kernel, t.kernel], attrs: attrs,
                                           output: [t.output, t.output], rows: t.rows)
    guard case .loop(let rows) = kernel.parallel.body[0] else { Issue.record("no row loop"); return }
    #expect(rows.variable == "oy")
    #expect(rows.body.count == (t.pad > 0 ? 3 : 1))  // left border, interior, right border (none unpadded here)
    let x = randomFloats(channels * t.input * t.input, seed: 5)
    let col = [Float](repeating: .nan, count: kernel.buffers[0].count)
    let (jit, interpreted) = try runBoth(kernel, [col, x], scalars: t.rows == nil ? [0] : [0, Int64(t.row0)])
    let truth = Self.reference(x, channels: channels, t)
    #expect(jit[0] == truth)
    #expect(interpreted[0] == truth)
  }
}

import GraphIR

/// Partial-circulant compressed sensing (spec §3): with v = vec(x) in CHW order (n = 3·S·S),
/// `A(x) = P_Ω(Re IFFT(FFT(s ⊙ v) · FFT(f))) / √m`, a circular convolution of the sign-flipped
/// image with a Gaussian filter f, observed at m distinct positions Ω. Any image size.
///
/// From the seed: Ω = `SeededStreams.distinctIndices(m, n)` on sub-stream 1 (sorted), f = n
/// normals on sub-stream 2, s = n Rademacher signs on sub-stream 3. The reference has no 1/√m
/// (its loss is then m times larger); the scaling keeps the MSE weight meaningful across m.
public struct CirculantSensing: ForwardOperator, Equatable {
  public let imageSize: Int
  public let measurements: Int
  public let seed: UInt64?
  /// Ω, sorted ascending.
  public let indices: [Int]
  /// s (±1), n values.
  public let signs: [Float]
  /// f, n values.
  public let filter: [Float]
  /// FFT(f) as n (real, imaginary) pairs, `[n, 2]` row-major, computed in Double.
  public let spectrum: [Float]
  public var task: Task { .csCirculant }
  public var length: Int { 3 * imageSize * imageSize }

  /// Draws Ω, f and s from `seed` for S×S RGB images and m measurements (1 ≤ m ≤ 3·S·S).
  public init(imageSize: Int, measurements m: Int, seed: UInt64) throws {
    let n = try Self.validate(imageSize: imageSize, measurements: m)
    var r1 = SeededStreams.generator(seed, 1), r2 = SeededStreams.generator(seed, 2), r3 = SeededStreams.generator(seed, 3)
    let omega = SeededStreams.distinctIndices(m, of: n, &r1)
    let f = SeededStreams.normals(n, &r2)
    let s = SeededStreams.signs(n, &r3)
    try self.init(imageSize: imageSize, indices: omega, filter: f, signs: s, seed: seed)
  }

  /// An operator from explicit data (e.g. read from another tool); `indices` must be distinct.
  public init(imageSize: Int, indices: [Int], filter: [Float], signs: [Float], seed: UInt64? = nil) throws {
    let n = try Self.validate(imageSize: imageSize, measurements: indices.count)
    guard filter.count == n, signs.count == n else {
      throw InversionError("cs-circulant: filter and signs need \(n) values, got \(filter.count) and \(signs.count)")
    }
    guard indices.allSatisfy({ $0 >= 0 && $0 < n }), Set(indices).count == indices.count else {
      throw InversionError("cs-circulant: measurement indices must be distinct and in 0..<\(n)")
    }
    self.imageSize = imageSize; measurements = indices.count; self.seed = seed
    self.indices = indices; self.filter = filter; self.signs = signs
    spectrum = try Self.dft(filter)
  }

  /// Returns n = 3·S·S after checking S and m; errors start with `task` (the operator's name).
  static func validate(imageSize s: Int, measurements m: Int, task: Task = .csCirculant) throws -> Int {
    guard s > 0, s <= 16384 else { throw InversionError("\(task.rawValue): image size must be in 1...16384, got \(s)") }
    let n = 3 * s * s
    guard m >= 1, m <= n else {
      throw InversionError("\(task.rawValue): measurements must be in 1...\(n) for \(s)x\(s) RGB, got \(m)")
    }
    return n
  }

  /// The measurement count `--measurements` asks for: a whole count m (1 ≤ m ≤ 3·S·S), or a
  /// fraction of 3·S·S when below 1 (at least one measurement). Non-finite, non-positive,
  /// fractional counts above 1 and counts over 3·S·S are errors naming `task`.
  public static func measurementCount(_ m: Double, imageSize s: Int, task: Task = .csCirculant) throws -> Int {
    let n = try validate(imageSize: s, measurements: 1, task: task)
    guard m.isFinite, m > 0, m < 1 || (m == m.rounded() && m <= Double(n)) else {
      throw InversionError(
        "\(task.rawValue): measurements must be a count in 1...\(n) or a fraction in (0, 1) "
          + "for \(s)x\(s) RGB, got \(m)")
    }
    return m < 1 ? Swift.max(1, Int(m * Double(n))) : Int(m)
  }

  /// The measurement count for a percentage of n, `Int(percent / 100 · n)` as the reference.
  public static func measurementCount(percent: Double, imageSize s: Int) throws -> Int {
    guard percent.isFinite, percent > 0, percent <= 100 else { throw InversionError("cs: percentage must be in (0, 100], got \(percent)") }
    return Swift.max(1, Int(percent / 100 * Double(3 * s * s)))
  }

  /// The DFT of a real vector, via the reference interpreter's fft op in Double.
  static func dft(_ v: [Float]) throws -> [Float] {
    let g = Graph("circulant.spectrum")
    let x = g.input("f", [v.count, 2])
    g.output("F", fft(x))
    var c = [Double](repeating: 0, count: 2 * v.count)
    for i in v.indices { c[2 * i] = Double(v[i]) }
    let out = try Interpreter.run(g, inputs: ["f": HostTensor(shape: [v.count, 2], values: c)])["F"]!
    return out.values.map { Float($0) }
  }

  public func outputShape(batch: Int, size: Int) throws -> Shape {
    guard size == imageSize else { throw InversionError("cs-circulant: operator is for \(imageSize)x\(imageSize) images, got \(size)x\(size)") }
    return [batch, measurements]
  }

  public func apply(_ x: Tensor) -> Tensor {
    guard let (b, s) = imageDims(x, "cs-circulant") else { return x.graph.fail(x.graph.error!) }
    guard s == imageSize else {
      return x.graph.fail(GraphError(op: "cs-circulant", message: "operator is for \(imageSize)x\(imageSize) images, got \(x.shape.shapeText)"))
    }
    let g = x.graph, n = length
    let v = reshape(x, [b, n]) * g.constant(signs, [n])
    let spec = fft(pad(reshape(v, [b, n, 1]), lo: [0, 0, 0], hi: [0, 0, 1]))  // [B, n, 2], imaginary part 0
    // (a + ib)(c + id) = (ac − bd) + i(ad + bc) = [a, b]·[c, c] + [b, a]·[−d, d]
    var re = [Float](repeating: 0, count: 2 * n), im = re
    for k in 0..<n {
      re[2 * k] = spectrum[2 * k]; re[2 * k + 1] = spectrum[2 * k]
      im[2 * k] = -spectrum[2 * k + 1]; im[2 * k + 1] = spectrum[2 * k + 1]
    }
    let product = spec * g.constant(re, [n, 2]) + reverse(spec, axes: [2]) * g.constant(im, [n, 2])
    let conv = reshape(slice(ifft(product), axis: 2, 0..<1), [b, n])
    return gather(conv, axis: 1, indices: indices) * (1 / Float(measurements).squareRoot())
  }
}

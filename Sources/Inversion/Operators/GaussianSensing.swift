import GraphIR

/// Gaussian compressed sensing (spec §3): `A(x) = A·vec(x)` with v = vec(x) in CHW order
/// (n = 3·S·S) and a dense m×n matrix of N(0, 1/m) entries, so E‖A v‖² = ‖v‖².
/// From the seed: row i of A is the i-th block of n normals of sub-stream 1 of the seed
/// (`SeededStreams.fillNormals` called once per row), divided by √m. Stored transposed, `[n, m]`, so the graph is one matmul
/// `[B, n] × [n, m]`. Memory is 4·m·n bytes; it is embedded as a graph constant.
public struct GaussianSensing: ForwardOperator, Equatable {
  public let imageSize: Int
  public let measurements: Int
  public let seed: UInt64
  /// Aᵀ, `[n, m]` row-major.
  public let transposedMatrix: [Float]
  public var task: Task { .csGaussian }
  public var length: Int { 3 * imageSize * imageSize }

  public init(imageSize: Int, measurements m: Int, seed: UInt64) throws {
    let n = try CirculantSensing.validate(imageSize: imageSize, measurements: m, task: .csGaussian)
    guard m * n <= 1 << 31 else {
      throw InversionError("cs-gaussian: an \(m)x\(n) matrix is too large (over 2^31 entries); use cs-circulant")
    }
    var rng = SeededStreams.generator(seed, 1)
    let scale = 1 / Float(m).squareRoot()
    var t = [Float](repeating: 0, count: m * n), row = [Float](repeating: 0, count: n)
    for i in 0..<m {
      row.withUnsafeMutableBufferPointer { SeededStreams.fillNormals($0, &rng) }
      for j in 0..<n { t[j * m + i] = row[j] * scale }
    }
    self.imageSize = imageSize; measurements = m; self.seed = seed; transposedMatrix = t
  }

  /// Entry (i, j) of A.
  public func entry(_ i: Int, _ j: Int) -> Float { transposedMatrix[j * measurements + i] }

  public func outputShape(batch: Int, size: Int) throws -> Shape {
    guard size == imageSize else { throw InversionError("cs-gaussian: operator is for \(imageSize)x\(imageSize) images, got \(size)x\(size)") }
    return [batch, measurements]
  }

  public func apply(_ x: Tensor) -> Tensor {
    guard let (b, s) = imageDims(x, "cs-gaussian") else { return x.graph.fail(x.graph.error!) }
    guard s == imageSize else {
      return x.graph.fail(GraphError(op: "cs-gaussian", message: "operator is for \(imageSize)x\(imageSize) images, got \(x.shape.shapeText)"))
    }
    return matmul(reshape(x, [b, length]), x.graph.constant(transposedMatrix, [length, measurements]))
  }
}

import GraphIR

/// Denoising: the identity operator, optionally with stochastic noise addition (SNA, spec §3):
/// `A_t(x) = x + σ·n_t`, compared with the noisy observation, with n_t a fresh N(0, 1) draw at
/// every step t. n_t is the graph input `NoiseAddition.inputName` ([B, 3, S, S]); the runtime
/// fills it before step t with `fill(_:step:)`, whose values depend only on (seed, t), so a run
/// is reproducible and a step can be replayed.
public struct NoiseAddition: ForwardOperator, Equatable {
  /// σ in the [-1, 1] image scale; 0 means the plain identity (no input is declared).
  public let sigma: Float
  public let seed: UInt64
  public var task: Task { .denoise }

  /// The name of the per-step noise input.
  public static let inputName = "denoise.noise"

  /// The largest σ accepted: images span [-1, 1], so σ = 10 is already pure noise, and far larger
  /// values overflow the loss in Float32.
  public static let maxSigma: Float = 10

  public init(sigma: Float, seed: UInt64) throws {
    guard sigma.isFinite, sigma >= 0, sigma <= Self.maxSigma else {
      throw InversionError("denoise: sigma must be in [0, \(Int(Self.maxSigma))] (images span [-1, 1]), got \(sigma)")
    }
    self.sigma = sigma; self.seed = seed
  }

  /// The identity operator (no noise addition).
  public static let identity = NoiseAddition(unchecked: 0, seed: 0)
  init(unchecked sigma: Float, seed: UInt64) { self.sigma = sigma; self.seed = seed }

  public func outputShape(batch: Int, size: Int) throws -> Shape { [batch, 3, size, size] }

  public func runtimeInputs(batch: Int, size: Int) -> [(name: String, shape: Shape)] {
    sigma == 0 ? [] : [(Self.inputName, [batch, 3, size, size])]
  }

  public func apply(_ x: Tensor) -> Tensor {
    guard imageDims(x, "denoise") != nil else { return x.graph.fail(x.graph.error!) }
    if sigma == 0 { return x }
    let n = x.graph.input(named: Self.inputName) ?? x.graph.input(Self.inputName, x.shape)
    return x + n * sigma
  }

  /// Writes step t's N(0, 1) draws into `buffer` (in place, no allocation): the normals of
  /// `SeededStreams.generator(seed, t)` (sub-stream t of the seed), in buffer order.
  public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, step: Int) {
    var rng = SeededStreams.generator(seed, UInt64(step))
    SeededStreams.fillNormals(buffer, &rng)
  }

  /// `fill` on an array (convenience for tests and small runs).
  public func fill(_ buffer: inout [Float], step: Int) {
    buffer.withUnsafeMutableBufferPointer { fill($0, step: step) }
  }
}

import Foundation
import GraphIR
import Runtime

/// ILO's stand-in for the StyleGAN2 mapping network (spec README §1): a latent row z ~ N(0, I)
/// maps to `w = LeakyReLU_0.2(std ⊙ z + mean)`, where mean and std are the per-coordinate
/// moments of `LeakyReLU_5(mapping(z))` (slope 5 undoes the mapping's final slope 0.2, so
/// the moments describe the pre-activation and the proxy reproduces the distribution of w
/// coordinate by coordinate). Fitted once per model at convert time, stored with the weights
/// as `latent_proxy.mean` and `latent_proxy.std` [style_dim].
public struct LatentProxy: Equatable, Sendable {
  public var mean: [Float]
  public var std: [Float]

  /// Tensor names in a converted model file.
  public static let meanKey = "latent_proxy.mean", stdKey = "latent_proxy.std"

  public init(mean: [Float], std: [Float]) {
    self.mean = mean
    self.std = std
  }

  /// `LeakyReLU_0.2(std ⊙ z + mean)` for z of any number of rows of `mean.count` values.
  public func map(_ z: [Float]) -> [Float] {
    let d = mean.count
    return z.indices.map { i in
      let v = std[i % d] * z[i] + mean[i % d]
      return v < 0 ? 0.2 * v : v
    }
  }

  /// Reads a latent proxy file: ILO's and PULSE's `gaussian_fit.pt`, a torch file holding
  /// `{'mean': [D], 'std': [D]}` of LeakyReLU_5(mapping(z)) (the same recipe; saved on CUDA, the
  /// storage location is ignored), or any weight file with `latent_proxy.mean` / `.std` (a
  /// converted model). One-line errors for other files, half a proxy, bad shapes or values.
  public static func load(_ url: URL) throws -> LatentProxy {
    let sd = try loadStateDict(url)
    for (m, s) in [("mean", "std"), (meanKey, stdKey)] where sd[m] != nil || sd[s] != nil {
      guard let mean = sd[m], let std = sd[s] else {
        throw ModelError("\(sd.source): a latent proxy needs both '\(m)' and '\(s)'")
      }
      guard mean.shape.count == 1, mean.shape == std.shape else {
        throw ModelError("\(sd.source): latent proxy '\(m)' / '\(s)' have shapes \(mean.shape.shapeText) and "
          + "\(std.shape.shapeText), expected two [D]")
      }
      let proxy = StateDict(source: sd.source, tensors: [meanKey: mean, stdKey: std])
      return try read(from: proxy, styleDim: mean.shape[0])!
    }
    throw ModelError("\(sd.source): not a latent proxy file: no 'mean' and 'std' (gaussian_fit.pt) "
      + "or '\(meanKey)' and '\(stdKey)'")
  }

  /// Reads the proxy from a state dict holding both tensors with shape [styleDim]; nil when
  /// neither is present. One-line errors for half a proxy, wrong shapes or bad values.
  static func read(from sd: StateDict, styleDim: Int) throws -> LatentProxy? {
    let m = sd[meanKey], s = sd[stdKey]
    if m == nil && s == nil { return nil }
    let mean = try sd.require(meanKey, shape: [styleDim]), std = try sd.require(stdKey, shape: [styleDim])
    guard mean.values.allSatisfy(\.isFinite), std.values.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
      throw ModelError("\(sd.source): '\(meanKey)' / '\(stdKey)' hold non-finite or negative values")
    }
    return LatentProxy(mean: mean.values, std: std.values)
  }
}

/// Fits the latent proxy (and the mean latent `latent_avg`) of a StyleGAN2 generator by running
/// its mapping network on seeded normal samples, batch by batch, on either engine.
public enum LatentProxyFit {
  /// What a fit produced.
  public struct Result: Sendable {
    public var proxy: LatentProxy
    /// Per-coordinate mean of mapping(z): the mean latent used for truncation.
    public var meanLatent: [Float]
    public var samples: Int
    public var seconds: Double
  }

  /// The mapping network on a batch of single latents, as a graph. Input `z` [B, D] and the
  /// weights; outputs `w` = mapping(z) and `w_lrelu5` = LeakyReLU_5(w), both [B, D].
  public static func graph(_ config: StyleGAN2Config, batch: Int) throws -> ModelGraph {
    let g = Graph("stylegan2.latent_proxy_fit")
    let p = WeightInputs(graph: g)
    let w = StyleGAN2(config: config).mapping(g.input("z", [batch, config.styleDim]), weights: p)
    g.output("w", w)
    g.output("w_lrelu5", leakyRelu(w, slope: 5))
    try g.check()
    return ModelGraph(graph: g, weights: p)
  }

  /// The latents of the fit: sample i is the i-th block of D normals of
  /// `SplitMix64(seed).normals`, independent of the batch size.
  public static func latents(seed: UInt64, samples: Int, styleDim: Int) -> [Float] {
    var rng = SplitMix64(seed: seed)
    return rng.normals(samples * styleDim).map { Float($0) }
  }

  /// Runs the mapping network of `checkpoint` on `samples` latents z ~ N(0, I) drawn from
  /// `SplitMix64(seed)` (as in `latents`), `batch` at a time (the last batch is padded with
  /// zero rows that are not counted), and returns the per-coordinate mean and (unbiased, n−1)
  /// standard deviation of LeakyReLU_5(w), and the mean of w. Sums are accumulated in Double.
  /// `progress(done, total)` is called after each batch.
  public static func fit(_ checkpoint: StyleGAN2Checkpoint, samples: Int, seed: UInt64, batch: Int = 2000,
                         engine: Engine = .jit, progress: ((Int, Int) -> Void)? = nil) throws -> Result {
    guard samples >= 2 else { throw ModelError("latent proxy fit: need at least 2 samples, got \(samples)") }
    guard batch >= 1 else { throw ModelError("latent proxy fit: batch must be at least 1, got \(batch)") }
    let start = Date()
    let d = checkpoint.config.styleDim
    let b = Swift.min(batch, samples)
    let mg = try graph(checkpoint.config, batch: b)
    let exe = try makeExecutable(mg.graph, engine: engine)
    for (name, t) in try mg.bind(checkpoint.stateDict) { try exe.setInput(name, t.values) }

    var sumV = [Double](repeating: 0, count: d), sumV2 = sumV, sumW = sumV
    var rng = SplitMix64(seed: seed)
    var done = 0
    while done < samples {
      let rows = Swift.min(b, samples - done)
      var z = rng.normals(rows * d).map { Float($0) }
      if rows < b { z += [Float](repeating: 0, count: (b - rows) * d) }
      try exe.setInput("z", z)
      try exe.run()
      let w = try exe.output("w").values, v = try exe.output("w_lrelu5").values
      w.withUnsafeBufferPointer { w in v.withUnsafeBufferPointer { v in
        sumV.withUnsafeMutableBufferPointer { sv in sumV2.withUnsafeMutableBufferPointer { sv2 in
          sumW.withUnsafeMutableBufferPointer { sw in
            for r in 0..<rows {
              for j in 0..<d {
                let x = Double(v[r * d + j])
                sv[j] += x
                sv2[j] += x * x
                sw[j] += Double(w[r * d + j])
              }
            }
          }
        } }
      } }
      done += rows
      progress?(done, samples)
    }
    let n = Double(samples)
    var mean = [Float](repeating: 0, count: d), std = mean, avg = mean
    for j in 0..<d {
      let m = sumV[j] / n
      let variance = Swift.max(0, (sumV2[j] - n * m * m) / (n - 1))
      mean[j] = Float(m)
      std[j] = Float(variance.squareRoot())
      avg[j] = Float(sumW[j] / n)
    }
    guard mean.allSatisfy(\.isFinite), std.allSatisfy(\.isFinite), avg.allSatisfy(\.isFinite) else {
      throw ModelError("\(checkpoint.stateDict.source): the mapping network gives non-finite values (corrupt weights?)")
    }
    return Result(proxy: LatentProxy(mean: mean, std: std), meanLatent: avg, samples: samples,
                  seconds: Date().timeIntervalSince(start))
  }
}

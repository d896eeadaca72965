import Foundation
import GraphIR
import Inversion
import Models
import Runtime

/// One optimized tensor of an ILO round and how it is kept in check after each step.
public struct RoundVariable: Sendable {
  public enum Kind: Sendable {
    /// w+ latent rows (or a DCGAN z): each group of `rowLength` values is projected back to
    /// its round-start norm.
    case latent(rowLength: Int)
    /// A noise map: projected back to its round-start norm as a whole.
    case noise
    /// The intermediate feature map h optimized from round 1 on (no sphere projection).
    case state
  }
  public var name: String
  public var shape: Shape
  public var kind: Kind
}

/// What one round's forward graph provides to the stage program.
public struct RoundGraph {
  /// The generated image [B, 3, S, S].
  public var image: Tensor
  /// The latent rows in use [B, R, D], for GeoCross (nil when the generator has none).
  public var latents: Tensor?
  /// Inputs optimized this round.
  public var variables: [RoundVariable]
  /// Inputs held fixed this round (besides weights): name -> shape.
  public var fixed: [(name: String, shape: Shape)]
  /// Values the next round starts from: next round's input name -> this round's tensor.
  public var nextState: [(name: String, value: Tensor)]
  public var weights: WeightInputs
}

/// A generator that ILO can split into rounds (spec §1, §2).
public protocol InvertibleGenerator {
  var description: String { get }
  var imageSize: Int { get }
  /// Number of rounds that exist: round r optimizes the input of block r (r ≥ 1).
  var maxRounds: Int { get }
  /// The generator's weights (bound to every stage program).
  var stateDict: StateDict { get }
  /// Builds round r's image in `g` (see `RoundGraph`). `keepSkip` false reproduces the
  /// reference code, which drops the RGB skip of discarded blocks.
  func buildRound(_ r: Int, in g: Graph, keepSkip: Bool) throws -> RoundGraph
  /// Initial values of every non-weight input of round 0 (latents, noises), seeded.
  func initialInputs(seed: UInt64) -> [String: [Float]]
}

/// StyleGAN2 (rosinality layout): latents z [1, n_latent, D] through the latent proxy
/// `w = LeakyReLU_0.2(std ⊙ z + mean)`; noises `noise.{i}`; state (h, skip).
public struct StyleGAN2Generator: InvertibleGenerator {
  public let checkpoint: StyleGAN2Checkpoint
  public let proxy: LatentProxy
  public var config: StyleGAN2Config { checkpoint.config }
  public var model: StyleGAN2 { StyleGAN2(config: config) }
  public var stateDict: StateDict { checkpoint.stateDict }
  public var imageSize: Int { config.size }
  public var maxRounds: Int { config.blockCount }
  public var description: String { "StyleGAN2 \(config.size)x\(config.size)" }

  public init(checkpoint: StyleGAN2Checkpoint, proxy: LatentProxy) {
    self.checkpoint = checkpoint; self.proxy = proxy
  }

  /// Noise maps optimized in round r: those of blocks r, r+1, r+2 (spec §2.1).
  func trainedNoises(_ r: Int) -> [Int] {
    (r..<min(r + 3, config.blockCount)).flatMap { config.noiseIndices(ofBlock: $0) }
  }

  public func buildRound(_ r: Int, in g: Graph, keepSkip: Bool) throws -> RoundGraph {
    let c = config, (n, d) = (c.latentCount, c.styleDim)
    let p = WeightInputs(graph: g)
    let z = g.input("z", [1, n, d])
    let mean = g.constant(proxy.mean, [1, 1, d]), std = g.constant(proxy.std, [1, 1, d])
    let w = leakyRelu(z * std + mean, slope: 0.2)
    var variables = [RoundVariable(name: "z", shape: [1, n, d], kind: .latent(rowLength: d))]
    var fixed: [(String, Shape)] = []
    let trained = Set(trainedNoises(r))
    let firstNoise = r == 0 ? 0 : c.noiseIndices(ofBlock: r)[0]
    for i in firstNoise..<c.noiseCount {
      let s: Shape = [1, 1, c.noiseResolution(i), c.noiseResolution(i)]
      _ = g.input("noise.\(i)", s)
      if trained.contains(i) { variables.append(RoundVariable(name: "noise.\(i)", shape: s, kind: .noise)) } else { fixed.append(("noise.\(i)", s)) }
    }
    var state: (h: Tensor, skip: Tensor?)? = nil
    if r > 0 {
      let res = c.resolution(ofBlock: r - 1)
      let hs: Shape = [1, c.channels(ofBlock: r - 1), res, res]
      let h = g.input("h", hs)
      variables.append(RoundVariable(name: "h", shape: hs, kind: .state))
      var skip: Tensor? = nil
      if keepSkip { skip = g.input("skip", [1, 3, res, res]); fixed.append(("skip", [1, 3, res, res])) }
      state = (h, skip)
    }
    let states = model.synthesis(wPlus: w, noise: { g.input(named: "noise.\($0)")! }, from: r, state: state, weights: p)
    try g.check()
    // the rows feeding blocks >= r
    let firstRow = r == 0 ? 0 : c.latentIndices(ofBlock: r)[0]
    let rows = slice(z, axis: 1, firstRow..<n)
    var next: [(String, Tensor)] = [("h", states[0].h)]
    if keepSkip { next.append(("skip", states[0].skip)) }
    return RoundGraph(image: states.last!.skip, latents: rows, variables: variables, fixed: fixed, nextState: next, weights: p)
  }

  public func initialInputs(seed: UInt64) -> [String: [Float]] {
    var rng = SplitMix64(seed: seed)
    var v: [String: [Float]] = ["z": rng.normals(config.latentCount * config.styleDim).map { Float($0) }]
    for i in 0..<config.noiseCount {
      let r = config.noiseResolution(i)
      v["noise.\(i)"] = rng.normals(r * r).map { Float($0) }
    }
    return v
  }
}

/// The PyTorch DCGAN-tutorial generator: z [1, nz] ~ N(0, 1) (sphere-projected); round r ≥ 1
/// optimizes block (r−1)'s output after its ReLU. No noise inputs, no GeoCross.
public struct DCGANGenerator: InvertibleGenerator {
  public let checkpoint: DCGANCheckpoint
  public var model: DCGAN { checkpoint.model }
  public var stateDict: StateDict { checkpoint.stateDict }
  public var imageSize: Int { model.resolution(ofBlock: DCGAN.blockCount - 1) }
  public var maxRounds: Int { DCGAN.blockCount }
  public var description: String { "DCGAN \(imageSize)x\(imageSize)" }
  public init(checkpoint: DCGANCheckpoint) { self.checkpoint = checkpoint }

  public func buildRound(_ r: Int, in g: Graph, keepSkip: Bool) throws -> RoundGraph {
    let p = WeightInputs(graph: g)
    let input: Tensor, variable: RoundVariable
    if r == 0 {
      input = g.input("z", [1, model.latentDim])
      variable = RoundVariable(name: "z", shape: [1, model.latentDim], kind: .latent(rowLength: model.latentDim))
    } else {
      let res = model.resolution(ofBlock: r - 1)
      let s: Shape = [1, model.channels[r - 1], res, res]
      input = g.input("h", s)
      variable = RoundVariable(name: "h", shape: s, kind: .state)
    }
    let (image, states) = model.forward(from: r, input, weights: p)
    try g.check()
    return RoundGraph(image: image, latents: nil, variables: [variable], fixed: [],
                      nextState: states.isEmpty ? [] : [("h", states[0])], weights: p)
  }

  public func initialInputs(seed: UInt64) -> [String: [Float]] {
    var rng = SplitMix64(seed: seed)
    return ["z": rng.normals(model.latentDim).map { Float($0) }]
  }
}


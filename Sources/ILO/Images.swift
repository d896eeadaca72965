import Foundation
import GraphIR
import Inversion
import Models
import Runtime

/// Conversions between PNG images and [-1, 1] CHW tensors, and the helpers of reports:
/// naive reconstructions, metrics, comparison strips.
public enum ImageIO {
  /// A PNG as a [1, 3, H, W] tensor in [-1, 1]; images over `maxPixels` pixels are refused.
  public static func readTensor(_ url: URL, maxPixels: Int = PNG.defaultMaxPixels) throws -> HostTensor<Float> {
    let img = try PNG.read(url, maxPixels: maxPixels)
    return HostTensor(shape: [1, 3, img.height, img.width], values: img.chwValues)
  }

  /// A [1, 3, H, W] (or [3, H, W]) tensor in ≈[-1, 1] as an image (clamped).
  public static func image(_ t: HostTensor<Float>) -> RGBImage {
    let (h, w) = (t.shape[t.shape.count - 2], t.shape[t.shape.count - 1])
    return RGBImage(chw: t.values[0..<(3 * h * w)], height: h, width: w)
  }

  public static func writePNG(_ t: HostTensor<Float>, to url: URL) throws { try PNG.write(image(t), to: url) }

  /// Nearest-neighbour resize of a [1, 3, h, w] tensor to `size x size` (for strips).
  public static func resize(_ t: HostTensor<Float>, to size: Int) -> HostTensor<Float> {
    let (h, w) = (t.shape[2], t.shape[3])
    if h == size && w == size { return t }
    var out = [Float](repeating: 0, count: 3 * size * size)
    for c in 0..<3 { for y in 0..<size { for x in 0..<size {
      out[(c * size + y) * size + x] = t.values[(c * h + y * h / size) * w + x * w / size]
    } } }
    return HostTensor(shape: [1, 3, size, size], values: out)
  }

  /// A horizontal strip of equally sized tiles.
  public static func strip(_ tiles: [HostTensor<Float>], size: Int) -> RGBImage {
    RGBImage.grid(tiles.map { image(resize($0, to: size)) }, columns: tiles.count)
  }
}

/// The "naive" reconstruction of an observation, the baseline ILO must beat: for linear
/// operators the least-squares multiple of the adjoint, `c A^T y` (for a mask: the observed
/// pixels with the holes left at 0; for compressed sensing the back-projection); for
/// super-resolution the bicubic upsampling of y with the operator's own kernel
/// (`BicubicDownsampler.upsample`); the observation itself otherwise.
public enum NaiveReconstruction {
  public static func compute(_ op: any ForwardOperator, observation y: HostTensor<Float>, size: Int) throws -> HostTensor<Float> {
    switch op.task {
    case .denoise, .colorize: return y
    case .superres:
      guard let down = op as? BicubicDownsampler, !down.isIdentity else { return ImageIO.resize(y, to: size) }
      return HostTensor(shape: [y.shape[0], y.shape[1], size, size], values: down.upsample(y.values, shape: y.shape))
    case .inpaint, .csCirculant, .csGaussian:
      let g = Graph("adjoint")
      let x = g.input("x", [1, 3, size, size])
      let yy = g.constant(y.values, y.shape)
      let ax = op.apply(x)
      let aty = try appendGradients(of: sum(ax * yy), wrt: [x])[0]
      g.output("aty", aty)
      let g2 = g  // A(A^T y) for the least-squares scale
      let aaty = op.apply(aty)
      g2.output("aaty", aaty)
      let out = try Program(g2).run(inputs: ["x": HostTensor(zeros: [1, 3, size, size])])
      let a = out["aty"]!, b = out["aaty"]!
      let num = zip(b.values, y.values).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
      let den = b.values.reduce(0.0) { $0 + Double($1) * Double($1) }
      let c = Float(den > 0 ? num / den : 0)
      return HostTensor(shape: a.shape, values: a.values.map { $0 * c })
    }
  }
}

/// Scores of an image against a reference (spec §5 conventions).
public enum Scoring {
  public static func image(_ x: HostTensor<Float>, against ref: HostTensor<Float>) throws -> [String: Double] {
    let s = try ImageMetrics.compare(x.values, ref.values, batch: 1, height: x.shape[2], width: x.shape[3])
    return ["mse": s.mse, "psnr": s.psnr, "ssim": s.ssim]
  }

  /// LPIPS v0.1 distance between two [1, 3, S, S] images (compiled), with the given weights.
  public static func lpips(_ x: HostTensor<Float>, _ ref: HostTensor<Float>, _ p: PerceptualLoss) throws -> Double {
    let mg = try p.lpips.graph(batch: 1, height: x.shape[2], width: x.shape[3])
    var feed = try mg.bind(p.weights)
    feed["x0"] = x; feed["x1"] = ref
    return Double(try Program(mg.graph).run(inputs: feed, outputs: ["d"])["d"]!.values[0])
  }

  /// MSE of A(x) against y (in the operator's output space, raw values).
  public static func measurement(_ ax: HostTensor<Float>, _ y: HostTensor<Float>) throws -> Double {
    try ImageMetrics.meanSquaredError(ax.values, y.values)
  }
}

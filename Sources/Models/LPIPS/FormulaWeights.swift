import GraphIR
import Runtime

/// Deterministic stand-in backbone weights for tests and benchmarks, since torchvision's
/// ImageNet weights cannot be downloaded here. The same formula is implemented in
/// `scripts/golden/lpips_ref.py`, so the goldens made with it are reproduced bit for bit:
///
///     lowbias32(x): x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
///     u = (lowbias32(i ^ lowbias32(p + 1)) >> 8) / 2^24          (uint32, wrapping)
///     weight = (2u − 1)·sqrt(6 / fan_in),  bias = (2u − 1)·0.05    (float64, rounded to float32)
///
/// with p the tensor's position in torchvision's state_dict order and i the flat index.
/// A distance made with these weights is not a perceptual metric.
public enum LPIPSFormulaWeights {
  @inline(__always) static func lowbias32(_ v: UInt32) -> UInt32 {
    var x = v
    x ^= x >> 16; x = x &* 0x7FEB_352D
    x ^= x >> 15; x = x &* 0x846C_A68B
    x ^= x >> 16
    return x
  }

  /// Tensor number `p` of the given shape; `isWeight` selects the He-uniform scale.
  public static func tensor(p: Int, shape: Shape, isWeight: Bool) -> [Float] {
    let seed = lowbias32(UInt32(truncatingIfNeeded: p + 1))
    let fanIn = shape.dropFirst().reduce(1, *)
    let amplitude = isWeight ? (6.0 / Double(fanIn)).squareRoot() : 0.05
    return (0..<shape.elementCount).map { i in
      let u = Double(lowbias32(UInt32(truncatingIfNeeded: i) ^ seed) >> 8) / 16_777_216.0
      return Float((2.0 * u - 1.0) * amplitude)
    }
  }

  /// The whole backbone of `net`, keyed `features.*`.
  public static func backbone(_ net: LPIPSNet) -> StateDict {
    var t: [String: TensorData] = [:]
    for (p, (key, shape)) in net.backboneShapes.enumerated() {
      t[key] = TensorData(shape: shape, values: tensor(p: p, shape: shape, isWeight: key.hasSuffix("weight")))
    }
    return StateDict(source: "formula-\(net.rawValue)", tensors: t)
  }
}

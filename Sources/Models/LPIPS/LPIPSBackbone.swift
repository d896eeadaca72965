import GraphIR

/// The torchvision feature extractors LPIPS taps (VGG16, AlexNet, SqueezeNet 1.1), described as
/// data: `modules[i]` is `features[i]`, so weight keys are torchvision's `features.{i}.*`.
public enum LPIPSNet: String, CaseIterable, Sendable {
  case vgg, alex, squeeze

  /// One entry of torchvision's `features` sequence.
  enum Module {
    case conv(cin: Int, cout: Int, kernel: Int, stride: Int, padding: Int)
    case relu
    case maxPool(kernel: Int, stride: Int, ceil: Bool)
    /// SqueezeNet's Fire: squeeze 1x1 + ReLU, then concat(ReLU(expand 1x1), ReLU(expand 3x3)).
    case fire(cin: Int, squeeze: Int, expand1: Int, expand3: Int)
  }

  var modules: [Module] {
    switch self {
    case .vgg:
      var m: [Module] = [], c = 3
      for v in [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0] {
        if v == 0 { m.append(.maxPool(kernel: 2, stride: 2, ceil: false)) } else {
          m += [.conv(cin: c, cout: v, kernel: 3, stride: 1, padding: 1), .relu]
          c = v
        }
      }
      return m
    case .alex:
      let pool = Module.maxPool(kernel: 3, stride: 2, ceil: false)
      return [.conv(cin: 3, cout: 64, kernel: 11, stride: 4, padding: 2), .relu, pool,
              .conv(cin: 64, cout: 192, kernel: 5, stride: 1, padding: 2), .relu, pool,
              .conv(cin: 192, cout: 384, kernel: 3, stride: 1, padding: 1), .relu,
              .conv(cin: 384, cout: 256, kernel: 3, stride: 1, padding: 1), .relu,
              .conv(cin: 256, cout: 256, kernel: 3, stride: 1, padding: 1), .relu, pool]
    case .squeeze:
      let pool = Module.maxPool(kernel: 3, stride: 2, ceil: true)
      return [.conv(cin: 3, cout: 64, kernel: 3, stride: 2, padding: 0), .relu, pool,
              .fire(cin: 64, squeeze: 16, expand1: 64, expand3: 64), .fire(cin: 128, squeeze: 16, expand1: 64, expand3: 64), pool,
              .fire(cin: 128, squeeze: 32, expand1: 128, expand3: 128), .fire(cin: 256, squeeze: 32, expand1: 128, expand3: 128), pool,
              .fire(cin: 256, squeeze: 48, expand1: 192, expand3: 192), .fire(cin: 384, squeeze: 48, expand1: 192, expand3: 192),
              .fire(cin: 384, squeeze: 64, expand1: 256, expand3: 256), .fire(cin: 512, squeeze: 64, expand1: 256, expand3: 256)]
    }
  }

  /// Tap l is the output of `features[..<tapEnds[l]]` (VGG: relu1_2, relu2_2, relu3_3,
  /// relu4_3, relu5_3).
  public var tapEnds: [Int] {
    switch self {
    case .vgg: [4, 9, 16, 23, 30]
    case .alex: [2, 5, 8, 10, 12]
    case .squeeze: [2, 5, 8, 10, 11, 12, 13]
    }
  }

  /// Channels of each tap (and of the head `lin{l}`).
  public var tapChannels: [Int] {
    switch self {
    case .vgg: [64, 128, 256, 512, 512]
    case .alex: [64, 192, 384, 256, 256]
    case .squeeze: [64, 128, 256, 384, 384, 512, 512]
    }
  }

  /// The torchvision architecture name, for messages.
  public var architectureName: String {
    switch self {
    case .vgg: "VGG16"
    case .alex: "AlexNet"
    case .squeeze: "SqueezeNet 1.1"
    }
  }

  /// Backbone tensors in torchvision `state_dict` order: (key, shape).
  public var backboneShapes: [(key: String, shape: Shape)] {
    var out: [(String, Shape)] = []
    func conv(_ key: String, _ cin: Int, _ cout: Int, _ k: Int) {
      out.append((key + ".weight", [cout, cin, k, k])); out.append((key + ".bias", [cout]))
    }
    for (i, m) in modules.enumerated() {
      switch m {
      case .conv(let cin, let cout, let k, _, _): conv("features.\(i)", cin, cout, k)
      case .fire(let cin, let s, let e1, let e3):
        conv("features.\(i).squeeze", cin, s, 1); conv("features.\(i).expand1x1", s, e1, 1); conv("features.\(i).expand3x3", s, e3, 3)
      case .relu, .maxPool: break
      }
    }
    return out
  }

  /// Applies `features[i]` to x.
  func apply(_ i: Int, _ x: Tensor, _ p: WeightInputs) -> Tensor {
    func conv(_ key: String, _ x: Tensor, _ cout: Int, _ k: Int, stride: Int = 1, padding: Int = 0) -> Tensor {
      let w = p(key + ".weight", [cout, x.shape[1], k, k]), b = p(key + ".bias", [cout])
      return conv2d(x, w, stride: stride, padding: padding) + reshape(b, [1, cout, 1, 1])
    }
    switch modules[i] {
    case .conv(_, let cout, let k, let stride, let padding):
      return conv("features.\(i)", x, cout, k, stride: stride, padding: padding)
    case .relu: return relu(x)
    case .maxPool(let k, let s, let ceil):
      guard ceil else { return maxPool2d(x, kernel: k, stride: s) }
      // ceil_mode: the last window may run past the end. The input follows a ReLU (>= 0), so
      // zero padding at the bottom/right never changes a maximum.
      func extra(_ n: Int) -> Int {
        let out = (n - k + s - 1) / s + 1
        return Swift.max(0, (out - 1) * s + k - n)
      }
      return maxPool2d(pad2d(x, [0, extra(x.shape[2]), 0, extra(x.shape[3])]), kernel: k, stride: s)
    case .fire(_, let s, let e1, let e3):
      let sq = relu(conv("features.\(i).squeeze", x, s, 1))
      return concat([relu(conv("features.\(i).expand1x1", sq, e1, 1)),
                     relu(conv("features.\(i).expand3x3", sq, e3, 3, padding: 1))], axis: 1)
    }
  }
}

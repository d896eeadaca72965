/// Small named graphs for the `iloc graph`, `iloc profile` and `iloc bench` commands.
public enum ExampleGraphs {
  public static let names = ["styled-conv", "geocross", "conv-relu", "conv3x3-512-64"]

  /// Builds the named example: its forward graph and the loss whose gradient is shown.
  /// `wrt` names the inputs the gradient is taken with respect to.
  public static func build(_ name: String) -> (graph: Graph, loss: Tensor, wrt: [Tensor])? {
    switch name {
    case "styled-conv": return styledConv()
    case "geocross":
      let g = Graph("geocross")
      let z = g.input("z", [1, 14, 512])
      let l = geoCross(z)
      g.output("loss", l)
      return (g, l, [z])
    case "conv-relu":
      let g = Graph("conv-relu")
      let x = g.input("x", [1, 64, 32, 32]), w = g.input("w", [64, 64, 3, 3]), b = g.input("b", [64])
      let y = relu(conv2d(x, w, padding: 1) + reshape(b, [1, 64, 1, 1]))
      let l = sum(square(y))
      g.output("y", y)
      return (g, l, [x, w])
    case "conv3x3-512-64":
      // the dominant layer of a 64x64 StyleGAN2 (channel multiplier 2): forward and input gradient
      let g = Graph("conv3x3-512-64")
      let x = g.input("x", [1, 512, 64, 64]), w = g.input("w", [512, 512, 3, 3])
      let y = conv2d(x, w, padding: 1)
      let l = sum(square(y))
      return (g, l, [x])
    default: return nil
    }
  }

  /// One StyleGAN2 synthesis layer (StyledConv): modulation by an equalized linear layer,
  /// modulated 3x3 conv with demodulation, noise injection, fused leaky ReLU; the loss is the
  /// squared output, differentiated w.r.t. the latent, the input features and the noise.
  static func styledConv(channels c: Int = 64, size s: Int = 16, styleDim d: Int = 512) -> (Graph, Tensor, [Tensor]) {
    let g = Graph("styled-conv")
    let x = g.input("x", [1, c, s, s]), w = g.input("w", [1, d])
    let modW = g.input("modulation.weight", [c, d]), modB = g.input("modulation.bias", [c])
    let weight = g.input("conv.weight", [c, c, 3, 3])
    let noise = g.input("noise", [1, 1, s, s]), strength = g.input("noise.weight", [1])
    let bias = g.input("activate.bias", [c])
    let style = equalLinear(w, weight: modW, bias: modB, scale: 1 / Float(d).squareRoot())
    let y = fusedLeakyRelu(injectNoise(modulatedConv2d(x, weight: weight, style: style), noise: noise, strength: strength), bias: bias)
    g.output("y", y)
    let l = sum(square(y))
    return (g, l, [w, x, noise])
  }
}

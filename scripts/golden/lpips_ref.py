"""Independent PyTorch LPIPS v0.1 (spec reference-code.md §D), no torchvision import.

  x in [-1,1] -> ScalingLayer (x - shift)/scale, shift = [-.030,-.088,-.188], scale = [.458,.448,.450]
  -> backbone taps (VGG16: relu1_2..relu5_3; AlexNet: 5 taps; SqueezeNet1.1: 7 taps)
  -> per tap f / (sqrt(sum_c f^2) + 1e-10)
  -> d_l = mean_hw( sum_c w_l[c] (f0 - f1)^2 )   (1x1 conv, no bias: `lin{l}.model.1.weight` (1,C,1,1))
  -> LPIPS = sum_l d_l, per sample.
Backbone modules reproduce torchvision's `features.*` indices/key names, so real torchvision
state_dicts load too. Without them (no download here) the backbone weights are made by the
deterministic formula below, which the Swift side reproduces bit for bit.

BACKBONE WEIGHT FORMULA (all integer arithmetic is uint32, wrapping):
  lowbias32(x): x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16
  p      = index of the tensor in the torchvision state_dict order of `features`
           (weights and biases both count: features.0.weight is p=0, features.0.bias p=1, ...)
  i      = flat row-major index inside the tensor (weights are (out, in, kh, kw))
  x      = lowbias32(i XOR lowbias32(p + 1))
  u      = (x >> 8) / 2^24                      in [0, 1), exact
  weight = (2u - 1) * sqrt(6 / fan_in)          fan_in = in * kh * kw   (He variance 2/fan_in)
  bias   = (2u - 1) * 0.05
  computed in float64, then rounded to the nearest float32.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


# ---------------------------------------------------------------- backbones
def vgg16_features():
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    return nn.Sequential(*layers)


def alexnet_features():
    return nn.Sequential(
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))


class Fire(nn.Module):
    def __init__(self, cin, squeeze, e1, e3):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, e1, 1)
        self.expand3x3 = nn.Conv2d(squeeze, e3, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1x1(x)), F.relu(self.expand3x3(x))], 1)


def squeezenet11_features():
    mp = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, stride=2), nn.ReLU(), mp(),
        Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), mp(),
        Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), mp(),
        Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
        Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))


NETS = {
    # name: (features factory, tap ends: tap l = output of features[:end_l], channels)
    "vgg": (vgg16_features, [4, 9, 16, 23, 30], [64, 128, 256, 512, 512]),
    "alex": (alexnet_features, [2, 5, 8, 10, 12], [64, 192, 384, 256, 256]),
    "squeeze": (squeezenet11_features, [2, 5, 8, 10, 11, 12, 13], [64, 128, 256, 384, 384, 512, 512]),
}


# ---------------------------------------------------------------- formula weights
def lowbias32(x):
    x = np.asarray(x, dtype=np.uint32).copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint32(16)
        x *= np.uint32(0x7FEB352D)
        x ^= x >> np.uint32(15)
        x *= np.uint32(0x846CA68B)
        x ^= x >> np.uint32(16)
    return x


def formula_tensor(p, shape, is_weight):
    n = int(np.prod(shape))
    seed = lowbias32(np.uint32(p + 1))
    x = lowbias32(np.arange(n, dtype=np.uint32) ^ seed)
    u = (x >> np.uint32(8)).astype(np.float64) / 16777216.0
    if is_weight:
        fan_in = int(np.prod(shape[1:]))
        v = (2.0 * u - 1.0) * math.sqrt(6.0 / fan_in)
    else:
        v = (2.0 * u - 1.0) * 0.05
    return torch.from_numpy(v.astype(np.float32).reshape(shape))


def formula_state_dict(net):
    feats = NETS[net][0]()
    sd = feats.state_dict()
    return {f"features.{k}": formula_tensor(p, tuple(v.shape), k.endswith("weight"))
            for p, (k, v) in enumerate(sd.items())}


# ---------------------------------------------------------------- LPIPS
class LPIPS(nn.Module):
    def __init__(self, net="vgg"):
        super().__init__()
        make, self.ends, self.chns = NETS[net]
        self.features = make()
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.lins = nn.ParameterList([nn.Parameter(torch.zeros(1, c, 1, 1)) for c in self.chns])

    def load_backbone(self, state_dict):
        self.features.load_state_dict({k[len("features."):]: v for k, v in state_dict.items()
                                       if k.startswith("features.")}, strict=True)

    def load_heads(self, heads):
        """heads: the v0.1 .pth dict {'lin{l}.model.1.weight': (1,C,1,1)}."""
        for l, p in enumerate(self.lins):
            p.data.copy_(heads[f"lin{l}.model.1.weight"])

    def taps(self, x):
        h, out, start = (x - self.shift) / self.scale, [], 0
        for end in self.ends:
            for m in self.features[start:end]:
                h = m(h)
            out.append(h)
            start = end
        return out

    def forward(self, x0, x1, per_layer=False):
        layers = []
        for f0, f1, w in zip(self.taps(x0), self.taps(x1), self.lins):
            n0 = f0 / (torch.sqrt((f0 * f0).sum(1, keepdim=True)) + 1e-10)
            n1 = f1 / (torch.sqrt((f1 * f1).sum(1, keepdim=True)) + 1e-10)
            layers.append(((n0 - n1) ** 2 * w).sum(1).mean([1, 2]))
        d = torch.stack(layers, 1).sum(1)
        return (d, layers) if per_layer else d

"""PyTorch baseline for `iloc bench ilo-step-SIZE`: one round-0 ILO step, timed eager or with
torch.compile on the CPU.

The computation (what iloc's `ILOStepWorkload` builds with the inversion's own code):
  w      = LeakyReLU_0.2(std * z + mean)          z (1, n_latent, 512), the latent proxy
  x      = StyleGAN2 synthesis(w, noises)         channel multiplier 2, random weights
  M      = Bernoulli(0.8) pixel mask; y = M * truth
  MSE    = mean((M * x - y)^2)
  LPIPS  = LPIPS-VGG16(BDS(S/256)(x), BDS(S/256)(y + (1 - M) * x))   ("fill"; BDS = bicubic
           downsampling, a = -0.5, 4f taps, reflect padding, stride f; the identity at 256)
  GeoCross(z rows) (PULSE), weight 0.01
  loss   = MSE + LPIPS + 0.01 * GeoCross; gradient w.r.t. z and noises 0-4 (blocks 0-2)
LPIPS is written the way the `lpips` package computes it: ScalingLayer, VGG16 features cut
after relu1_2, relu2_2, relu3_3, relu4_3, relu5_3, each feature unit-normalised over channels
(+1e-10), squared differences through a 1x1 "lin" convolution without bias, spatial mean, sum
over the five layers. Backbone weights: the deterministic He-scaled formula of
scripts/golden/lpips_ref.py (the same ones iloc's benchmark uses); heads |N(0, 0.1)|.

  python3 scripts/bench/pytorch_ilo_step_bench.py --size 256            # eager
  python3 scripts/bench/pytorch_ilo_step_bench.py --size 1024 --compile # torch.compile

Prints ms/step (median and best of --steps after --warmup; with --compile the first call, which
compiles, is timed separately), GFLOP/step (FlopCounterMode), the loss terms, and the process
peak RSS (VmHWM from /proc/self/status, taken after the timing); the last line (`result:`) is
for scripts.
"""
import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))
sys.path.insert(0, HERE)
from stylegan2_ref import Generator, ModulatedConv2d  # noqa: E402
from lpips_ref import formula_state_dict  # noqa: E402
from pytorch_stylegan2_bench import modconv_input_scaling, randomize, peak_rss_mb, time_steps  # noqa: E402


# ------------------------------------------------------------------ LPIPS, as the lpips package
class ScalingLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1))

    def forward(self, x):
        return (x - self.shift) / self.scale


class VGG16Slices(nn.Module):
    """torchvision's vgg16().features, cut into the five slices the lpips package taps."""
    CUTS = [(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)]

    def __init__(self):
        super().__init__()
        cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
        layers, c = [], 3
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
                c = v
        self.features = nn.Sequential(*layers)
        self.slices = [nn.Sequential(*layers[a:b]) for a, b in self.CUTS]

    def forward(self, x):
        out = []
        for s in self.slices:
            x = s(x)
            out.append(x)
        return out


class LPIPSVGG(nn.Module):
    CHANNELS = [64, 128, 256, 512, 512]

    def __init__(self):
        super().__init__()
        self.scaling = ScalingLayer()
        self.net = VGG16Slices()
        self.lins = nn.ModuleList([nn.Conv2d(c, 1, 1, bias=False) for c in self.CHANNELS])

    @staticmethod
    def normalize(f, eps=1e-10):
        return f / (torch.sqrt(torch.sum(f ** 2, dim=1, keepdim=True)) + eps)

    def forward(self, x0, x1):
        f0, f1 = self.net(self.scaling(x0)), self.net(self.scaling(x1))
        total = 0
        for a, b, lin in zip(f0, f1, self.lins):
            d = (self.normalize(a) - self.normalize(b)) ** 2
            total = total + lin(d).mean([2, 3], keepdim=True)
        return total.view(-1)


# ------------------------------------------------------------------ bicubic downsampling, GeoCross
def bicubic_kernel(f, a=-0.5):
    def cubic(x):
        t = abs(x)
        if t <= 1:
            return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
        if t < 2:
            return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a
        return 0.0
    k = [cubic((i - 2 * f + 0.5) / f) for i in range(4 * f)]
    s = sum(k)
    return torch.tensor([v / s for v in k], dtype=torch.float32)


def bds(x, f):
    """Separable depthwise bicubic downsampling by f (rows, then columns), reflect padding."""
    if f == 1:
        return x
    k = bicubic_kernel(f)
    top, bottom = 3 * f // 2, 3 * f - 3 * f // 2
    x = F.pad(x, (0, 0, top, bottom), mode="reflect")
    x = F.conv2d(x, k.view(1, 1, -1, 1).repeat(3, 1, 1, 1), stride=(f, 1), groups=3)
    x = F.pad(x, (top, bottom, 0, 0), mode="reflect")
    return F.conv2d(x, k.view(1, 1, 1, -1).repeat(3, 1, 1, 1), stride=(1, f), groups=3)


def geocross(z):
    xi, xj = z[:, :, None, :], z[:, None, :, :]
    a = torch.sqrt(((xi - xj) ** 2).sum(-1) + 1e-9)
    c = torch.sqrt(((xi + xj) ** 2).sum(-1) + 1e-9)
    d = 2 * torch.atan2(a, c)
    return (d ** 2).mean() * (z.shape[-1] / 8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--no-flops", action="store_true", help="skip the FlopCounterMode pass (slow at 1024)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    gen = torch.Generator().manual_seed(0)
    S = args.size
    factor = max(1, S // 256)

    g = Generator(S, 512, 8, channel_multiplier=2).eval()
    randomize(g, gen)
    ModulatedConv2d.forward = modconv_input_scaling
    lp = LPIPSVGG().eval()
    sd = formula_state_dict("vgg")
    lp.net.features.load_state_dict({k[len("features."):]: v for k, v in sd.items()})
    for lin in lp.lins:
        lin.weight.data.copy_(0.1 * torch.randn(lin.weight.shape, generator=gen).abs())
    for p in list(g.parameters()) + list(lp.parameters()):
        p.requires_grad_(False)

    mean = -0.32 + 0.1 * torch.randn(512, generator=gen)
    std = 0.8 * (1 + 0.1 * torch.randn(512, generator=gen))
    z = torch.randn(1, g.n_latent, 512, generator=gen).requires_grad_(True)
    noises = [torch.randn(1, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2), generator=gen) for i in range(g.num_layers)]
    for n in noises[:5]:
        n.requires_grad_(True)
    mask = (torch.rand(1, 1, S, S, generator=gen) < 0.8).float()
    y = mask * (2 * torch.rand(1, 3, S, S, generator=gen) - 1)
    leaves = [z] + noises[:5]

    def objective(z_, noise_list):
        w = F.leaky_relu(z_ * std + mean, 0.2)
        x = g.forward_from_block(0, None, None, w, noise_list)[0]
        mse = ((mask * x - y) ** 2).mean()
        ref = y + (1 - mask) * x
        pe = lp(bds(x, factor), bds(ref, factor)).mean()
        geo = geocross(z_)
        return mse + pe + 0.01 * geo, (mse, pe, geo)

    fn = torch.compile(objective) if args.compile else objective

    def step():
        loss, terms = fn(z, noises)
        grads = torch.autograd.grad(loss, leaves)
        return loss, terms, grads

    (loss, terms, _), first, ms, best, worst = time_steps(step, args.warmup, args.steps)
    rss_mb = peak_rss_mb()
    gflop = float("nan")
    if not args.no_flops:
        counter = FlopCounterMode(display=False)
        with counter:  # backward(), not autograd.grad(): the counter's module hooks refuse grad() on leaves
            l2, _ = objective(z, noises)
            l2.backward()
        for t in leaves:
            t.grad = None
        gflop = counter.get_total_flops() / 1e9
    mode = "compile" if args.compile else "eager"
    mse, pe, geo = (t.item() for t in terms)
    print(f"loss {loss.item():.6f}: mse {mse:.6f}, lpips {pe:.6f}, geocross {geo:.6f}")
    print(f"pytorch {torch.__version__} {mode}: ILO round-0 step, StyleGAN2 size {S} cm2, LPIPS-VGG16 at {S // factor} "
          f"threads {args.threads}: {ms:.2f} ms/step (median of {args.steps}, best {best:.2f}, max {worst:.2f}); "
          f"first call {first:.2f} s{' (includes compilation)' if args.compile else ''}; "
          f"{gflop:.3f} GFLOP/step; peak RSS {rss_mb:.0f} MB")
    print(f"result: engine=pytorch-{mode} workload=ilo-step size={S} threads={args.threads} ms_median={ms:.3f} "
          f"ms_best={best:.3f} gflop={gflop:.4f} first_call_s={first:.3f} rss_mb={rss_mb:.0f}")


if __name__ == "__main__":
    main()

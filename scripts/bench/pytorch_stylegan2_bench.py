"""PyTorch baseline for `iloc bench stylegan2-SIZE`: the same computation, timed eager or with
torch.compile on the CPU.

The computation (identical graph semantics to iloc's `stylegan2-64` / `stylegan2-256` examples):
the full StyleGAN2 synthesis network (scripts/golden/stylegan2_ref.py; channel multiplier 2,
style 512, batch 1, weights frozen) from w+ with the noise maps as inputs, loss
sum(image * R) for a fixed random R, gradient w.r.t. w+ only. Random weights at the same
scales as iloc's examples (conv and modulation weights N(0,1), modulation biases N(1, 0.2),
noise strengths N(0, 0.1), activation and RGB biases N(0, 0.1), w+, noises and R N(0,1)).

Blur and the skip upsampling run as depthwise convolutions (the fast form). The modulated
convolution has two exact forms (--modconv):
  input   conv(x * s, W) * d: the style scales the input, the demodulation the output (the
          reference port's `fused=False` path; what iloc's compiler turns the weight form
          into). The default: PyTorch rewritten by hand, the strongest eager baseline.
  weight  conv(x, W * s * d) with per-sample weights (the reference port's default
          `fused=True`, the form the golden fixtures use and iloc's model is written in);
          its gradient w.r.t. w+ also needs a weight-gradient convolution per layer, about
          1.5x the convolution work of `input`.
After the timing both forms are checked to give the same image (float32, 1e-4).

  python3 scripts/bench/pytorch_stylegan2_bench.py --size 64            # eager
  python3 scripts/bench/pytorch_stylegan2_bench.py --size 256 --compile # torch.compile
  --start-block k  the sub-generator from block k (grad w.r.t. h_{k-1} and w+), as in ILO round k.

Prints ms/step (median and best of --steps after --warmup; with --compile the first call,
which compiles, is timed separately), GFLOP/step (FlopCounterMode: convolutions and matmuls,
forward + backward, counted once) and GFLOP/s, the image statistics, the process peak RSS at the end of the timing;
the last line (`result:`) is for scripts. Peak RSS is VmHWM (/proc/self/status).
"""
import argparse
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from stylegan2_ref import Generator, ModulatedConv2d  # noqa: E402

_weight_form_forward = ModulatedConv2d.forward


def modconv_input_scaling(self, x, style):
    """ModulatedConv2d in input-scaling form: y = conv(x * s, scale*W) * d (d = demodulation),
    for the upsampling layer y = blur(convT(x * s, scale*W^T, stride 2) * d). Exactly the
    weight form's values, with the shared weight instead of per-sample weights."""
    b = x.shape[0]
    s = self.modulation(style)                                     # (B, in)
    w = self.weight[0] * self.scale                                # (out, in, k, k)
    xs = x * s.view(b, self.in_ch, 1, 1)
    if self.upsample:
        y = F.conv_transpose2d(xs, w.transpose(0, 1), stride=2)
    else:
        y = F.conv2d(xs, w, padding=self.k // 2)
    if self.demodulate:
        d = torch.rsqrt(s.square() @ w.square().sum([2, 3]).t() + 1e-8)  # (B, out)
        y = y * d.view(b, self.out_ch, 1, 1)
    return self.blur(y) if self.upsample else y


def time_steps(step, warmup, steps):
    """Times `step`: its first call (which may compile) on its own, then `warmup` untimed calls
    and `steps` timed ones. Returns (the first call's result, its seconds, median, best and worst
    ms)."""
    t0 = time.perf_counter()
    result = step()
    first = time.perf_counter() - t0
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return result, first, statistics.median(times) * 1e3, min(times) * 1e3, max(times) * 1e3


def peak_rss_mb():
    """The process's peak resident set size in MB: VmHWM of /proc/self/status (Linux), else
    getrusage's ru_maxrss (kB on Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def randomize(g, gen):
    """The scales of iloc's random StyleGAN2 examples (see Sources/iloc/ModelExamples.swift)."""
    for name, p in g.named_parameters():
        if name.endswith("modulation.bias"):
            v = 1.0 + 0.2 * torch.randn(p.shape, generator=gen)
        elif name.endswith("noise.weight") or name.endswith(".bias"):
            v = 0.1 * torch.randn(p.shape, generator=gen)
        else:
            v = torch.randn(p.shape, generator=gen)
        p.data.copy_(v)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--start-block", type=int, default=0)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--modconv", choices=["input", "weight"], default="input")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    gen = torch.Generator().manual_seed(0)

    g = Generator(args.size, 512, 8, channel_multiplier=2).eval()
    randomize(g, gen)
    for p in g.parameters():
        p.requires_grad_(False)
    B, k = args.batch, args.start_block
    noises = [torch.randn(B, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2), generator=gen) for i in range(g.num_layers)]
    w = torch.randn(B, g.n_latent, 512, generator=gen).requires_grad_(True)
    R = torch.randn(B, 3, args.size, args.size, generator=gen)

    ModulatedConv2d.forward = modconv_input_scaling if args.modconv == "input" else _weight_form_forward

    leaves = [w]
    h = skip = None
    if k > 0:
        with torch.no_grad():
            _, states = g.synthesis(w, noises)
        h = states[k - 1][0].clone().requires_grad_(True)
        skip = states[k - 1][1].clone()
        leaves.insert(0, h)

    def render(w_, h_):
        return g.forward_from_block(k, h_, skip, w_, noises)[0]
    fn = torch.compile(render) if args.compile else render

    def step():
        img = fn(w, h)
        loss = (img * R).sum()
        grads = torch.autograd.grad(loss, leaves)
        return img, grads

    (img, _), first, ms, best, worst = time_steps(step, args.warmup, args.steps)
    rss_mb = peak_rss_mb()  # before the checks below

    counter = FlopCounterMode(display=False)
    with counter:
        torch.autograd.grad((render(w, h) * R).sum(), leaves)
    gflop = counter.get_total_flops() / 1e9
    # The two modulated-convolution forms agree (checked once, after the timing).
    with torch.no_grad():
        wd = w.detach()
        ModulatedConv2d.forward = _weight_form_forward
        img_w = g.synthesis(wd, noises)[0]
        ModulatedConv2d.forward = modconv_input_scaling
        img_i = g.synthesis(wd, noises)[0]
        rel = ((img_w - img_i).abs().max() / img_w.abs().max()).item()
        assert rel < 1e-4, f"modconv forms disagree: {rel}"
    mode = "compile" if args.compile else "eager"
    img = img.detach()
    print(f"image: std {img.std().item():.4e}, max|.| {img.abs().max().item():.4e}, finite {bool(torch.isfinite(img).all())}; "
          f"modconv forms agree to {rel:.1e}")
    print(f"pytorch {torch.__version__} {mode} (modconv {args.modconv}): StyleGAN2 size {args.size} cm2 batch {B} "
          f"start_block {k} threads {args.threads}: {ms:.2f} ms/step (median of {args.steps}, best {best:.2f}, "
          f"max {worst:.2f}); first call {first:.2f} s{' (includes compilation)' if args.compile else ''}; "
          f"{gflop:.3f} GFLOP/step -> {gflop / (ms / 1e3):.1f} GFLOP/s; peak RSS {rss_mb:.0f} MB")
    print(f"result: engine=pytorch-{mode} modconv={args.modconv} size={args.size} threads={args.threads} "
          f"ms_median={ms:.3f} ms_best={best:.3f} gflop={gflop:.4f} first_call_s={first:.3f} rss_mb={rss_mb:.0f}")


if __name__ == "__main__":
    main()

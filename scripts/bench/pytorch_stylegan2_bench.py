"""PyTorch baseline: one ILO-style step (forward + backward w.r.t. the w+ latents) of a full
StyleGAN2 generator (scripts/golden/stylegan2_ref.py: channel_multiplier 2, style_dim 512,
n_mlp 8, random weights, weights frozen), eager or torch.compile, on the CPU.

  python3 scripts/bench/pytorch_stylegan2_bench.py --size 64            # eager
  python3 scripts/bench/pytorch_stylegan2_bench.py --size 256 --compile # + torch.compile
  --start-block k  times the sub-generator from block k instead (grad w.r.t. w+ and h_{k-1}),
                   as in ILO round k.

Prints ms/step (median of --steps after --warmup), GFLOP/step and GFLOP/s (counted once with
torch.utils.flop_counter.FlopCounterMode: convolutions and matmuls, forward + backward) and the
process peak RSS.
"""
import argparse
import os
import resource
import statistics
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
from stylegan2_ref import Generator  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--start-block", type=int, default=0)
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    g = Generator(args.size, 512, 8, channel_multiplier=2).eval()
    for p in g.parameters():
        p.requires_grad_(False)
    B, k = args.batch, args.start_block
    noises = [torch.randn(B, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2)) for i in range(g.num_layers)]
    w = torch.randn(B, g.n_latent, 512).requires_grad_(True)
    R = torch.randn(B, 3, args.size, args.size)
    leaves = [w]
    h = skip = None
    if k > 0:
        with torch.no_grad():
            _, states = g.synthesis(w, noises)
        h = states[k - 1][0].clone().requires_grad_(True)
        skip = states[k - 1][1].clone()
        leaves.append(h)

    def render(w_, h_):
        return g.forward_from_block(k, h_, skip, w_, noises)[0]
    fn = torch.compile(render) if args.compile else render

    def step():
        img = fn(w, h)
        loss = (img * R).sum()
        grads = torch.autograd.grad(loss, leaves)
        return grads

    t0 = time.perf_counter()
    for _ in range(args.warmup):
        step()
    warm = time.perf_counter() - t0
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    ms = statistics.median(times) * 1e3

    counter = FlopCounterMode(display=False)
    with counter:
        (lambda: torch.autograd.grad((render(w, h) * R).sum(), leaves))()
    gflop = counter.get_total_flops() / 1e9
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    mode = "compile" if args.compile else "eager"
    print(f"pytorch {torch.__version__} {mode}: StyleGAN2 size {args.size} cm2 batch {B} start_block {k} "
          f"threads {args.threads}: {ms:.2f} ms/step (median of {args.steps}, min {min(times) * 1e3:.2f}, "
          f"max {max(times) * 1e3:.2f}; warmup {args.warmup} steps {warm:.1f} s); "
          f"{gflop:.3f} GFLOP/step -> {gflop / (ms / 1e3):.1f} GFLOP/s; peak RSS {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()

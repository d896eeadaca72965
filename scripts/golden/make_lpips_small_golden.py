"""Makes Tests/ModelsTests/Fixtures/lpips/lpips_small_golden.safetensors: LPIPS-VGG on one 16x16
pair, small enough for the debug-build interpreter (the 32x32 VGG case of make_lpips_golden.py
takes about a minute there). Same implementation (lpips_ref.py), formula backbone weights and
real v0.1 VGG head (run `bash models/fetch.sh` first); float64, stored as float32 (st.py):

    in16.x0, in16.x1   (1,3,16,16)  a smooth random image in [-1,1] and a shifted, noisy copy
    vgg.d16            (1)          LPIPS(x0, x1)
    vgg.d16.layer{l}   (1)          per-layer terms (taps at 16, 8, 4, 2, 1 pixels)
    vgg.grad16.x0      (1,3,16,16)  d LPIPS / d x0
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from lpips_ref import LPIPS, formula_state_dict  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures", "lpips")
HEADS = os.path.join(ROOT, "models", "cache", "lpips", "v0.1")


def main():
    gen = torch.Generator().manual_seed(1616)
    low = torch.randn(1, 3, 5, 5, generator=gen)
    x0 = torch.tanh(F.interpolate(low, size=(16, 16), mode="bilinear", align_corners=False)).float()
    x1 = (torch.roll(x0, shifts=(1, 1), dims=(2, 3)) + 0.1 * torch.randn(x0.shape, generator=gen)).clamp(-1, 1).float()
    m = LPIPS("vgg")
    m.load_backbone(formula_state_dict("vgg"))
    m.load_heads(torch.load(os.path.join(HEADS, "vgg.pth"), map_location="cpu", weights_only=True))
    m = m.double().eval()
    xa = x0.double().requires_grad_(True)
    d, layers = m(xa, x1.double(), per_layer=True)
    g, = torch.autograd.grad(d.sum(), xa)
    out = {"in16.x0": x0, "in16.x1": x1, "vgg.d16": d.detach(), "vgg.grad16.x0": g}
    for l, dl in enumerate(layers):
        out[f"vgg.d16.layer{l}"] = dl.detach()
    st.save(os.path.join(OUT, "lpips_small_golden.safetensors"), out,
            {"description": "LPIPS-VGG v0.1 on a 16x16 pair; formula backbone, real head; float64 -> float32"})
    print(f"vgg 16: d = {d.tolist()}, layers {[round(float(v.detach()), 6) for v in layers]}, |grad| max {g.abs().max():.3g}")


if __name__ == "__main__":
    main()

"""Makes the LPIPS fixtures in Tests/ModelsTests/Fixtures/lpips/ (run once, outputs committed).
Needs the real v0.1 heads: run `bash models/fetch.sh` first.

  lpips_golden.safetensors (F32, see st.py), computed in float64 from float32 weights:
    in64.x0, in64.x1   (2,3,64,64)  two 64x64 image pairs in [-1,1]: pair 0 = independent uniform
                                    noise; pair 1 = a smooth random image and a noisy copy
    in32.x0, in32.x1   (1,3,32,32)  one 32x32 pair (smooth image vs. a shifted, noisy copy)
    head.{net}.lin{l}  (1,C,1,1)    the real LPIPS v0.1 heads (lpips 0.1.4, BSD-2), net in vgg/alex/squeeze
    {net}.d64          (2)          LPIPS(x0, x1) per sample, formula backbone weights (see lpips_ref.py)
    {net}.d64.layer{l} (2)          the per-layer terms d_l (their sum is d64)
    {net}.grad64.x0    (2,3,64,64)  d(sum_b d64[b]) / d in64.x0
    {net}.d32, {net}.d32.layer{l}, {net}.grad32.x0   the same for the 32x32 pair
  lpips_backbone_formula.json       the weight formula and, per tensor, shape, p, fan_in,
                                    first values and the float64 sum, so Swift can verify its copy.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from lpips_ref import LPIPS, NETS, formula_state_dict  # noqa: E402
import lpips_ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures", "lpips")
HEADS = os.path.join(ROOT, "models", "cache", "lpips", "v0.1")


def smooth_image(gen, n, size, low=8):
    z = torch.randn(n, 3, low, low, generator=gen)
    return torch.tanh(F.interpolate(z, size=(size, size), mode="bilinear", align_corners=False))


def inputs(gen):
    a0 = torch.rand(1, 3, 64, 64, generator=gen) * 2 - 1
    a1 = torch.rand(1, 3, 64, 64, generator=gen) * 2 - 1
    b0 = smooth_image(gen, 1, 64)
    b1 = (b0 + 0.1 * torch.randn(b0.shape, generator=gen)).clamp(-1, 1)
    c0 = smooth_image(gen, 1, 32, low=6)
    c1 = (torch.roll(c0, shifts=(1, 2), dims=(2, 3)) + 0.05 * torch.randn(c0.shape, generator=gen)).clamp(-1, 1)
    return (torch.cat([a0, b0]).float(), torch.cat([a1, b1]).float(), c0.float(), c1.float())


def dump_formula(formula):
    """JSON with one line per tensor entry, so the file reads as a table."""
    lines = ["{"]
    for key in ("formula", "lowbias32", "value"):
        lines.append(f" {json.dumps(key)}: {json.dumps(formula[key])},")
    lines.append(' "nets": {')
    nets = list(formula["nets"].items())
    for n, (net, entries) in enumerate(nets):
        lines.append(f"  {json.dumps(net)}: [")
        for e, entry in enumerate(entries):
            lines.append("   " + json.dumps(entry) + ("," if e + 1 < len(entries) else ""))
        lines.append("  ]" + ("," if n + 1 < len(nets) else ""))
    lines += [" }", "}", ""]
    text = "\n".join(lines)
    assert json.loads(text) == formula
    return text


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(2024)
    x0_64, x1_64, x0_32, x1_32 = inputs(gen)
    out = {"in64.x0": x0_64, "in64.x1": x1_64, "in32.x0": x0_32, "in32.x1": x1_32}
    formula = {
        "formula": lpips_ref.__doc__.split("BACKBONE WEIGHT FORMULA")[1].strip(),
        "lowbias32": "x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16 (uint32, wrapping)",
        "value": "u = (lowbias32(i ^ lowbias32(p + 1)) >> 8) / 2^24; weight = (2u-1)*sqrt(6/fan_in); "
                 "bias = (2u-1)*0.05; in float64, rounded to float32",
        "nets": {},
    }
    for net in ("vgg", "alex", "squeeze"):
        heads = torch.load(os.path.join(HEADS, f"{net}.pth"), map_location="cpu", weights_only=True)
        sd = formula_state_dict(net)
        m = LPIPS(net)
        m.load_backbone(sd)
        m.load_heads(heads)
        m = m.double().eval()
        for l in range(len(NETS[net][2])):
            out[f"head.{net}.lin{l}"] = heads[f"lin{l}.model.1.weight"]
        for tag, a, b in (("64", x0_64, x1_64), ("32", x0_32, x1_32)):
            xa = a.double().requires_grad_(True)
            d, layers = m(xa, b.double(), per_layer=True)
            g, = torch.autograd.grad(d.sum(), xa)
            out[f"{net}.d{tag}"] = d.detach()
            for l, dl in enumerate(layers):
                out[f"{net}.d{tag}.layer{l}"] = dl.detach()
            out[f"{net}.grad{tag}.x0"] = g
            print(f"{net} {tag}: d = {[round(v, 6) for v in d.tolist()]}; per layer "
                  f"{[[round(v, 5) for v in dl.tolist()] for dl in layers]}; |grad| max {g.abs().max():.3g}")
        formula["nets"][net] = [
            {"name": k, "p": p, "shape": list(v.shape), "kind": "weight" if k.endswith("weight") else "bias",
             "fan_in": int(v[0].numel()) if k.endswith("weight") else None,
             "first": [float(x) for x in v.flatten()[:4]], "sum_f64": float(v.double().sum())}
            for p, (k, v) in enumerate(sd.items())]
    meta = {"description": "LPIPS v0.1 goldens; backbone weights by formula (lpips_backbone_formula.json), "
                           "real v0.1 heads; computed in float64, stored as float32"}
    st.save(os.path.join(OUT, "lpips_golden.safetensors"), out, meta)
    with open(os.path.join(OUT, "lpips_backbone_formula.json"), "w") as f:
        f.write(dump_formula(formula))


if __name__ == "__main__":
    main()

"""Writes what an independent float64 evaluation of a StyleGAN2 checkpoint gives, for iloc to match.

Reads a checkpoint in the reference port's layout ({"g_ema": state dict, ...} or a bare state
dict; any widths, float16 or float32), rebuilds `scripts/golden/stylegan2_ref.py`'s Generator
from the tensor shapes, and evaluates it in float64 on seeded latents:

  mapping.z  (B, style_dim)          z, torch.randn with torch.manual_seed(seed)
  mapping.w  (B, style_dim)          mapping(z)
  w_plus     (B, n_latent, style_dim) w broadcast to every row
  noise.i    (1, 1, r, r)            the checkpoint's noise buffers
  image      (B, 3, size, size)      synthesis(w_plus, noise buffers)

  python3 scripts/train/check_export.py CKPT.pt OUT.safetensors [--batch 2] [--seed 0]
"""
import argparse
import os
import sys

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "golden"))
import st  # noqa: E402
from stylegan2_ref import Generator  # noqa: E402


def generator_from_state(sd):
    """The reference Generator whose shapes match the state dict, loaded strictly, in float64."""
    style_dim = sd["style.1.weight"].shape[0]
    n_mlp = sum(1 for k in sd if k.startswith("style.") and k.endswith(".weight"))
    rgbs = sum(1 for k in sd if k.startswith("to_rgbs.") and k.endswith(".conv.weight"))
    channels = {4: sd["input.input"].shape[1]}
    for k in range(1, rgbs + 1):
        channels[4 << k] = sd[f"convs.{2 * k - 1}.conv.weight"].shape[1]
    g = Generator(4 << rgbs, style_dim, n_mlp, channels=channels)
    g.load_state_dict({k: v.double() for k, v in sd.items()}, strict=True)
    return g.double().eval()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("out")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    ck = torch.load(a.checkpoint, map_location="cpu", weights_only=True)
    g = generator_from_state(ck["g_ema"] if "g_ema" in ck else ck)
    torch.manual_seed(a.seed)
    z = torch.randn(a.batch, g.style_dim, dtype=torch.float64)
    with torch.no_grad():
        w = g.mapping(z)
        w_plus = w[:, None].expand(-1, g.n_latent, -1).contiguous()
        image, _ = g.synthesis(w_plus)
    tensors = {"mapping.z": z, "mapping.w": w, "w_plus": w_plus, "image": image}
    tensors.update({f"noise.{i}": n for i, n in enumerate(g.buffer_noises())})
    st.save(a.out, tensors, {"checkpoint": os.path.basename(a.checkpoint), "seed": a.seed})
    print(f"wrote {a.out}: size {g.size}, image range [{image.min():.3f}, {image.max():.3f}]")


if __name__ == "__main__":
    main()

"""Makes the StyleGAN2 fixtures in Tests/ModelsTests/Fixtures/stylegan2/ (run once, outputs committed).

For each tiny config (random weights, fixed seeds):
  stylegan2_s{S}.pt                 torch zip checkpoint {"g_ema": state_dict, "latent_avg": [style_dim]}
                                    with exactly the reference port's key names (see stylegan2_ref.py)
  stylegan2_s{S}_golden.safetensors F32 goldens (see st.py), computed in float64 from the float32
                                    weights, then rounded; names:
    mapping.z        (B, n_latent, D)  input z, one row per w+ row
    mapping.w        (B, n_latent, D)  style(z) (PixelNorm + n_mlp EqualLinear/fused lrelu)
    latent_avg       (D)               same as the checkpoint's latent_avg (mean of style(randn(4096, D)))
    w_plus           (B, n_latent, D)  latent_avg + psi * (mapping.w - latent_avg), psi in metadata
    noise.{i}        (B, 1, R, R)      the noise maps used (i = 0 .. num_noises-1)
    image            (B, 3, S, S)      synthesis(w_plus, noises)
    state.h{k}       (B, C_k, r, r)    block k output feature h_k, k = 0 .. num_blocks-1
    state.skip{k}    (B, 3, r, r)      block k RGB skip s_k (state.skip{last} == image)
    sub2.image       (B, 3, S, S)      sub-generator from block 2 started at (h_1, skip_1) (== image)
    sub2noskip.image (B, 3, S, S)      the same with skip=None (reference ILO behaviour)
    sub2pert.h_in    (B, C_1, 8, 8)    h_1 + 0.5 * randn: a moved state, as in an ILO round
    sub2pert.image   (B, 3, S, S)      sub-generator from block 2 at (sub2pert.h_in, skip_1)
    grad.R           (B, 3, S, S)      fixed random weights R of the scalar L = sum(image * R)
    grad.full.w_plus (B, n_latent, D)  dL/dw_plus for the full synthesis
    grad.full.noise.{i}                dL/dnoise_i for the full synthesis
    grad.mapping.z   (B, n_latent, D)  dL/dz through mapping + truncation + synthesis
    grad.sub2.h1 / grad.sub2.skip1 / grad.sub2.w_plus / grad.sub2.noise.{i} (i >= 3)
                                       dL/d(...) for the block-2 sub-generator at (h_1, skip_1),
                                       L = sum(sub2.image * R)
    grad.sub2noskip.h1 / grad.sub2noskip.w_plus
                                       the same for the skip=None sub-generator
Metadata (`__metadata__.config`, also in stylegan2_s{S}.json): the generator config.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from stylegan2_ref import Generator  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures", "stylegan2")

CONFIGS = [
    dict(size=32, style_dim=32, n_mlp=3, channels={4: 32, 8: 32, 16: 24, 32: 16}, batch=2, seed=1032, psi=0.7),
    dict(size=64, style_dim=64, n_mlp=8, channels={4: 32, 8: 32, 16: 16, 32: 16, 64: 8}, batch=1, seed=1064, psi=0.7),
]


def randomize(g, gen):
    """Every parameter random and non-trivial (noise weights, biases, modulation bias around 1)."""
    def rn(*shape):
        return torch.randn(*shape, generator=gen)
    for name, p in g.named_parameters():
        if name.startswith("style.") and name.endswith(".weight"):
            v = rn(*p.shape) / 0.01                    # rosinality init: randn / lr_mul
        elif name.startswith("style.") and name.endswith(".bias"):
            v = 5.0 * rn(*p.shape)                     # effective bias = 0.01 * stored
        elif name.endswith("modulation.bias"):
            v = 1.0 + 0.2 * rn(*p.shape)
        elif name.endswith("noise.weight"):
            v = 0.3 * rn(*p.shape)
        elif name.endswith("activate.bias"):
            v = 0.2 * rn(*p.shape)
        elif name.endswith(".bias"):                   # to_rgb biases
            v = 0.1 * rn(*p.shape)
        else:                                          # conv weights, modulation weights, input
            v = rn(*p.shape)
        p.data.copy_(v)
    for i in range(g.num_layers):
        buf = getattr(g.noises, f"noise_{i}")
        buf.copy_(rn(*buf.shape))


def make(cfg):
    size, B = cfg["size"], cfg["batch"]
    gen = torch.Generator().manual_seed(cfg["seed"])
    g = Generator(size, cfg["style_dim"], cfg["n_mlp"], channels=cfg["channels"])
    randomize(g, gen)
    g.eval()
    latent_avg = g.double().mean_latent(4096, generator=gen).float()
    g.float()
    tag = f"stylegan2_s{size}"
    torch.save({"g_ema": g.state_dict(), "latent_avg": latent_avg}, os.path.join(OUT, tag + ".pt"))

    # Reload from disk (float32) and compute everything in float64.
    ck = torch.load(os.path.join(OUT, tag + ".pt"), map_location="cpu", weights_only=True)
    g = Generator(size, cfg["style_dim"], cfg["n_mlp"], channels=cfg["channels"])
    g.load_state_dict(ck["g_ema"], strict=True)
    g = g.double().eval()
    avg = ck["latent_avg"].double()
    D, NL, NB = cfg["style_dim"], g.n_latent, g.num_blocks

    def f64(t):
        return t.float().double()                      # values representable in float32
    z = f64(torch.randn(B, NL, D, generator=gen))
    noises = [f64(torch.randn(B, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2), generator=gen))
              for i in range(g.num_layers)]
    R = f64(torch.randn(B, 3, size, size, generator=gen))
    out = {"mapping.z": z, "latent_avg": avg, "grad.R": R}
    for i, n in enumerate(noises):
        out[f"noise.{i}"] = n

    # mapping + truncation + full synthesis, with gradients
    zr = z.clone().requires_grad_(True)
    w = g.mapping(zr)
    w_plus = g.truncate(w, cfg["psi"], avg)
    image, _ = g.synthesis(w_plus, noises)
    gz, = torch.autograd.grad((image * R).sum(), zr)
    out["mapping.w"], out["w_plus"], out["grad.mapping.z"] = w, w_plus, gz
    w_plus = f64(w_plus.detach())                      # the stored (rounded) w+ is the input from here on

    wp = w_plus.clone().requires_grad_(True)
    nz = [n.clone().requires_grad_(True) for n in noises]
    image, states = g.synthesis(wp, nz)
    out["image"] = image
    for k, (h, s) in enumerate(states):
        out[f"state.h{k}"], out[f"state.skip{k}"] = h, s
    h1, s1 = f64(states[1][0].detach()), f64(states[1][1].detach())
    grads = torch.autograd.grad((image * R).sum(), [wp] + nz)
    out["grad.full.w_plus"] = grads[0]
    for i, gn in enumerate(grads[1:]):
        out[f"grad.full.noise.{i}"] = gn

    # block-2 sub-generator from (h_1, skip_1)
    hv, sv = h1.clone().requires_grad_(True), s1.clone().requires_grad_(True)
    wp = w_plus.clone().requires_grad_(True)
    nz = [n.clone().requires_grad_(True) for n in noises]
    img2, _ = g.forward_from_block(2, hv, sv, wp, nz)
    grads = torch.autograd.grad((img2 * R).sum(), [hv, sv, wp] + nz[3:])
    out["sub2.image"] = img2
    out["grad.sub2.h1"], out["grad.sub2.skip1"], out["grad.sub2.w_plus"] = grads[:3]
    for i, gn in enumerate(grads[3:], start=3):
        out[f"grad.sub2.noise.{i}"] = gn

    hv = h1.clone().requires_grad_(True)
    wp = w_plus.clone().requires_grad_(True)
    img2n, _ = g.forward_from_block(2, hv, None, wp, noises)
    gh, gw = torch.autograd.grad((img2n * R).sum(), [hv, wp])
    out["sub2noskip.image"], out["grad.sub2noskip.h1"], out["grad.sub2noskip.w_plus"] = img2n, gh, gw

    hp = f64(h1 + 0.5 * torch.randn(h1.shape, generator=gen, dtype=torch.float64))
    with torch.no_grad():
        out["sub2pert.h_in"] = hp
        out["sub2pert.image"] = g.forward_from_block(2, hp, s1, w_plus, noises)[0]

    out = {k: v.detach() for k, v in out.items()}
    config = dict(size=size, style_dim=D, n_mlp=cfg["n_mlp"], lr_mlp=0.01, channels=cfg["channels"],
                  n_latent=NL, num_noises=g.num_layers, num_blocks=NB, batch=B, psi=cfg["psi"],
                  seed=cfg["seed"], checkpoint=tag + ".pt",
                  loss="L = sum(image * grad.R)", computed_in="float64, stored as float32")
    meta = {"config": json.dumps(config, sort_keys=True)}
    st.save(os.path.join(OUT, tag + "_golden.safetensors"), out, meta)
    with open(os.path.join(OUT, tag + ".json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")

    # sanity: the stored image is not degenerate and the sub-generator with skip reproduces it
    img = out["image"]
    assert torch.allclose(out["sub2.image"], img, rtol=1e-5, atol=1e-5 * float(img.abs().max()))
    assert (out["sub2noskip.image"] - img).abs().max() > 1e-3
    print(f"{tag}: image range [{img.min():.3f}, {img.max():.3f}] std {img.std():.3f}; "
          f"h ranges {[round(float(out[f'state.h{k}'].abs().max()), 2) for k in range(NB)]}; "
          f"|dL/dw+| {out['grad.full.w_plus'].abs().max():.3g}; |dL/dh1| {out['grad.sub2.h1'].abs().max():.3g}")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for c in CONFIGS:
        make(c)

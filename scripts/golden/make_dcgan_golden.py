"""Makes the DCGAN fixtures in Tests/ModelsTests/Fixtures/dcgan/ from the REAL gan-face-generate
weights (run `bash models/fetch.sh` first). Only inputs and outputs are stored, never the weights.
Computed in float64 from the float32 weights, stored as float32 (see st.py):

  dcgan_golden.safetensors
    z          (4, 100)          z for seeds 0..3: torch.randn(1, 100, generator=manual_seed(s))
    image      (4, 3, 64, 64)    G(z), in (-1, 1)
    state.h0   (4, 512, 4, 4)    block 0 output (after its ReLU)
    grad.R     (4, 3, 64, 64)    fixed random R of L = sum(image * R)
    grad.z     (4, 100)          dL/dz
  dcgan_seed0_states.safetensors (sample 0 only)
    state.h1 (1,256,8,8), state.h2 (1,128,16,16), state.h3 (1,64,32,32)   later block states
    grad.h0, grad.h1, grad.h2    dL/dh_k for the sub-generator started after block k (L with grad.R[0])
Also writes docs/dcgan_reference_grid.png (the 4 faces, 2x2, each upscaled 2x).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402
from dcgan_ref import load_gan_face_generate  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "ModelsTests", "Fixtures", "dcgan")
WEIGHTS = os.path.join(ROOT, "models", "cache", "gan_face_generate", "weights.tar")
WHEEL = os.path.join(ROOT, "models", "cache", "wheels", "gan_face_generate-1.1.1-py3-none-any.whl")


def package_forward(z):
    """The package's own Generator (imported from the wheel; it needs only torch), as a cross-check."""
    sys.path.insert(0, WHEEL)
    from gan_face_generate.models import Generator
    sys.path.remove(WHEEL)
    net = Generator(0, 3, 100, 64)
    net.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True)["netG_state_dict"])
    with torch.no_grad():
        return net.double().eval()(z.view(-1, 100, 1, 1))


def save_grid(images, path, scale=2, pad=2):
    from PIL import Image
    x = ((images.detach().double() + 1) / 2).clamp(0, 1)
    x = torch.nn.functional.interpolate(x, scale_factor=scale, mode="nearest")
    n, _, s, _ = x.shape
    cols = 2
    rows = (n + cols - 1) // cols
    grid = torch.ones(3, rows * (s + pad) + pad, cols * (s + pad) + pad, dtype=torch.float64)
    for i in range(n):
        r, c = divmod(i, cols)
        grid[:, pad + r * (s + pad):pad + r * (s + pad) + s, pad + c * (s + pad):pad + c * (s + pad) + s] = x[i]
    arr = (grid.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    Image.fromarray(arr).save(path)


def main():
    os.makedirs(OUT, exist_ok=True)
    g = load_gan_face_generate(WEIGHTS).double()
    z = torch.cat([torch.randn(1, 100, generator=torch.Generator().manual_seed(s)) for s in range(4)]).double()
    R = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(100)).double()

    # cross-check: the explicit block evaluation equals the nn.Sequential forward in eval mode
    with torch.no_grad():
        seq = g.main(z.view(4, 100, 1, 1))
    zr = z.clone().requires_grad_(True)
    image, states = g(zr)
    assert torch.allclose(image, seq, atol=1e-12)
    assert torch.allclose(image, package_forward(z), atol=1e-12)
    gz, = torch.autograd.grad((image * R).sum(), zr)
    st.save(os.path.join(OUT, "dcgan_golden.safetensors"),
            {"z": z, "image": image, "state.h0": states[0], "grad.R": R, "grad.z": gz},
            {"description": "gan-face-generate 1.1.1 DCGAN, seeds 0..3; L = sum(image * grad.R); "
                            "float64 compute, float32 storage"})

    out = {}
    for k in (1, 2, 3):
        out[f"state.h{k}"] = states[k][:1]
    for k in (0, 1, 2):
        h = states[k][:1].detach().float().double().requires_grad_(True)
        img, _ = g.forward_from_block(k + 1, h)
        out[f"grad.h{k}"], = torch.autograd.grad((img * R[:1]).sum(), h)
    st.save(os.path.join(OUT, "dcgan_seed0_states.safetensors"), out,
            {"description": "sample 0 (seed 0) block states h1..h3 and dL/dh0..dL/dh2 of the sub-generators"})

    os.makedirs(os.path.join(ROOT, "docs"), exist_ok=True)
    save_grid(image, os.path.join(ROOT, "docs", "dcgan_reference_grid.png"))
    print(f"image range [{image.min():.4f}, {image.max():.4f}], mean {image.mean():.4f}; "
          f"h ranges {[round(float(s.detach().max()), 3) for s in states]}; |dL/dz| max {gz.abs().max():.4g}")


if __name__ == "__main__":
    main()

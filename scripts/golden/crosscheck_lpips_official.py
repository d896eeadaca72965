"""Cross-check (optional, not needed to make fixtures): compares lpips_ref.py's goldens with the
official `lpips==0.1.4` package, with the same formula backbone weights loaded into its slices,
and checks that the backbone key names/shapes equal torchvision's.
Setup used: pip install --no-deps --target /tmp/tv "torchvision==0.28.*" lpips==0.1.4
Run:        PYTHONPATH=/tmp/tv python3 scripts/golden/crosscheck_lpips_official.py
torchvision's compiled ops do not match the CPU torch here; only its pure-Python model
definitions are used, so its fake-op registration is disabled, and the lpips trainer's unused
tqdm/scipy imports are stubbed.
Result when run: distances equal to 1e-7, gradients to 4e-8 relative, key lists identical.
"""
import os
import sys
import types

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
torch.library.register_fake = lambda *a, **k: (lambda f: f)
import torchvision.models as tvm  # noqa: E402  (before the stubs below)

sys.modules["tqdm"] = types.SimpleNamespace(tqdm=None)
_scipy = types.ModuleType("scipy")
_scipy.ndimage = types.SimpleNamespace(zoom=None)
sys.modules["scipy"], sys.modules["scipy.ndimage"] = _scipy, _scipy.ndimage

import lpips  # noqa: E402

import st  # noqa: E402
from lpips_ref import formula_state_dict  # noqa: E402

for net, ctor in (("vgg", tvm.vgg16), ("alex", tvm.alexnet), ("squeeze", tvm.squeezenet1_1)):
    tvk = [(k, tuple(v.shape)) for k, v in ctor(weights=None).state_dict().items() if k.startswith("features.")]
    mine = [(k, tuple(v.shape)) for k, v in formula_state_dict(net).items()]
    print(net, "keys identical to torchvision:", tvk == mine, len(mine))

t, _ = st.load(os.path.join(ROOT, "Tests/ModelsTests/Fixtures/lpips/lpips_golden.safetensors"))
for net in ("vgg", "alex", "squeeze"):
    m = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False,
                    model_path=os.path.join(ROOT, f"models/cache/lpips/v0.1/{net}.pth"))
    sd = formula_state_dict(net)
    # official slices keep torchvision's index as the module name: slice2.5.weight -> features.5.weight
    m.net.load_state_dict({k: sd["features." + k.split(".", 1)[1]] for k in m.net.state_dict()})
    m = m.double().eval()
    for tag in ("64", "32"):
        x0 = torch.from_numpy(t[f"in{tag}.x0"].copy()).double().requires_grad_(True)
        x1 = torch.from_numpy(t[f"in{tag}.x1"].copy()).double()
        d = m(x0, x1).flatten()
        g, = torch.autograd.grad(d.sum(), x0)
        d = d.detach()
        gref = torch.from_numpy(t[f"{net}.grad{tag}.x0"].copy()).double()
        dref = torch.from_numpy(t[f"{net}.d{tag}"].copy()).double()
        print(f"{net} {tag}: official {[round(v, 7) for v in d.tolist()]} golden {[round(v, 7) for v in dref.tolist()]}"
              f" max |diff| {float((d - dref).abs().max()):.1e}; grad rel err"
              f" {float((g - gref).abs().max() / gref.abs().max()):.1e}")

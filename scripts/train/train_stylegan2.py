"""Trains a 64x64 StyleGAN2 face generator in the reference port's checkpoint layout.

The generator is `scripts/golden/stylegan2_ref.py`'s `Generator` (the independent port that iloc's
golden files come from), so the saved `g_ema` state dict has exactly the key names and conventions
that `iloc convert` and `--model FILE.pt` read: `{"g_ema": state_dict, "latent_avg": [512]}`.
Training runs its modulated convolutions in the input-scaling form `conv(x * s, W) * d`, which is
the same function as the reference's per-sample weights (checked in `--smoke`) and much faster.

Recipe (StyleGAN2 / StyleGAN2-ADA defaults for a small resolution):
  losses       non-saturating logistic (softplus) for G and D
  R1           on reals, lazy: every 16 D steps, weight 16 * gamma / 2, gamma = 2e-4 * res^2 / batch
  optimizers   Adam(beta1 0, beta2 0.99, lr 0.0025); D's lr and betas adjusted for the lazy R1
  EMA          G_ema with a half-life of 10 * batch / 32 thousand images, ramped up over 5 % of
               the images seen so far
  mixing       style mixing with probability 0.9 (a random crossover row of w+)
  precision    TF32 tensor-core matmuls and convolutions on CUDA (float32 storage, float32 master
               weights); the checkpoint is stored in float16
Data: faces drawn live from the shipped DCGAN (`gan-face-generate`, trained on DigiFace-1M), with
random horizontal flips. The trained model therefore inherits DigiFace-1M's research licence.

Every `--save-every` seconds (and at the end) it writes, atomically, into `--out`:
  stylegan2-face64.pt   {"g_ema": float16 state dict, "latent_avg": float32 [512], "train": {...}}
  samples.png           an 8x8 grid of G_ema on fixed latents and the checkpoint's noise buffers
  train_log.txt         one line per logged iteration
so a run stopped at any time leaves a usable model. `data.png` shows 64 training images.

  python3 scripts/train/train_stylegan2.py --out OUT --minutes 8           # the GPU run
  python3 scripts/train/train_stylegan2.py --out /tmp/t --smoke            # a CPU check (seconds)
"""
import argparse
import copy
import json
import math
import os
import struct
import sys
import time
import zlib

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts", "golden"))
from dcgan_ref import load_gan_face_generate  # noqa: E402
from stylegan2_ref import Generator, ModulatedConv2d, make_kernel, blur_depthwise, SQRT2  # noqa: E402

CHECKPOINT = "stylegan2-face64.pt"
DEFAULT_G = "4:256,8:256,16:256,32:128,64:64"


# ---------------------------------------------------------------- generator, training form
def modconv_input_scaling(self, x, style):
    """ModulatedConv2d in the input-scaling form: the same function as the reference's
    per-sample weights (scale·W·s, demodulated), computed as conv(x·s, scale·W)·d."""
    b = x.shape[0]
    s = self.modulation(style)                                    # (B, in)
    w = self.scale * self.weight[0]                               # (out, in, k, k)
    x = x * s[:, :, None, None]
    if self.upsample:
        y = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
    else:
        y = F.conv2d(x, w, padding=self.k // 2)
    if self.demodulate:
        d = torch.rsqrt(s.square() @ w.square().sum([2, 3]).t() + 1e-8)   # (B, out)
        y = y * d.view(b, self.out_ch, 1, 1)
    return self.blur(y) if self.upsample else y


def use_input_scaling(g, on=True):
    """Switches every modulated convolution of `g` to (or back from) the input-scaling form."""
    for m in g.modules():
        if isinstance(m, ModulatedConv2d):
            if on:
                m.forward = modconv_input_scaling.__get__(m)
            elif "forward" in m.__dict__:
                del m.forward


def random_noises(g, batch, device):
    return [torch.randn(batch, 1, g.block_resolution((i + 1) // 2), g.block_resolution((i + 1) // 2),
                        device=device) for i in range(g.num_layers)]


def mixed_w_plus(g, batch, device, mixing):
    """w+ for a batch: one w per sample, or (with probability `mixing`) two, switched at a random row."""
    z = torch.randn(2, batch, g.style_dim, device=device)
    w = g.mapping(z)                                              # (2, B, D)
    rows = torch.arange(g.n_latent, device=device)[None, :, None]
    cut = torch.where(torch.rand(batch, device=device) < mixing,
                      torch.randint(1, g.n_latent, (batch,), device=device),
                      torch.full((batch,), g.n_latent, device=device))
    return torch.where(rows < cut[:, None, None], w[0][:, None], w[1][:, None])


# ---------------------------------------------------------------- discriminator
class EqualConv(nn.Module):
    """Conv with equalized learning rate, optional bias + LeakyReLU(0.2)·sqrt(2), optional stride 2 after a blur."""

    def __init__(self, cin, cout, k, down=False, bias=True, act=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.scale, self.k, self.down, self.act = 1 / math.sqrt(cin * k * k), k, down, act
        if down:
            p = 4 - 2 + k - 1
            self.register_buffer("kernel", make_kernel())
            self.pad = ((p + 1) // 2, p // 2)

    def forward(self, x):
        if self.down:
            x = blur_depthwise(x, self.kernel, self.pad)
            y = F.conv2d(x, self.weight * self.scale, stride=2)
        else:
            y = F.conv2d(x, self.weight * self.scale, padding=self.k // 2)
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return F.leaky_relu(y, 0.2) * SQRT2 if self.act else y


class EqualDense(nn.Module):
    def __init__(self, cin, cout, act):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale, self.act = 1 / math.sqrt(cin), act

    def forward(self, x):
        y = F.linear(x, self.weight * self.scale, self.bias)
        return F.leaky_relu(y, 0.2) * SQRT2 if self.act else y


class ResBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = EqualConv(cin, cin, 3)
        self.conv2 = EqualConv(cin, cout, 3, down=True)
        self.skip = EqualConv(cin, cout, 1, down=True, bias=False, act=False)

    def forward(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / SQRT2


class Discriminator(nn.Module):
    """StyleGAN2's residual discriminator: fromRGB, residual blocks down to 4x4, minibatch stddev
    (groups of 4, one feature), a 3x3 conv and two dense layers."""

    def __init__(self, size, channels):
        super().__init__()
        self.from_rgb = EqualConv(3, channels[size], 1)
        blocks, r = [], size
        while r > 4:
            blocks.append(ResBlock(channels[r], channels[r // 2]))
            r //= 2
        self.blocks = nn.Sequential(*blocks)
        c4 = channels[4]
        self.final_conv = EqualConv(c4 + 1, c4, 3)
        self.dense = EqualDense(c4 * 16, c4, act=True)
        self.out = EqualDense(c4, 1, act=False)

    def forward(self, img):
        x = self.blocks(self.from_rgb(img))
        b, c, h, w = x.shape
        g = min(4, b)
        while b % g:
            g -= 1
        sd = x.view(g, -1, c, h, w)
        sd = torch.sqrt(sd.var(0, unbiased=False) + 1e-8).mean([1, 2, 3])       # (B/g,)
        sd = sd.view(-1, 1, 1, 1).repeat(g, 1, h, w)
        x = self.final_conv(torch.cat([x, sd], 1))
        return self.out(self.dense(x.flatten(1)))


# ---------------------------------------------------------------- data
class DCGANFaces:
    """Face images drawn live from the shipped DCGAN, in [-1, 1], randomly flipped left-right."""

    def __init__(self, path, device):
        self.net = load_gan_face_generate(path).to(device).requires_grad_(False)
        self.device = device

    @torch.no_grad()
    def sample(self, n):
        img = self.net(torch.randn(n, 100, device=self.device))[0]
        flip = torch.rand(n, 1, 1, 1, device=self.device) < 0.5
        return torch.where(flip, img.flip(3), img)


# ---------------------------------------------------------------- outputs
def write_png(path, rgb):
    """rgb: uint8 tensor (H, W, 3). A minimal PNG encoder (8-bit RGB, one IDAT)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + bytes(rgb[y].flatten().tolist()) for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    atomic_write(path, lambda f: f.write(png))


def grid(images, cols=8):
    """(N, 3, H, W) in [-1, 1] -> uint8 (rows·H, cols·W, 3)."""
    n, _, h, w = images.shape
    rows = (n + cols - 1) // cols
    x = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    out = torch.zeros(rows * h, cols * w, 3, dtype=torch.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * h:(r + 1) * h, c * w:(c + 1) * w] = x[i].permute(1, 2, 0)
    return out


def atomic_write(path, write):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        write(f)
    os.replace(tmp, path)


@torch.no_grad()
def save(args, g_ema, info, fixed_z):
    """Writes the checkpoint (float16 g_ema + latent_avg) and the sample grid."""
    dev = fixed_z.device
    latent_avg = g_ema.mapping(torch.randn(8192, g_ema.style_dim, device=dev)).mean(0)
    sd = {k: (v.half() if v.is_floating_point() else v).cpu().clone() for k, v in g_ema.state_dict().items()}
    ckpt = {"g_ema": sd, "latent_avg": latent_avg.float().cpu(), "train": dict(info)}
    atomic_write(os.path.join(args.out, CHECKPOINT), lambda f: torch.save(ckpt, f))
    img, _ = g_ema.synthesis(g_ema.mapping(fixed_z)[:, None].expand(-1, g_ema.n_latent, -1))
    write_png(os.path.join(args.out, "samples.png"), grid(img))


# ---------------------------------------------------------------- training
def parse_channels(text):
    return {int(k): int(v) for k, v in (p.split(":") for p in text.split(","))}


def requires_grad(m, flag):
    for p in m.parameters():
        p.requires_grad_(flag)


class Trainer:
    def __init__(self, args, device):
        self.args, self.dev = args, device
        ch = parse_channels(args.channels)
        self.g = Generator(args.size, args.style_dim, args.n_mlp, channels=ch).to(device)
        self.d = Discriminator(args.size, parse_channels(args.d_channels or args.channels)).to(device)
        self.g_ema = copy.deepcopy(self.g).eval().requires_grad_(False)
        for m in (self.g, self.g_ema):
            use_input_scaling(m)
        self.data = DCGANFaces(args.dcgan, device)
        c = args.r1_every / (args.r1_every + 1)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=args.lr, betas=(0.0, 0.99))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=args.lr * c, betas=(0.0, 0.99 ** c))
        self.gamma = args.r1_gamma if args.r1_gamma is not None else 2e-4 * args.size ** 2 / args.batch
        self.nimg, self.iter = 0, 0

    def fake(self, grad):
        b = self.args.batch
        with torch.set_grad_enabled(grad):
            w = mixed_w_plus(self.g, b, self.dev, self.args.mixing)
            return self.g.synthesis(w, random_noises(self.g, b, self.dev))[0]

    def d_step(self):
        requires_grad(self.d, True)
        fake, real = self.fake(False), self.data.sample(self.args.batch)
        loss = F.softplus(self.d(fake)).mean() + F.softplus(-self.d(real)).mean()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        r1 = None
        if self.iter % self.args.r1_every == 0:
            real.requires_grad_(True)
            (grad,) = torch.autograd.grad(self.d(real).sum(), real, create_graph=True)
            r1 = grad.square().sum([1, 2, 3]).mean()
            self.opt_d.zero_grad(set_to_none=True)
            (self.gamma / 2 * r1 * self.args.r1_every).backward()
            self.opt_d.step()
        return loss.item(), r1

    def g_step(self):
        requires_grad(self.d, False)
        loss = F.softplus(-self.d(self.fake(True))).mean()
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return loss.item()

    @torch.no_grad()
    def update_ema(self):
        a = self.args
        half_life = min(a.ema_kimg * 1000, self.nimg * a.ema_rampup)
        beta = 0.5 ** (a.batch / max(half_life, 1e-8))
        for pe, p in zip(self.g_ema.parameters(), self.g.parameters()):
            pe.lerp_(p, 1 - beta)
        for be, b in zip(self.g_ema.buffers(), self.g.buffers()):
            be.copy_(b)

    def step(self):
        d_loss, r1 = self.d_step()
        g_loss = self.g_step()
        self.iter += 1
        self.nimg += self.args.batch
        self.update_ema()
        return d_loss, g_loss, r1


def check_input_scaling(g, device):
    """The training form equals the reference's per-sample weights (one batch, float64)."""
    ref = copy.deepcopy(g).double()
    use_input_scaling(ref, False)
    fast = copy.deepcopy(ref)
    use_input_scaling(fast, True)
    w = torch.randn(3, g.n_latent, g.style_dim, dtype=torch.float64, device=device)
    noises = [n.double() for n in random_noises(g, 3, device)]
    a, b = ref.synthesis(w, noises)[0], fast.synthesis(w, noises)[0]
    err = (a - b).abs().max().item() / max(a.abs().max().item(), 1e-12)
    if err > 1e-10:
        raise SystemExit(f"input-scaling form differs from the reference: relative error {err:.3g}")
    return err


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--dcgan", default=os.path.join(ROOT, "models", "cache", "gan_face_generate", "weights.tar"))
    p.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget from start, including set-up")
    p.add_argument("--max-iters", type=int, default=0, help="stop after this many iterations (0: no limit)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--style-dim", type=int, default=512)
    p.add_argument("--n-mlp", type=int, default=8)
    p.add_argument("--channels", default=DEFAULT_G, help="generator channels, res:ch,...")
    p.add_argument("--d-channels", default=None, help="discriminator channels (default: the generator's)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.0025)
    p.add_argument("--r1-gamma", type=float, default=None, help="default 2e-4 * size^2 / batch")
    p.add_argument("--r1-every", type=int, default=16)
    p.add_argument("--ema-kimg", type=float, default=None, help="EMA half-life, default 10 * batch / 32")
    p.add_argument("--ema-rampup", type=float, default=0.05)
    p.add_argument("--mixing", type=float, default=0.9)
    p.add_argument("--save-every", type=float, default=60.0, help="seconds between checkpoints")
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--device", default="auto")
    p.add_argument("--smoke", action="store_true", help="tiny widths and a few iterations on the CPU")
    a = p.parse_args(argv)
    if a.smoke:
        a.channels, a.style_dim, a.n_mlp, a.batch = "4:8,8:8,16:8,32:8,64:4", 16, 2, 4
        a.max_iters, a.log_every, a.device = a.max_iters or 6, 1, "cpu"
        a.r1_every = 4
    if a.ema_kimg is None:
        a.ema_kimg = 10 * a.batch / 32
    return a


def main(argv=None):
    start = time.time()
    a = parse_args(argv)
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    torch.manual_seed(a.seed)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    os.makedirs(a.out, exist_ok=True)
    t = Trainer(a, dev)
    err = check_input_scaling(t.g, dev)
    fixed_z = torch.randn(64, a.style_dim, generator=torch.Generator().manual_seed(0)).to(dev)
    write_png(os.path.join(a.out, "data.png"), grid(t.data.sample(64)))
    params = {"g": sum(p.numel() for p in t.g.parameters()), "d": sum(p.numel() for p in t.d.parameters())}
    head = {**{k: v for k, v in vars(a).items() if k not in ("out", "dcgan")}, "device": str(dev),
            "torch": torch.__version__, "params": params, "r1_gamma": t.gamma, "input_scaling_check": err}
    if dev.type == "cuda":
        head["gpu"] = torch.cuda.get_device_name()
    log = open(os.path.join(a.out, "train_log.txt"), "a")

    def emit(line):
        print(line, flush=True)
        log.write(line + "\n")
        log.flush()
    emit("config " + json.dumps(head))
    last_save, t0 = time.time(), time.time()
    info = {}
    while True:
        d_loss, g_loss, r1 = t.step()
        now = time.time()
        if not all(math.isfinite(v) for v in (d_loss, g_loss)):
            emit(f"stop: non-finite loss at iteration {t.iter} (D {d_loss}, G {g_loss}); keeping the last checkpoint")
            break
        if t.iter % a.log_every == 0 or t.iter == 1:
            rate = t.iter / max(now - t0, 1e-9)
            r1s = f" r1 {r1.item():.4f}" if r1 is not None else ""
            emit(f"iter {t.iter} kimg {t.nimg / 1000:.1f} sec {now - start:.0f} it/s {rate:.2f} "
                 f"D {d_loss:.4f} G {g_loss:.4f}{r1s}")
        info = {"iterations": t.iter, "images_seen": t.nimg, "seconds": round(now - start, 1),
                "batch": a.batch, "channels": a.channels, "device": str(dev)}
        done = (a.max_iters and t.iter >= a.max_iters) or now - start > a.minutes * 60
        if done or now - last_save > a.save_every:
            save(a, t.g_ema, info, fixed_z)
            last_save = time.time()
            emit(f"saved {CHECKPOINT} at iteration {t.iter} ({t.nimg / 1000:.1f} kimg, {last_save - start:.0f} s)")
        if done:
            break
    emit("done " + json.dumps(info))


if __name__ == "__main__":
    main()

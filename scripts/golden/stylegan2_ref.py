"""Independent PyTorch StyleGAN2 generator, written from iloc's spec (reference-code.md §C).

Checkpoint compatibility: module/buffer names reproduce the widely used PyTorch port's
state_dict keys exactly (`style.{1..n_mlp}.weight`, `input.input`, `conv1.conv.weight`
(1,out,in,3,3), `conv1.conv.modulation.{weight,bias}`, `conv1.noise.weight`,
`conv1.activate.bias`, `to_rgb1.*`, `convs.j.*`, `convs.(even j).conv.blur.kernel`,
`to_rgbs.k.*`, `to_rgbs.k.upsample.kernel`, `noises.noise_i`), so a real `g_ema`
state_dict loads with strict=True.

Semantics (per spec):
  mapping      PixelNorm (x * rsqrt(mean_c x^2 + 1e-8)) then n_mlp EqualLinear(lr_mul) + fused lrelu
  EqualLinear  y = x (W * lr_mul/sqrt(in))^T + b * lr_mul
  fused lrelu  LeakyReLU_0.2(v + b) * sqrt(2)
  ModConv      W' = W/sqrt(in*k*k) * s (s = modulation(w), bias init 1); demod per out channel
               and sample: W'' = W' * rsqrt(sum W'^2 + 1e-8); up: conv_transpose2d stride 2 with
               W'' viewed (in,out,k,k), then Blur (K*4, pad (1,1)) -> 2H
  Noise        x + g * n (g scalar, n (B,1,H,W))
  ToRGB        ModConv k=1 no demod + bias(1,3,1,1) [+ Upsample(skip): upfirdn up=2, K*4, pad (2,1)]
Blur and Upsample run as depthwise convolutions (groups = C), the fast form;
`upfirdn2d_naive` is the literal zero-insert/pad/convolve definition, used by `selftest`.

Block k (ILO's "layer k"): block 0 = conv1 (w+ 0, noise 0) + to_rgb1 (w+ 1);
block k>=1 = convs[2k-2] (w+ 2k-1, noise 2k-1, upsampling), convs[2k-1] (w+ 2k, noise 2k),
to_rgbs[k-1] (w+ 2k+1, with the upsampled skip). State after block k = (h_k, skip_k).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


# ---------------------------------------------------------------- filters
def make_kernel(taps=(1, 3, 3, 1)):
    """Separable blur kernel outer(taps, taps) normalised to sum 1 (4x4 for [1,3,3,1])."""
    k = torch.tensor(taps, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn2d_naive(x, kernel, up=1, down=1, pad=(0, 0)):
    """Literal definition: zero-insert by `up`, zero-pad (p0,p1), true 2-D convolution, keep every `down`-th."""
    b, c, h, w = x.shape
    if up > 1:
        z = x.new_zeros(b, c, h * up, w * up)
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    kf = torch.flip(kernel, [0, 1]).to(x.dtype)
    kh, kw = kf.shape
    x = F.conv2d(x.reshape(b * c, 1, x.shape[2], x.shape[3]), kf.view(1, 1, kh, kw))
    x = x.reshape(b, c, x.shape[2], x.shape[3])
    return x[:, :, ::down, ::down]


def blur_depthwise(x, kernel, pad):
    """upfirdn2d(up=1, down=1, pad) as one depthwise conv2d."""
    c = x.shape[1]
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    kf = torch.flip(kernel, [0, 1]).to(x.dtype)
    return F.conv2d(x, kf.expand(c, 1, *kf.shape), groups=c)


def upsample2_depthwise(x, kernel):
    """upfirdn2d(up=2, pad=(2,1)) with a 4x4 kernel as one depthwise conv_transpose2d
    (stride 2, padding 1): out[o] = sum_i x[i] K[o + 1 - 2i], i.e. H -> 2H."""
    c = x.shape[1]
    assert kernel.shape == (4, 4)
    return F.conv_transpose2d(x, kernel.to(x.dtype).expand(c, 1, 4, 4), stride=2, padding=1, groups=c)


def fused_lrelu(x, bias):
    shape = [1, -1] + [1] * (x.dim() - 2)
    return F.leaky_relu(x + bias.view(*shape), 0.2) * SQRT2


# ---------------------------------------------------------------- layers
class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(torch.mean(x * x, dim=-1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    def __init__(self, in_dim, out_dim, bias_init=0.0, lr_mul=1.0, activation=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim) / lr_mul)
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x):
        if self.activation:
            lead = x.shape[:-1]
            y = F.linear(x.reshape(-1, x.shape[-1]), self.weight * self.scale)
            return fused_lrelu(y, self.bias * self.lr_mul).reshape(*lead, -1)
        return F.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class Blur(nn.Module):
    def __init__(self, pad, factor2):
        super().__init__()
        self.register_buffer("kernel", make_kernel() * factor2)
        self.pad = pad

    def forward(self, x):
        return blur_depthwise(x, self.kernel, self.pad)


class Upsample(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("kernel", make_kernel() * 4)

    def forward(self, x):
        return upsample2_depthwise(x, self.kernel)


class ModulatedConv2d(nn.Module):
    def __init__(self, in_ch, out_ch, k, style_dim, demodulate=True, upsample=False):
        super().__init__()
        self.in_ch, self.out_ch, self.k = in_ch, out_ch, k
        self.demodulate, self.upsample = demodulate, upsample
        self.scale = 1.0 / math.sqrt(in_ch * k * k)
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, k, k))
        self.modulation = EqualLinear(style_dim, in_ch, bias_init=1.0)
        if upsample:
            self.blur = Blur(pad=(1, 1), factor2=4)

    def modulated_weight(self, style):
        b = style.shape[0]
        s = self.modulation(style).view(b, 1, self.in_ch, 1, 1)
        w = self.scale * self.weight * s
        if self.demodulate:
            d = torch.rsqrt(w.pow(2).sum([2, 3, 4]) + 1e-8)
            w = w * d.view(b, self.out_ch, 1, 1, 1)
        return w  # (B, out, in, k, k)

    def forward(self, x, style):
        b, _, h, wd = x.shape
        w = self.modulated_weight(style)
        x = x.reshape(1, b * self.in_ch, h, wd)
        if self.upsample:
            wt = w.transpose(1, 2).reshape(b * self.in_ch, self.out_ch, self.k, self.k)
            y = F.conv_transpose2d(x, wt, stride=2, padding=0, groups=b)
            y = y.reshape(b, self.out_ch, y.shape[2], y.shape[3])
            return self.blur(y)
        y = F.conv2d(x, w.reshape(b * self.out_ch, self.in_ch, self.k, self.k),
                     padding=self.k // 2, groups=b)
        return y.reshape(b, self.out_ch, y.shape[2], y.shape[3])


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, noise):
        return x + self.weight * noise


class FusedLeakyReLU(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(ch))

    def forward(self, x):
        return fused_lrelu(x, self.bias)


class StyledConv(nn.Module):
    def __init__(self, in_ch, out_ch, k, style_dim, upsample=False):
        super().__init__()
        self.conv = ModulatedConv2d(in_ch, out_ch, k, style_dim, demodulate=True, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_ch)

    def forward(self, x, style, noise):
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    def __init__(self, in_ch, style_dim, upsample=True):
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = ModulatedConv2d(in_ch, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class ConstantInput(nn.Module):
    def __init__(self, ch, size=4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, ch, size, size))

    def forward(self, batch):
        return self.input.repeat(batch, 1, 1, 1)


def default_channels(channel_multiplier=2):
    cm = channel_multiplier
    return {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm,
            256: 64 * cm, 512: 32 * cm, 1024: 16 * cm}


# ---------------------------------------------------------------- generator
class Generator(nn.Module):
    def __init__(self, size, style_dim=512, n_mlp=8, channel_multiplier=2, lr_mlp=0.01, channels=None):
        super().__init__()
        assert size >= 8 and size & (size - 1) == 0, "size must be a power of two >= 8"
        self.size, self.style_dim, self.n_mlp = size, style_dim, n_mlp
        self.channels = dict(default_channels(channel_multiplier))
        if channels:
            self.channels.update({int(k): int(v) for k, v in channels.items()})
        ch = self.channels
        self.log_size = int(math.log2(size))
        self.num_layers = (self.log_size - 2) * 2 + 1   # noise maps
        self.n_latent = self.log_size * 2 - 2           # w+ rows
        self.num_blocks = self.log_size - 1             # block 0 at 4x4 ... block n-1 at size

        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation=True) for _ in range(n_mlp)])
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], 3, style_dim)
        self.to_rgb1 = ToRGB(ch[4], style_dim, upsample=False)
        self.convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):
            res = (i + 5) // 2
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, 2 ** res, 2 ** res))
        in_ch = ch[4]
        for i in range(3, self.log_size + 1):
            out_ch = ch[2 ** i]
            self.convs.append(StyledConv(in_ch, out_ch, 3, style_dim, upsample=True))
            self.convs.append(StyledConv(out_ch, out_ch, 3, style_dim))
            self.to_rgbs.append(ToRGB(out_ch, style_dim))
            in_ch = out_ch

    # -- latents
    def mapping(self, z):
        """z (..., style_dim) -> w (..., style_dim); each row mapped independently."""
        lead = z.shape[:-1]
        return self.style(z.reshape(-1, self.style_dim)).reshape(*lead, self.style_dim)

    @torch.no_grad()
    def mean_latent(self, n, generator=None):
        z = torch.randn(n, self.style_dim, generator=generator).to(self.input.input)
        return self.mapping(z).mean(0)

    @staticmethod
    def truncate(w, psi, w_avg):
        return w_avg + psi * (w - w_avg)

    def buffer_noises(self):
        return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]

    def block_resolution(self, k):
        return 4 * 2 ** k

    # -- synthesis
    def block(self, k, h, skip, w_plus, noises):
        """Runs block k. h = h_{k-1} (ignored for k=0), skip = s_{k-1} or None. Returns (h_k, s_k)."""
        if k == 0:
            out = self.conv1(self.input(w_plus.shape[0]), w_plus[:, 0], noises[0])
            return out, self.to_rgb1(out, w_plus[:, 1])
        out = self.convs[2 * k - 2](h, w_plus[:, 2 * k - 1], noises[2 * k - 1])
        out = self.convs[2 * k - 1](out, w_plus[:, 2 * k], noises[2 * k])
        return out, self.to_rgbs[k - 1](out, w_plus[:, 2 * k + 1], skip)

    def forward_from_block(self, k, h, skip, w_plus, noises=None):
        """Sub-generator g_{n-1} o ... o g_k started from state (h_{k-1}, skip_{k-1}).
        skip=None reproduces the reference ILO code (coarse RGB dropped).
        Returns (image, [(h_j, skip_j) for j = k .. num_blocks-1])."""
        noises = self.buffer_noises() if noises is None else noises
        states = []
        for j in range(k, self.num_blocks):
            h, skip = self.block(j, h, skip, w_plus, noises)
            states.append((h, skip))
        return skip, states

    def synthesis(self, w_plus, noises=None):
        return self.forward_from_block(0, None, None, w_plus, noises)

    def forward(self, latent, input_is_latent=False, truncation=1.0, truncation_latent=None, noises=None):
        """latent: z or w of shape (B, style_dim) (broadcast to all rows) or (B, n_latent, style_dim).
        Returns (image, per-block states)."""
        w = latent if input_is_latent else self.mapping(latent)
        if truncation != 1.0:
            w = self.truncate(w, truncation, truncation_latent)
        if w.dim() == 2:
            w = w[:, None, :].expand(-1, self.n_latent, -1)
        return self.synthesis(w, noises)


# ---------------------------------------------------------------- checks
def _modconv_loop(mc, x, style):
    """Per-sample reference for ModulatedConv2d (no grouping tricks)."""
    w = mc.modulated_weight(style)
    outs = []
    for i in range(x.shape[0]):
        if mc.upsample:
            y = F.conv_transpose2d(x[i:i + 1], w[i].transpose(0, 1), stride=2)
            y = upfirdn2d_naive(y, mc.blur.kernel, pad=(1, 1))
        else:
            y = F.conv2d(x[i:i + 1], w[i], padding=mc.k // 2)
        outs.append(y)
    return torch.cat(outs)


def selftest():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 7, 6, dtype=torch.float64)
    k4 = make_kernel().double() * 4
    asym = torch.rand(4, 4, dtype=torch.float64)
    for ker in (k4, asym):
        assert torch.allclose(blur_depthwise(x, ker, (1, 1)), upfirdn2d_naive(x, ker, pad=(1, 1)))
        assert torch.allclose(upsample2_depthwise(x, ker), upfirdn2d_naive(x, ker, up=2, pad=(2, 1)))
    g = Generator(32, style_dim=8, n_mlp=2, channels={4: 6, 8: 5, 16: 4, 32: 3}).double()
    for p in g.parameters():
        p.data.normal_()
    w = torch.randn(2, g.n_latent, 8, dtype=torch.float64)
    for mc, hin in ((g.convs[0].conv, torch.randn(2, 6, 4, 4, dtype=torch.float64)),
                    (g.convs[1].conv, torch.randn(2, 5, 8, 8, dtype=torch.float64))):
        assert torch.allclose(mc(hin, w[:, 0]), _modconv_loop(mc, hin, w[:, 0]))
    noises = [torch.randn(2, 1, 2 ** ((i + 5) // 2), 2 ** ((i + 5) // 2), dtype=torch.float64)
              for i in range(g.num_layers)]
    img, states = g.synthesis(w, noises)
    assert img.shape == (2, 3, 32, 32) and len(states) == 4
    img2, _ = g.forward_from_block(2, states[1][0], states[1][1], w, noises)
    assert torch.allclose(img, img2)
    h1 = states[1][0].detach().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda hh: g.forward_from_block(2, hh, None, w, noises)[0].sum(), (h1,))
    wv = w.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda ww: g.synthesis(ww, noises)[0].square().mean(), (wv,))
    print("stylegan2_ref selftest ok")


if __name__ == "__main__":
    selftest()

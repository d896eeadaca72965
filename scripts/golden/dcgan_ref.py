"""Independent PyTorch DCGAN generator matching the `gan-face-generate==1.1.1` checkpoint.

Checkpoint: `weights.tar` is a torch zip (archive prefix `weights/`), a dict
{"netG_state_dict": OrderedDict} with the PyTorch DCGAN-tutorial layout (nz=100, ngf=64, nc=3):
  main.0.weight  (100, 512, 4, 4)   ConvTranspose2d 100->512, k4, stride 1, pad 0, no bias   1 -> 4
  main.1.{weight,bias,running_mean,running_var} (512)  BatchNorm2d (eps 1e-5), num_batches_tracked int64
  main.3.weight  (512, 256, 4, 4)   ConvTranspose2d k4 s2 p1                                  4 -> 8
  main.4.*       (256)              BatchNorm2d
  main.6.weight  (256, 128, 4, 4)                                                             8 -> 16
  main.7.*       (128)
  main.9.weight  (128, 64, 4, 4)                                                             16 -> 32
  main.10.*      (64)
  main.12.weight (64, 3, 4, 4)      ConvTranspose2d k4 s2 p1, then Tanh                     32 -> 64
(indices 2, 5, 8, 11 are the ReLUs, 13 the Tanh; ConvTranspose2d weights are (in, out, kh, kw)).
Block k (k = 0..3) = ConvT, BatchNorm (eval: per-channel affine with the running stats), ReLU;
block 4 = ConvT, Tanh -> image in (-1, 1). Block k's state = its output after the ReLU.
"""
import torch
import torch.nn.functional as F
from torch import nn

BN_EPS = 1e-5
CONV_INDEX = [0, 3, 6, 9, 12]
BN_INDEX = [1, 4, 7, 10]


class DCGANGenerator(nn.Module):
    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        chans = [nz, ngf * 8, ngf * 4, ngf * 2, ngf, nc]
        layers = []
        for k in range(5):
            stride, pad = (1, 0) if k == 0 else (2, 1)
            layers.append(nn.ConvTranspose2d(chans[k], chans[k + 1], 4, stride, pad, bias=False))
            if k < 4:
                layers += [nn.BatchNorm2d(chans[k + 1], eps=BN_EPS), nn.ReLU()]
            else:
                layers.append(nn.Tanh())
        self.main = nn.Sequential(*layers)
        self.nz = nz

    def block(self, k, h):
        """Block k on input h (z as (B, nz, 1, 1) for k = 0), written out explicitly."""
        conv = self.main[CONV_INDEX[k]]
        stride, pad = (1, 0) if k == 0 else (2, 1)
        y = F.conv_transpose2d(h, conv.weight, stride=stride, padding=pad)
        if k == 4:
            return torch.tanh(y)
        bn = self.main[BN_INDEX[k]]
        inv = torch.rsqrt(bn.running_var + BN_EPS) * bn.weight
        y = (y - bn.running_mean.view(1, -1, 1, 1)) * inv.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)
        return torch.relu(y)

    def forward_from_block(self, k, h):
        """Runs blocks k..4 from h (h = z for k = 0, else block k-1's state). Returns (image, states)."""
        states = []
        for j in range(k, 5):
            h = self.block(j, h)
            states.append(h)
        return h, states[:-1]

    def forward(self, z):
        return self.forward_from_block(0, z.reshape(z.shape[0], self.nz, 1, 1))


def load_gan_face_generate(path):
    ck = torch.load(path, map_location="cpu", weights_only=True)
    g = DCGANGenerator()
    g.load_state_dict(ck["netG_state_dict"], strict=True)
    return g.eval()

"""Sub-pixel ×2 upsampling with ICNR init and the always-on blur (colorize-spec §1, trap 1)."""
from __future__ import annotations

import torch
from torch import nn

from .norm_conv import SpectralNormConv, WeightNormConv2d


@torch.no_grad()
def icnr_(weight: torch.Tensor, scale: int = 2) -> torch.Tensor:
    """ICNR init in place: each group of scale² output channels starts equal, so the shuffle
    initially behaves like nearest upsampling (no checkerboard). ``weight`` is (out, in, kh, kw)."""
    ni, nf, h, w = weight.shape
    ni2 = ni // scale**2
    k = nn.init.kaiming_normal_(torch.zeros(ni2, nf, h, w)).transpose(0, 1)
    k = k.contiguous().view(ni2, nf, -1).repeat(1, 1, scale**2)
    weight.copy_(k.contiguous().view(nf, ni, h, w).transpose(0, 1))
    return weight


class PixelShuffleICNR(nn.Module):
    """1×1 conv to 4·nf channels → ReLU → PixelShuffle(2) → replication pad (left, top) → 2×2 avg.

    ``norm='spectral'``: DeOldify's CustomPixelShuffle_ICNR (SN conv without bias, then BatchNorm).
    ``norm='weight'``: fastai's final PixelShuffle_ICNR (weight-normed conv with bias, no BN).
    The blur always runs: the original tested a Module's truthiness, which is always True.
    """

    def __init__(self, ni: int, nf: int, norm: str = "spectral"):
        super().__init__()
        if norm == "spectral":
            conv = SpectralNormConv(ni, nf * 4, 1, bias=False)
            icnr_(conv.weight_orig)
            conv.power_iteration(15)
            self.conv = nn.Sequential(conv, nn.BatchNorm2d(nf * 4))
        elif norm == "weight":
            conv = WeightNormConv2d(ni, nf * 4, 1)
            with torch.no_grad():
                icnr_(conv.weight_v)
                conv.weight_g.copy_(torch.linalg.vector_norm(conv.weight_v, dim=(1, 2, 3), keepdim=True))
            self.conv = nn.Sequential(conv)
        else:
            raise ValueError(f"norm must be 'spectral' or 'weight', not {norm!r}")
        self.relu = nn.ReLU(inplace=True)
        self.shuf = nn.PixelShuffle(2)
        self.pad = nn.ReplicationPad2d((1, 0, 1, 0))
        self.blur = nn.AvgPool2d(2, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blur(self.pad(self.shuf(self.relu(self.conv(x)))))

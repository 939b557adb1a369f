"""Spectral-normed conv blocks of the DeOldify U-Net (colorize-spec §1, building blocks)."""
from __future__ import annotations

import torch
from torch import nn

from .attention import SelfAttention
from .norm_conv import SpectralNormConv


def sn_conv_bn(ni: int, nf: int, ks: int = 3, self_attention: bool = False) -> nn.Sequential:
    """DeOldify ``custom_conv_layer(extra_bn=True)``: [0] SN conv (no bias), [1] ReLU, [2] BN, [3] SA."""
    layers: list[nn.Module] = [
        SpectralNormConv(ni, nf, ks, padding=(ks - 1) // 2, bias=False),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(nf),
    ]
    if self_attention:
        layers.append(SelfAttention(nf))
    return nn.Sequential(*layers)


def sn_conv(ni: int, nf: int, ks: int = 3, activation: bool = True) -> nn.Sequential:
    """fastai ``conv_layer(norm_type=Spectral)``: [0] SN conv with bias, [1] ReLU (optional)."""
    layers: list[nn.Module] = [SpectralNormConv(ni, nf, ks, padding=(ks - 1) // 2, bias=True)]
    if activation:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    """fastai ``res_block``: x + ReLU(conv(ReLU(conv(x)))), keys ``layers.{0,1}.0.*``."""

    def __init__(self, channels: int):
        super().__init__()
        self.layers = nn.ModuleList([sn_conv(channels, channels), sn_conv(channels, channels), nn.Identity()])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers[1](self.layers[0](x))

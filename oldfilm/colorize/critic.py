"""DeOldify's patch critic (``custom_gan_critic``, colorize-spec §6) with a width knob.

Training only. Structure, all convs spectral-normed with bias, LeakyReLU 0.2, no BN:
``conv4x4/s2 3->nf``, Dropout2d(p/2); ``n_blocks`` x [conv3x3 C->C, Dropout2d(p),
conv4x4/s2 C->2C (the first carries self-attention)]; ``conv3x3``; ``conv4x4 ->1`` (pad 0,
no bias, no activation); flatten. DeOldify uses nf=256 (94.56 M params); our CPU default is far
smaller. Input: float32 Nx3xHxW ImageNet-normalised; output: N x P patch logits.
"""
from __future__ import annotations

import torch
from torch import nn

from ..nn.attention import SelfAttention
from ..nn.norm_conv import SpectralNormConv


class _SNConv(nn.Module):
    def __init__(self, ni: int, nf: int, ks: int, stride: int, padding: int, bias: bool = True, act: bool = True):
        super().__init__()
        self.conv = SpectralNormConv(ni, nf, ks, padding=0, bias=bias)
        self.stride, self.padding = stride, padding
        self.act = nn.LeakyReLU(0.2, inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.conv.normalized_weight()
        return self.act(nn.functional.conv2d(x, w, self.conv.bias, self.stride, self.padding))


def patch_critic(nf: int = 256, n_blocks: int = 3, p: float = 0.15, self_attention: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [_SNConv(3, nf, 4, 2, 1), nn.Dropout2d(p / 2)]
    c = nf
    for i in range(n_blocks):
        layers += [_SNConv(c, c, 3, 1, 1), nn.Dropout2d(p), _SNConv(c, 2 * c, 4, 2, 1)]
        if i == 0 and self_attention:
            layers.append(SelfAttention(2 * c))
        c *= 2
    layers += [_SNConv(c, c, 3, 1, 1), _SNConv(c, 1, 4, 1, 0, bias=False, act=False), nn.Flatten()]
    return nn.Sequential(*layers)

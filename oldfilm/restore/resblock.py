"""BOPBTL's ResnetBlock (Global/models/networks.py): x + [pad, conv3, IN, ReLU, pad, conv3, IN].

Key layout ``conv_block.{1,5}.{weight,bias}`` as in the published checkpoints.
"""
from __future__ import annotations

import torch
from torch import nn

from .context_norm import make_norm


class ResnetBlock(nn.Module):
    def __init__(self, dim: int, dilation: int = 1, norm: str = "instance"):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(dilation),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0, dilation=dilation),
            make_norm(dim, norm),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, padding=0),
            make_norm(dim, norm),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def conv_in_relu(cin: int, cout: int, norm: str = "instance") -> list[nn.Module]:
    """Conv3x3 (zero pad 1) -> IN -> ReLU: the mapping networks' plain layers (3 indices each)."""
    return [nn.Conv2d(cin, cout, 3, 1, 1), make_norm(cout, norm), nn.ReLU(True)]

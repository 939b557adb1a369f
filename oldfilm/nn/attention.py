"""fastai-style self-attention (SAGAN) with spectral-normed 1x1 Conv1d projections."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .norm_conv import SpectralNormConv

# Largest attention block materialised at once (elements). The softmax runs over dim 1 (the
# query positions) independently for every key column, so columns can be processed in chunks:
# memory is O(HW·chunk) instead of O((HW)²) and the result is the same.
_MAX_BLOCK = 1 << 24


class SelfAttention(nn.Module):
    """o = gamma · (h β) + x with β = softmax(fᵀg, dim=1); f,g: C→C/8, h: C→C (colorize-spec §1)."""

    def __init__(self, channels: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.query = SpectralNormConv(channels, channels // 8, 1, bias=False, ndim=1)
        self.key = SpectralNormConv(channels, channels // 8, 1, bias=False, ndim=1)
        self.value = SpectralNormConv(channels, channels, 1, bias=False, ndim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        hw = h * w
        flat = x.reshape(n, c, hw)
        f, g, v = self.query(flat), self.key(flat), self.value(flat)
        ft = f.permute(0, 2, 1).contiguous()
        if hw * hw <= _MAX_BLOCK:
            attended = torch.bmm(v, F.softmax(torch.bmm(ft, g), dim=1))
        else:
            step = max(1, _MAX_BLOCK // hw)
            attended = torch.cat(
                [torch.bmm(v, F.softmax(torch.bmm(ft, g[:, :, j : j + step]), dim=1)) for j in range(0, hw, step)],
                dim=2,
            )
        out = self.gamma * attended + flat
        return out.reshape(n, c, h, w).contiguous()

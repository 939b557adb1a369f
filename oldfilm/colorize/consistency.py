"""Shift consistency: a training term that asks the generator for the same colours when the frame
moves (``--shift-consistency W``). Training only.

Run 6 (128 px crops, docs/training-colorize.md) scored better on still photos and flickered twice
as much on a panning shot: a garment's hue changed as the frame's edges (what the network sees
around it) and the network's 32 px stride grid moved across it. Each training batch therefore
also colours a sub-crop of the same inputs, smaller and offset by a random number of pixels
that is mostly not a multiple of the stride, and the chroma it gives the overlap is pulled
towards the full crop's (held fixed: the full view has more context, and letting it move would
reward a grey answer that agrees with everything).
"""
from __future__ import annotations

import torch
from torch import nn

from .feature_loss import lab_chroma_distance


def sample_shift(h: int, w: int, margin: int, generator: torch.Generator | None = None) -> tuple[int, int, int, int]:
    """A random sub-crop ``(top, left, height, width)`` of an ``h`` x ``w`` crop: ``margin`` px
    smaller on each axis (a multiple of 16 so the generator accepts it), at an offset drawn
    uniformly from ``0..margin`` on each axis."""
    if margin <= 0 or margin % 16 or margin >= min(h, w):
        raise ValueError(f"shift margin {margin}: expected a positive multiple of 16 below {min(h, w)}")
    dy, dx = (int(v) for v in torch.randint(0, margin + 1, (2,), generator=generator))
    return dy, dx, h - margin, w - margin


def shift_consistency_loss(generator: nn.Module, x: torch.Tensor, pred: torch.Tensor, margin: int = 32,
                           rng: torch.Generator | None = None) -> torch.Tensor:
    """ΔE76 / 10 between the chroma ``generator`` gives a shifted sub-crop of ``x`` and the chroma
    of the same pixels in ``pred`` (= ``generator(x)``, detached here).

    ``x``, ``pred``: ImageNet-normalised float Nx3xHxW (the generator's input and output space);
    gradients flow through the sub-crop's forward pass only.
    """
    dy, dx, h, w = sample_shift(x.shape[-2], x.shape[-1], margin, rng)
    crop = x[..., dy:dy + h, dx:dx + w]
    return lab_chroma_distance(generator(crop), pred.detach()[..., dy:dy + h, dx:dx + w], crop)

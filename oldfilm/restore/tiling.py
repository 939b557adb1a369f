"""Run a fully convolutional function over a large map in overlapping tiles, with blending.

Each tile has a *core* (the part whose output is kept) extended by ``margin`` pixels of context on
every side that has image there. The context absorbs the network's receptive field, so a core's
output equals the untiled output when ``margin`` covers it (and per-image statistics are fixed,
see context_norm). Neighbouring cores overlap by ``blend`` pixels where the outputs are
cross-faded with linear ramps that sum to one, so any residual seam is feathered, never a step.

Memory is one tile's activations plus the output array: linear in the image area.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Span:
    """One tile along one axis, in input pixels: core [a, b), context [ca, cb)."""

    a: int
    b: int
    ca: int
    cb: int


def spans(length: int, tile: int, margin: int, blend: int, align: int = 1) -> list[Span]:
    """Tiles covering [0, length). ``tile``, ``margin`` and ``blend`` are rounded to ``align`` so
    every tile starts on the alignment grid (stride-2 layers and patch grids stay in phase)."""
    def up(v: int) -> int:
        return -(-v // align) * align

    tile, margin, blend = up(max(tile, align)), up(margin), up(blend)
    blend = min(blend, tile - align) if tile > align else 0
    step = tile - blend
    out: list[Span] = []
    a = 0
    while True:
        b = min(a + tile, length)
        out.append(Span(a, b, max(0, a - margin), min(length, b + margin)))
        if b >= length:
            return out
        a += step


def ramp(span: Span, length: int, blend: int, scale: float, device: torch.device) -> torch.Tensor:
    """Blend weights over the core in *output* pixels: 1 inside, linear ramps where a neighbour
    overlaps (the previous tile's ramp down and this tile's ramp up add to one)."""
    n = round((span.b - span.a) * scale)
    w = torch.ones(n, device=device)
    band = round(blend * scale)
    if band > 0:
        t = (torch.arange(band, device=device, dtype=torch.float32) + 0.5) / band
        if span.a > 0:
            k = min(band, n)
            w[:k] = torch.minimum(w[:k], t[:k])
        if span.b < length:
            k = min(band, n)
            w[n - k:] = torch.minimum(w[n - k:], t.flip(0)[band - k:])
    return w


def run_tiled(fn: Callable[[int, int, int, int], torch.Tensor], height: int, width: int, out_channels: int,
              scale: float, tile: int, margin: int, blend: int, align: int = 1,
              out: torch.Tensor | None = None) -> torch.Tensor:
    """Apply ``fn`` tile by tile and return the blended 1 x out_channels x (height*scale) x (width*scale).

    ``fn(y0, y1, x0, x1)`` returns the output (1 x C x (y1-y0)*scale x (x1-x0)*scale, any device)
    for the input window [y0:y1, x0:x1]. Coordinates are input pixels; ``scale`` is output per
    input pixel (1/4 for an encoder, 4 for a decoder) and must map the aligned grid to integers.
    ``out`` may be a preallocated CPU float32 tensor to write into.
    """
    oh, ow = round(height * scale), round(width * scale)
    if out is None:
        out = torch.zeros(1, out_channels, oh, ow)
    else:
        out.zero_()
    wsum = torch.zeros(oh, ow)
    ys = spans(height, tile, margin, blend, align)
    xs = spans(width, tile, margin, blend, align)
    eff_blend = ys[0].b - ys[1].a if len(ys) > 1 else 0
    eff_blend_x = xs[0].b - xs[1].a if len(xs) > 1 else 0
    for sy in ys:
        wy = ramp(sy, height, eff_blend, scale, torch.device("cpu"))
        for sx in xs:
            wx = ramp(sx, width, eff_blend_x, scale, torch.device("cpu"))
            y = fn(sy.ca, sy.cb, sx.ca, sx.cb)
            oy0, ox0 = round((sy.a - sy.ca) * scale), round((sx.a - sx.ca) * scale)
            core = y[:, :, oy0:oy0 + wy.numel(), ox0:ox0 + wx.numel()].float().cpu()
            w = wy[:, None] * wx[None, :]
            ty, tx = round(sy.a * scale), round(sx.a * scale)
            out[:, :, ty:ty + wy.numel(), tx:tx + wx.numel()] += core * w
            wsum[ty:ty + wy.numel(), tx:tx + wx.numel()] += w
    out /= wsum
    return out

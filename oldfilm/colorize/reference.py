"""Reference colours: frames coloured from colour images that the user supplies.

A family historian often has one colour photograph of the same place, person or costume; a
documentary editor can colour one frame of each shot by hand. With references, the colorizer takes
its colours from them wherever a frame shows what they show, and paints other frames as usual.

How: a training-free version of Deep Exemplar-based Colorization (He et al. 2018), with the
colorizer's own encoder in place of their ImageNet VGG, which cannot be downloaded here.

1. **Features.** The generator's trunk output at :data:`FEATURE_LAYER` (ResNet layer2, 1/8 of the
   render square: 42×42 positions at render factor 21). A frame's come from the same forward pass
   that colorizes it; a reference's from one pass over its gray version. Each map is centred over
   its positions and each position's vector L2-normalised (:func:`centred_unit`).
2. **Matching.** Every frame position scores every reference position by cosine similarity less
   :data:`LIGHTNESS_WEIGHT` × (ΔL* / 100)² (the same object in the same light has the same
   lightness; folded into the same matrix product by three extra feature channels, so it costs
   nothing), and a softmax at :data:`TEMPERATURE` over them weights the references' CIELAB a*, b*
   (area-averaged onto the same grid). All references are searched, but each one's scores are
   lowered by :data:`SELECT_WEIGHT` × how much worse it fits the frame (its mean best score) than
   the reference that fits best. So with one coloured keyframe per shot, a frame takes its colours
   from its own shot's keyframe, and another keyframe of a similar scene (the same film) does not
   bleed into it.
3. **Does the frame show what the references show?** The match score alone cannot tell: any sky
   matches any sky. So each position's best score in the references is compared with its best
   score among the *background*: features of 17 unrelated photos bundled with oldfilm
   (colorize/background/). The frame's *match share* is the fraction of its positions (every
   :data:`SHARE_EVERY`-th) that the references match better than every background photo. Its
   median was 0.53–0.71 for other views of the same photo and keyframes of the same shot, 0.08 for
   an unrelated photo, on the photos and clips the constants were chosen on
   (bench/reference_tuning.py, docs/reference-colours.md). The frame takes the references'
   colours with weight clip((share − :data:`SHARE_LOW`) / (:data:`SHARE_HIGH` − :data:`SHARE_LOW`),
   0, 1), and keeps the colorizer's own for the rest: a*, b* = w · matched + (1 − w) · the colorizer's, on the render
   square, lightness the colorizer's. The square then goes through the usual chroma transfer under
   the full-resolution luminance (:func:`render.finish`).

The softmax runs one reference at a time and keeps only each one's statistics (its best score,
the sum of its weights and their a*, b* sum per position), so memory stays at frame positions ×
one reference's positions for any number of references. Frames stay independent: a frame's
colours depend only on itself, the references and the background, so segments run in any order. Figures and the choice of the constants: docs/reference-colours.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..monochrome import thumbnail
from .adjust import cielab, cielab_to_rgb8
from .render import _as_rgb_uint8, finish, model_input, model_rgb, run_network

FEATURE_LAYER = 5            # trunk index: ResNet layer2, stride 8
TEMPERATURE = 0.01           # softmax temperature on the match score (Deep Exemplar's)
LIGHTNESS_WEIGHT = 5.0       # match score lost at a lightness difference of 100 L* (0.2 at 20 L*)
SHARE_LOW = 0.15             # match share at which the references start to count ...
SHARE_HIGH = 0.35            # ... and from which they alone give the colour
SHARE_EVERY = 4              # the share is measured on every 4th frame position (cost; a fraction)
BACKGROUND_STRIDE = 2        # every 2nd background position in each direction (a quarter: cost)
SELECT_WEIGHT = 4.0          # match score lost per unit of a reference's worse fit to the frame
MIN_CHROMA = 5.0             # CIELAB chroma (99th percentile) under which an image has no colour to give


@dataclass(frozen=True)
class References:
    """Encoded reference images, ready to match frames against.

    ``keys``: float32 (C+3)×M, one column per reference position (all references side by side):
    the unit feature vector and three lightness channels (:func:`reference_keys`); ``ab``: float32
    M×2 CIELAB a*, b* at those positions; ``background``: float32 (C+3)×B keys of the background
    photos, or None (then every frame takes the references' colours in full); ``render_factor``:
    the square they were encoded at (frames must be colorized at the same one: features depend on
    scale)."""

    keys: torch.Tensor
    ab: torch.Tensor
    render_factor: int
    background: torch.Tensor | None = None
    names: tuple[str, ...] = ()
    counts: tuple[int, ...] = ()       # positions of each reference, in order (default: one reference)

    def __post_init__(self) -> None:
        if not self.counts:
            object.__setattr__(self, "counts", (int(self.ab.shape[0]),))
        if sum(self.counts) != self.ab.shape[0] or self.keys.shape[1] != self.ab.shape[0]:
            raise ValueError("keys, ab and counts disagree on the number of reference positions")

    @property
    def positions(self) -> int:
        return int(self.ab.shape[0])


def centred_unit(features: torch.Tensor) -> torch.Tensor:
    """float32 N×C×h×w: each map centred over its h×w positions, then each position's C-vector
    L2-normalised (cosine similarity becomes a dot product)."""
    f = features.float()
    f = f - f.mean(dim=(2, 3), keepdim=True)
    return F.normalize(f, dim=1)


def reference_keys(features: torch.Tensor, lightness: torch.Tensor) -> torch.Tensor:
    """float32 (C+3)×M keys from unit features C×M and CIELAB L* (M, 0..100): with
    :func:`frame_queries`, query · key = cosine similarity − LIGHTNESS_WEIGHT · (ΔL* / 100)²."""
    lk = lightness.float().reshape(1, -1) / 100.0
    w = LIGHTNESS_WEIGHT
    return torch.cat([features.float(), 2 * w * lk, -w * lk * lk, torch.full_like(lk, -w)], 0).contiguous()


def frame_queries(features: torch.Tensor, lightness: torch.Tensor) -> torch.Tensor:
    """float32 N×P×(C+3) queries (P = h·w positions) from centred unit frame features N×C×h×w
    and the frames' CIELAB L* N×h×w (0..100); see :func:`reference_keys`."""
    n, c, h, w = features.shape
    lq = lightness.float().reshape(n, h * w, 1) / 100.0
    q = features.float().reshape(n, c, h * w).transpose(1, 2)
    return torch.cat([q, lq, torch.ones_like(lq), lq * lq], 2).contiguous()


def grid_lab(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """float32 height×width×3: CIELAB of uint8 RGB HxWx3 ``rgb`` area-averaged onto a
    height×width grid (stretched, as the render square is)."""
    small = cv2.resize(_as_rgb_uint8(rgb), (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cielab(small))


def gray_rgb(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB HxWx3 with three equal channels: the luma of ``rgb`` (what the colorizer sees)."""
    y = cv2.cvtColor(_as_rgb_uint8(rgb), cv2.COLOR_RGB2GRAY)
    return np.repeat(y[..., None], 3, axis=2)


def chroma_level(rgb: np.ndarray, side: int = 128) -> float:
    """99th percentile of CIELAB chroma of uint8 RGB HxWx3 ``rgb`` (on a thumbnail of ``side`` px):
    below :data:`MIN_CHROMA` the image is black-and-white and has no colour to give."""
    ab = cielab(thumbnail(_as_rgb_uint8(rgb), side))[..., 1:]
    return float(np.percentile(np.hypot(ab[..., 0], ab[..., 1]), 99))


def run_network_features(network: nn.Module, batch: torch.Tensor, autocast: torch.dtype | None = None,
                         channels_last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(outputs, trunk features at :data:`FEATURE_LAYER`), float32 on the CPU, for an N×3×S×S
    model-input batch (:func:`render.model_input`), from one forward pass."""
    return run_network(network, batch, autocast=autocast, channels_last=channels_last,
                       trunk_index=FEATURE_LAYER)


def _encode(network: nn.Module, images: Sequence[np.ndarray], render_factor: int,
            autocast: torch.dtype | None, batch_size: int):
    """(uint8 image, centred unit features C×h×w) per image, in batches."""
    step = max(1, int(batch_size))
    for start in range(0, len(images), step):
        chunk = [_as_rgb_uint8(im) for im in images[start:start + step]]
        batch = torch.stack([model_input(im, render_factor) for im in chunk])
        _, f = run_network_features(network, batch, autocast=autocast)
        yield from zip(chunk, centred_unit(f))


def encode_references(network: nn.Module, images: Sequence[np.ndarray], render_factor: int,
                      names: Sequence[str] = (), *, background: Sequence[np.ndarray] = (),
                      background_stride: int = BACKGROUND_STRIDE, autocast: torch.dtype | None = None,
                      batch_size: int = 4) -> References:
    """Encode uint8 RGB HxWx3 colour ``images`` (any sizes) for :func:`match_references`, with the
    colorizer ``network`` (eval mode) at ``render_factor``; they are matched on their gray
    version, as frames are. ``background``: unrelated photos (any colour) for the match share;
    none means every frame takes the references' colours in full. Every ``background_stride``-th
    background position in each direction is kept."""
    if not images:
        raise ValueError("no reference images")

    def keys(batch_images: Sequence[np.ndarray], stride: int, with_ab: bool):
        cols, abs_, counts = [], [], []
        for im, f in _encode(network, batch_images, render_factor, autocast, batch_size):
            light = grid_lab(gray_rgb(im), f.shape[1], f.shape[2])[::stride, ::stride, 0]
            f = f[:, ::stride, ::stride]
            c, h, w = f.shape
            cols.append(reference_keys(f.reshape(c, h * w), torch.from_numpy(light.copy()).reshape(-1)))
            counts.append(h * w)
            if with_ab:
                abs_.append(torch.from_numpy(grid_lab(im, h, w)[..., 1:].reshape(h * w, 2)))
        return torch.cat(cols, 1).contiguous(), (torch.cat(abs_, 0).contiguous() if with_ab else None), tuple(counts)

    ref_keys, ab, counts = keys(images, 1, True)
    bank = keys(background, max(1, int(background_stride)), False)[0] if len(background) else None
    return References(ref_keys, ab, int(render_factor), bank, tuple(names), counts)


def match_references(queries: torch.Tensor, refs: References,
                     temperature: float = TEMPERATURE) -> tuple[torch.Tensor, torch.Tensor]:
    """(ab, best) for frame queries N×P×(C+3) (:func:`frame_queries`): float32 N×P×2 CIELAB
    a*, b* softmax-weighted over every reference position by match score, and N×P best score.

    Each reference's scores get a bias of :data:`SELECT_WEIGHT` × (its mean best score over the
    frame − the best reference's): the reference that shows the frame best speaks for it, and
    another one only where it matches clearly better (module doc)."""
    n, p, c = queries.shape
    if c != refs.keys.shape[0]:
        raise ValueError(f"frame features have {c - 3} channels, the references {refs.keys.shape[0] - 3}: "
                         "encode the references with the same colorizer")
    inv_t = 1.0 / float(temperature)
    best = torch.full((n, p), float("-inf"))
    tops, denoms, nums, fits = [], [], [], []
    start = 0
    for count in refs.counts:         # one reference at a time: softmax statistics per reference
        score = queries @ refs.keys[:, start:start + count]                    # N×P×m
        top = score.amax(-1)
        best = torch.maximum(best, top)
        # In place: this tensor is the only large one. The clamp keeps exp's results normal floats:
        # subnormal ones (below e^-87) cost ten times as much, and e^-80 beside the row's 1 is nothing.
        e = score.sub_(top[..., None]).mul_(inv_t).clamp_(min=-80.0).exp_()
        denoms.append(e.sum(-1))
        nums.append(e @ refs.ab[start:start + count])
        tops.append(top)
        fits.append(top.mean(-1))
        start += count
    fit = torch.stack(fits, 1)                                                 # N×R
    bias = SELECT_WEIGHT * (fit - fit.amax(1, keepdim=True))
    logit = (torch.stack(tops, 0) + bias.t()[..., None]) * inv_t               # R×N×P
    f = torch.exp((logit - logit.amax(0)).clamp_(min=-80.0))
    denom = (f * torch.stack(denoms, 0)).sum(0)
    num = (f[..., None] * torch.stack(nums, 0)).sum(0)
    return num / denom[..., None], best


def match_share(queries: torch.Tensor, best: torch.Tensor, background: torch.Tensor,
                every: int = SHARE_EVERY) -> torch.Tensor:
    """float32 N: for each frame, the fraction of its positions (every ``every``-th) whose best
    reference score ``best`` (N×P) beats their best score against every ``background`` key."""
    q = queries[:, ::max(1, int(every))]
    bg = (q @ background).amax(-1)
    return (best[:, ::max(1, int(every))] > bg).float().mean(-1)


def share_weight(share: torch.Tensor, low: float = SHARE_LOW, high: float = SHARE_HIGH) -> torch.Tensor:
    """The references' weight per frame, in [0, 1], from its match share."""
    if not high > low:
        raise ValueError(f"share bounds: expected low < high, got {low} and {high}")
    return ((share - low) / (high - low)).clamp(0.0, 1.0)


def fuse_square(square: np.ndarray, ab: np.ndarray, weight: float) -> np.ndarray:
    """uint8 S×S×3: the network's render ``square`` (uint8 RGB) with its a*, b* moved towards the
    matched ``ab`` (float32 h×w×2, stretched bilinearly to the square) by ``weight`` in [0, 1].
    CIELAB lightness is the square's."""
    lab = cielab(square)
    size = (square.shape[1], square.shape[0])
    ab_up = cv2.resize(np.ascontiguousarray(ab, dtype=np.float32), size, interpolation=cv2.INTER_LINEAR)
    lab[..., 1:] += np.float32(weight) * (ab_up - lab[..., 1:])
    return cielab_to_rgb8(lab)


def colorize_frames_with_references(
    frames: Sequence[np.ndarray],
    network: nn.Module,
    refs: References,
    batch_size: int = 4,
    autocast: torch.dtype | None = None,
    channels_last: bool = False,
) -> tuple[list[np.ndarray], list[float]]:
    """(colorized frames, the references' weight for each): uint8 RGB HxWx3 frames (any sizes)
    colorized at ``refs.render_factor`` with their colours taken from ``refs`` where they show
    the same thing (module doc)."""
    if network.training:
        raise ValueError("network is in train mode; call .eval() first")
    out: list[np.ndarray] = []
    weights: list[float] = []
    step = max(1, int(batch_size))
    for start in range(0, len(frames), step):
        chunk = [_as_rgb_uint8(f) for f in frames[start:start + step]]
        batch = torch.stack([model_input(f, refs.render_factor) for f in chunk])
        y, feats = run_network_features(network, batch, autocast=autocast, channels_last=channels_last)
        h, w = feats.shape[-2:]
        lightness = torch.from_numpy(np.stack([grid_lab(gray_rgb(f), h, w)[..., 0] for f in chunk]))
        queries = frame_queries(centred_unit(feats), lightness)
        ab, best = match_references(queries, refs)
        if refs.background is None:
            weight = torch.ones(len(chunk))
        else:
            weight = share_weight(match_share(queries, best, refs.background))
        for frame, yi, abi, wi in zip(chunk, y, ab, weight.tolist()):
            square = model_rgb(yi)
            if wi > 0:
                square = fuse_square(square, abi.reshape(h, w, 2).numpy(), wi)
            out.append(finish(frame, square)[1])
            weights.append(wi)
    return out, weights

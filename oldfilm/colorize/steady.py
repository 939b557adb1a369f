"""Colour flicker of a colorized shot: each frame's chroma pulled toward the previous frame's,
carried along the motion (pure functions).

The colorizer sees one frame at a time, so the same wall or coat gets a slightly different colour
in every frame, and a dark patch may go blue, then red (USERS.md #1, the first complaint about
every per-frame colorizer). Here the chroma is filtered in time along the optical flow: frame t's
chroma (YUV U, V, as the chroma transfer writes it) becomes

    s_t = c_t + a · k_t · (W(s_{t-1}) − c_t)

with c_t the colorizer's chroma, W the previous filtered chroma warped onto frame t by the dense
flow from t to t−1 (DIS, on the luma), ``a`` the strength and k_t, per pixel, how well the warped
previous luma matches frame t's, after evening out the exposure (1 where it does, falling to 0
where the flow is wrong: new content, occlusions, the frame's border), times how close the held
colour is to the colorizer's new one (a far colour is another surface: the ground a moving object
uncovers). So a pixel's colour is a running average over the frames
in which the same surface was seen, while new content takes the colorizer's colour at once. The
luma is never changed. A cut (``video.deflicker.is_cut``) starts the average afresh, so no colour
crosses from one shot into the next.

The work is done at WORK_SIDE px on the long side (the colorizer paints its chroma at its render
square, 336 px at render factor 21); the correction s_t − c_t is upsampled and added to the
full-resolution chroma, so the chroma's own detail is kept.

State crosses frames, not segments: the video runner resets the stage at every segment, as it
does the face stage's landmark smoothing, so segments still run independently and a resume is
exact. Figures: docs/steady-colours.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..video.deflicker import THUMB_SIDE, is_cut

VERSION = 1               # part of a video run's resume fingerprint: bump when the output changes
WORK_SIDE = 320           # px, long side of the flow and the filter
MIN_SIDE = 16             # px: a smaller picture has too little for the flow (DIS needs patches)
MATCH_LEVELS = 16.0       # 8-bit luma difference at which a warped pixel's weight has fallen to 0
MATCH_BLUR = 2.0          # px at WORK_SIDE: grain and codec noise are not motion failures
MAX_GAIN = 1.5            # exposure change between two frames that ``same_exposure`` evens out
CHROMA_SIGMA = 20.0       # YUV chroma distance at which the held colour's weight has fallen to 1/e


@dataclass(frozen=True)
class SteadyState:
    """What the filter keeps of the last frame: its luma thumbnail (cut test), and its luma and
    filtered chroma at the working size (float32, 0..255, U/V centred at 128)."""

    thumb: np.ndarray
    luma: np.ndarray
    chroma: np.ndarray


def _work_size(h: int, w: int) -> tuple[int, int]:
    scale = min(1.0, WORK_SIDE / max(h, w))
    return max(1, round(w * scale)), max(1, round(h * scale))


def _small(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (a.shape[1], a.shape[0]) == size:
        return a
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA)


def _flow(luma: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Flow from ``luma`` to ``previous`` (float32 HxWx2): luma(p) ~ previous(p + flow(p))."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    return dis.calc(np.clip(luma, 0, 255).astype(np.uint8), np.clip(previous, 0, 255).astype(np.uint8), None)


def _remap(a: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    return cv2.remap(a, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def colour_weight(held: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """float32 HxW in (0, 1]: exp(−(d / CHROMA_SIGMA)²) of the distance d (YUV units, lightly
    blurred) between the held chroma and the colorizer's new chroma (HxWx2 each). Flicker is a
    wobble around one colour and keeps most of its weight; a colour far from the held one is
    another surface that the flow took for this one (the ground a moving object uncovers), which
    must not be painted with the object's colour."""
    if CHROMA_SIGMA <= 0:
        return np.ones(held.shape[:2], np.float32)
    d = cv2.GaussianBlur(np.sqrt(((held - chroma) ** 2).sum(-1)), (0, 0), MATCH_BLUR)
    return np.exp(-((d / CHROMA_SIGMA) ** 2))


def same_exposure(warped: np.ndarray, luma: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """``warped`` (float32 HxW luma) scaled and offset to the mean and spread of ``luma`` over the
    ``inside`` pixels. Old film's exposure flickers from frame to frame; a brighter frame shows the
    same surfaces, which must still match."""
    m = inside > 0
    if m.sum() < 16:   # (almost) nothing to compare
        return warped
    a, b = warped[m], luma[m]
    sa = float(a.std())
    gain = float(b.std()) / sa if sa > 1.0 else 1.0
    gain = min(max(gain, 1 / MAX_GAIN), MAX_GAIN)
    return (warped - float(a.mean())) * gain + float(b.mean())


def match_weight(luma: np.ndarray, warped: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """float32 HxW in [0, 1]: 1 where the previous frame's luma, warped onto this one, matches it;
    falling linearly to 0 at MATCH_LEVELS of (lightly blurred) difference; 0 where the flow left
    the frame."""
    d = cv2.GaussianBlur(np.abs(luma - warped), (0, 0), MATCH_BLUR)
    return np.clip(1.0 - d / MATCH_LEVELS, 0.0, 1.0) * inside


def steady_frame(
    gray_source: np.ndarray,
    colorized: np.ndarray,
    state: SteadyState | None,
    strength: float,
) -> tuple[np.ndarray, SteadyState, float]:
    """One frame of the filter.

    gray_source: the frame the colorizer was given (uint8 RGB HxWx3; only its luma is used).
    colorized: the colorizer's output for it (uint8 RGB HxWx3, same size).
    state: the previous frame's (None for the first frame of a shot or segment).
    strength: ``a`` in [0, 1): the weight of the history where motion is tracked (0: off).
    Returns (the output, uint8 RGB HxWx3 with ``colorized``'s luma; the new state; the mean
    weight k·a the history got, 0 for a first frame or after a cut).
    """
    if gray_source.shape != colorized.shape:
        raise ValueError(f"shape mismatch: {gray_source.shape} vs {colorized.shape}")
    h, w = colorized.shape[:2]
    size = _work_size(h, w)
    yuv = cv2.cvtColor(np.ascontiguousarray(colorized), cv2.COLOR_RGB2YUV)
    luma = _small(cv2.cvtColor(np.ascontiguousarray(gray_source), cv2.COLOR_RGB2GRAY), size).astype(np.float32)
    chroma = _small(yuv, size)[..., 1:].astype(np.float32)
    thumb = _thumbnail(luma)
    if (state is None or strength <= 0 or min(size) < MIN_SIDE or state.luma.shape != luma.shape
            or is_cut(state.thumb, thumb)):
        return np.ascontiguousarray(colorized), SteadyState(thumb, luma, chroma), 0.0
    everywhere = np.ones_like(luma)
    flow = _flow(same_exposure(luma, state.luma, everywhere), state.luma)    # DIS assumes even exposure
    gx, gy = np.meshgrid(np.arange(size[0], dtype=np.float32), np.arange(size[1], dtype=np.float32))
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    inside = ((mx >= 0) & (mx <= size[0] - 1) & (my >= 0) & (my <= size[1] - 1)).astype(np.float32)
    held = _remap(state.chroma, mx, my)
    k = strength * match_weight(luma, same_exposure(_remap(state.luma, mx, my), luma, inside), inside)
    k *= colour_weight(held, chroma)
    steady = chroma + k[..., None] * (held - chroma)
    correction = np.zeros((size[1], size[0], 3), np.float32)   # Y untouched
    correction[..., 1:] = steady - chroma
    if (w, h) != size:
        correction = cv2.resize(correction, (w, h), interpolation=cv2.INTER_LINEAR)
    out = cv2.cvtColor(cv2.add(yuv, correction, dtype=cv2.CV_8U), cv2.COLOR_YUV2RGB)
    return out, SteadyState(thumb, luma, steady), float(k.mean())


def _thumbnail(luma: np.ndarray) -> np.ndarray:
    """The cut test's luma thumbnail (``video.deflicker.THUMB_SIDE`` on the long side) of a
    working-size luma."""
    h, w = luma.shape
    scale = min(1.0, THUMB_SIDE / max(h, w))
    return cv2.resize(luma, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def steady_clip(gray_sources: list[np.ndarray], colorized: list[np.ndarray], strength: float) -> list[np.ndarray]:
    """``steady_frame`` over a whole clip (one state, started afresh at cuts)."""
    state: SteadyState | None = None
    out = []
    for g, c in zip(gray_sources, colorized):
        o, state, _ = steady_frame(g, c, state, strength)
        out.append(o)
    return out

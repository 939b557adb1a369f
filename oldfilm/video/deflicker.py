"""Exposure flicker of old film: per-frame levels, shot cuts, and the levels that steady a shot.

Each frame of old film was exposed, developed, printed and scanned a little differently, so a
shot's brightness jumps from frame to frame while the picture hardly changes. Here a frame's
brightness is summed up by quantiles of its luma (``frame_levels``). Each shot is split where its
light changes for good (``light_changes``), and within each part each quantile's course in time
is smoothed (``steady_levels``): a running median, which keeps a step as a step and a fade as a
ramp, then a local-linear fit, which removes what is left of the jitter and also keeps ramps. Each frame then gets the gain and offset that carry its
quantiles onto the smoothed ones (``level_corrections``), applied as a levels adjustment
(``apply_levels``).

A frame's correction depends only on the table of every frame's statistics, so frames are still
restored one at a time and in any order (docs/ARCHITECTURE.md); the video runner fills the table
in one decoding pass before the first segment. Shots are kept apart (``is_cut``): smoothing across
a cut would pump the brightness of the frames around it (USERS.md #1: deflickers need per-shot
splitting). Figures: docs/deflicker.md.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

VERSION = 1              # part of a video run's resume fingerprint: bump when the corrections change
QUANTILES = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
THUMB_SIDE = 64          # px, long side of the thumbnail the statistics are taken on
CUT_CORRELATION = 0.6    # two frames whose structure correlates less are in different shots
STEP_LEVELS = 8.0        # 8-bit levels: a lasting change of light at least this large ...
STEP_NOISE = 3.0         # ... and this many times the shot's typical frame-to-frame jump
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class DeflickerSettings:
    median_seconds: float = 0.5     # running-median window (whole width)
    sigma_seconds: float = 0.12     # Gaussian weight of the local-linear fit
    max_gain: float = 1.5           # the correction never scales the levels by more (or 1/max_gain less)
    max_offset: float = 48.0        # 8-bit levels


def luma_thumbnail(rgb: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """uint8 RGB HxWx3 -> float32 luma (BT.601, 0..255), area-averaged to ``side`` px on the long side."""
    h, w = rgb.shape[:2]
    scale = side / max(h, w)
    if scale < 1:
        rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return rgb.astype(np.float32) @ _LUMA


def frame_levels(thumb: np.ndarray) -> np.ndarray:
    """float32 luma thumbnail -> float32 (len(QUANTILES),): its luma quantiles in 8-bit levels."""
    return np.quantile(thumb, QUANTILES).astype(np.float32)


def _structure(thumb: np.ndarray) -> np.ndarray | None:
    """The thumbnail blurred a little (motion tolerance) and normalised to zero mean and unit
    spread, so that brightness and contrast, which flicker, drop out; None when it is flat."""
    t = cv2.GaussianBlur(thumb, (0, 0), 1.0).ravel()
    t = t - t.mean()
    sd = float(t.std())
    return None if sd < 1.0 else t / sd


def is_cut(previous: np.ndarray, thumb: np.ndarray) -> bool:
    """True when two consecutive luma thumbnails (same shape) show different pictures, whatever
    their brightness and contrast: the correlation of their normalised structure is below
    CUT_CORRELATION. Two flat frames (black between shots, say) are one shot; a flat frame next
    to a picture is a cut."""
    if previous.shape != thumb.shape:
        return True
    a, b = _structure(previous), _structure(thumb)
    if a is None or b is None:
        return (a is None) != (b is None)
    return float(np.mean(a * b)) < CUT_CORRELATION


def shot_bounds(cuts: np.ndarray) -> list[tuple[int, int]]:
    """(N,) bool, True where a new shot starts (index 0 always starts one) -> [(start, stop), ...]."""
    n = len(cuts)
    starts = sorted({0, *np.flatnonzero(cuts).tolist()}) if n else []
    return [(s, e) for s, e in zip(starts, starts[1:] + [n]) if e > s]


def _running_median(y: np.ndarray, half: int) -> np.ndarray:
    """(L, Q) -> (L, Q): median over frames i-half..i+half, the window shrunk symmetrically at the
    ends of the shot (so that the first and last frames keep their own levels' course)."""
    if half < 1 or len(y) < 3:
        return y.copy()
    out = np.empty_like(y)
    n = len(y)
    for i in range(n):
        h = min(half, i, n - 1 - i)
        out[i] = np.median(y[i - h:i + h + 1], axis=0)
    return out


def _local_linear(y: np.ndarray, sigma: float) -> np.ndarray:
    """(L, Q) -> (L, Q): at each frame, the value at that frame of the line fitted to its
    neighbours with Gaussian weights (sigma frames, 3 sigma wide, cut at the shot's ends).
    Lines pass unchanged, also at the ends: a fade stays a fade."""
    n = len(y)
    if sigma <= 0 or n < 3:
        return y.copy()
    radius = max(1, int(np.ceil(3 * sigma)))
    s0 = np.zeros((n, 1), np.float64)
    s1, s2 = np.zeros_like(s0), np.zeros_like(s0)
    sy = np.zeros(y.shape, np.float64)
    sdy = np.zeros_like(sy)
    for d in range(-radius, radius + 1):
        lo, hi = max(0, -d), min(n, n - d)        # frames i with a neighbour i + d inside the shot
        if hi <= lo:
            continue
        w = float(np.exp(-0.5 * (d / sigma) ** 2))
        s0[lo:hi] += w
        s1[lo:hi] += w * d
        s2[lo:hi] += w * d * d
        sy[lo:hi] += w * y[lo + d:hi + d]
        sdy[lo:hi] += w * d * y[lo + d:hi + d]
    det = s0 * s2 - s1 * s1
    flat = sy / s0
    ok = det > 1e-6 * np.maximum(s0 * s2, 1e-12)
    line = np.where(ok, (s2 * sy - s1 * sdy) / np.where(ok, det, 1.0), flat)
    return line.astype(y.dtype)


def light_changes(levels: np.ndarray, span: int) -> list[int]:
    """(L, Q) levels of one shot -> frames where the light changes for good (a lamp switched on, a
    door opened, a fast fade-in): the median brightness of the ``span`` frames from there on
    differs from that of the ``span`` frames before (fewer, down to 2, near the shot's ends) by
    more than STEP_LEVELS and by more than STEP_NOISE times the shot's typical frame-to-frame
    jump (flicker, which goes up and down, does not pass both)."""
    n = len(levels)
    if span < 2 or n < 4:
        return []
    m = levels.mean(1)
    jump = 1.4826 * float(np.median(np.abs(np.diff(m))))
    limit = max(STEP_LEVELS, STEP_NOISE * jump)
    d = np.zeros(n)
    for i in range(2, n - 1):
        k = min(span, i, n - i)
        if k >= 2:
            d[i] = abs(float(np.median(m[i:i + k]) - np.median(m[i - k:i])))
    steps: list[int] = []
    for i in np.argsort(-d, kind="stable"):
        if d[i] <= limit:
            break
        # The medians differ about as much anywhere near the step: it is at the largest jump.
        lo, hi = max(1, int(i) - span + 1), min(n, int(i) + span)
        j = lo + int(np.argmax(np.abs(np.diff(m[lo - 1:hi]))))
        if all(abs(j - k) >= span for k in steps):
            steps.append(j)
    return sorted(steps)


def steady_levels(levels: np.ndarray, cuts: np.ndarray, fps: float,
                  settings: DeflickerSettings = DeflickerSettings()) -> np.ndarray:
    """(N, Q) per-frame levels and (N,) shot starts -> (N, Q) the levels each frame should have:
    each shot's course, split where its light changes for good, smoothed on its own, kept
    increasing along the quantiles."""
    out = np.empty_like(levels, dtype=np.float32)
    half = max(0, int(round(settings.median_seconds * fps / 2)))
    sigma = settings.sigma_seconds * fps
    span = max(2, half)
    for start, stop in shot_bounds(cuts):
        y = levels[start:stop].astype(np.float32)
        bounds = [0, *light_changes(y, span), len(y)]
        for a, b in zip(bounds, bounds[1:]):
            out[start + a:start + b] = _local_linear(_running_median(y[a:b], half), sigma)
    return np.maximum.accumulate(out, axis=1)


def level_corrections(levels: np.ndarray, targets: np.ndarray,
                      settings: DeflickerSettings = DeflickerSettings()) -> np.ndarray:
    """(N, Q) levels and (N, Q) targets -> (N, 2) float32 (gain, offset): the least-squares line
    carrying each frame's levels onto its targets, the gain clamped to 1/max_gain..max_gain and
    the offset to +-max_offset. A frame whose levels hardly spread (a black frame) gets an offset only."""
    x = levels.astype(np.float64)
    t = targets.astype(np.float64)
    xm, tm = x.mean(1), t.mean(1)
    var = ((x - xm[:, None]) ** 2).mean(1)
    cov = ((x - xm[:, None]) * (t - tm[:, None])).mean(1)
    gain = np.where(var > 4.0, cov / np.maximum(var, 1e-9), 1.0)
    gain = np.clip(gain, 1 / settings.max_gain, settings.max_gain)
    offset = np.clip(tm - gain * xm, -settings.max_offset, settings.max_offset)
    return np.stack([gain, offset], 1).astype(np.float32)


def is_identity(gain: float, offset: float) -> bool:
    """True when the levels adjustment moves no 8-bit level by half a level or more."""
    return max(abs(offset), abs(255 * gain + offset - 255)) < 0.5


def apply_levels(rgb: np.ndarray, gain: float, offset: float) -> np.ndarray:
    """uint8 RGB HxWx3 -> uint8 RGB HxWx3 with every channel's level v mapped to
    clip(round(gain * v + offset), 0, 255). The input itself when that moves nothing."""
    if is_identity(gain, offset):
        return rgb
    lut = np.clip(np.round(gain * np.arange(256, dtype=np.float64) + offset), 0, 255).astype(np.uint8)
    return cv2.LUT(rgb, lut)


def corrections_for(levels: np.ndarray, cuts: np.ndarray, fps: float,
                    settings: DeflickerSettings = DeflickerSettings()) -> np.ndarray:
    """The whole computation from the per-frame table: (N, Q) levels, (N,) shot starts, frames a
    second -> (N, 2) (gain, offset) for ``apply_levels``."""
    return level_corrections(levels, steady_levels(levels, cuts, fps, settings), settings)


def steady_frames(frames: list[np.ndarray], fps: float,
                  settings: DeflickerSettings = DeflickerSettings()) -> list[np.ndarray]:
    """uint8 RGB frames of one clip, in order -> the same frames deflickered (a frame left
    untouched is the input object itself)."""
    table = frames_correction_table(frames, fps, settings)
    return [apply_levels(f, float(g), float(o)) for f, (g, o) in zip(frames, table)]


def clip_statistics(frames: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB frames of one video in order (any iterable, read once) -> ((N, Q) float32 levels,
    (N,) bool shot starts): the table ``corrections_for`` works on."""
    levels, cuts, prev = [], [], None
    for rgb in frames:
        thumb = luma_thumbnail(rgb)
        levels.append(frame_levels(thumb))
        cuts.append(prev is None or is_cut(prev, thumb))
        prev = thumb
    if not levels:
        return np.zeros((0, len(QUANTILES)), np.float32), np.zeros(0, bool)
    return np.stack(levels), np.array(cuts)


def frames_correction_table(frames: Iterable[np.ndarray], fps: float,
                            settings: DeflickerSettings = DeflickerSettings()) -> np.ndarray:
    """uint8 RGB frames in order -> (N, 2) (gain, offset): statistics and corrections in one call."""
    levels, cuts = clip_statistics(frames)
    if not len(levels):
        return np.zeros((0, 2), np.float32)
    return corrections_for(levels, cuts, fps, settings)

"""Is a picture black-and-white (grey, sepia, toned, dye-tinted) or in colour?

The colorizer replaces chroma with its guess from luminance, so calling a colour file
"black-and-white" costs the user its colours; calling a toned print "colour" only skips the
colorizer with a warning (``--recolor`` overrides). The test is built for that asymmetry.

A monochrome picture's colour is a function of its luminance alone: grey, a sepia or selenium
toning, a dye tint over the whole frame, a split toning. Two scores, both on a small area-averaged
thumbnail (averaging removes grain, scanner chroma noise and 4:2:0 fringes before they are
measured):

- ``hue_axis``: the 99th percentile of each pixel's chroma off the frame's dominant hue axis.
  Several hues (sky and grass) score high.
- ``tone_curve``: the 99th percentile, over flat regions only, of each pixel's chroma off one
  curve chroma(luma) fitted to the frame (the median u, v per luma band, interpolated). One colour
  that does not follow luminance (red trousers beside grey shadows of the same brightness) scores
  high; a toning or a tint does not. Edges are left out because chroma subsampling and JPEG blur
  chroma across them, which a toned frame's curve cannot predict.

A frame is monochrome when both are low. Measured on 3,034 colour photos and toned, tinted,
split-toned, noisy and real black-and-white pictures (bench/bw_test_study.py,
docs/bw-detection.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMB_SIDE = 128          # px, longest side of the thumbnail both scores are measured on
HUE_AXIS_MAX = 4.0        # 8-bit chroma codes off the dominant hue axis (99th percentile)
TONE_CURVE_MAX = 5.0      # 8-bit chroma codes off the frame's chroma(luma) curve, flat regions (99th pct)
FLAT_GRADIENT = 4.0       # luma codes per thumbnail pixel: below this (3x3 neighbourhood) a pixel is flat
LUMA_BANDS = 16


@dataclass(frozen=True)
class MonochromeScores:
    """8-bit chroma codes (BT.601): how far a picture is from one hue, and from one tone curve."""
    hue_axis: float
    tone_curve: float

    @property
    def monochrome(self) -> bool:
        return self.hue_axis < HUE_AXIS_MAX and self.tone_curve < TONE_CURVE_MAX


def thumbnail(rgb: np.ndarray, side: int = THUMB_SIDE) -> np.ndarray:
    """uint8 RGB HxWx3 -> float32 RGB hxwx3 in [0, 255], longest side at most ``side`` (area average)."""
    h, w = rgb.shape[:2]
    s = side / max(h, w)
    if s < 1:
        rgb = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return rgb.astype(np.float32)


def _yuv(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float RGB in [0, 255] -> BT.601 luma and (unscaled-offset) chroma u, v, in 8-bit codes."""
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    return y, 0.564 * (b - y), 0.713 * (r - y)


def hue_axis_spread(x: np.ndarray) -> float:
    """float RGB thumbnail -> 99th percentile of |chroma x dominant hue direction| (8-bit codes)."""
    _, u, v = _yuv(x)
    mu, mv = float(u.mean()), float(v.mean())
    norm = float(np.hypot(mu, mv))
    off_axis = np.abs(u * mv - v * mu) / norm if norm > 1.0 else np.hypot(u, v)
    return float(np.percentile(off_axis, 99))


def tone_curve_residual(x: np.ndarray) -> float:
    """float RGB thumbnail -> 99th percentile, over flat pixels, of the chroma distance to the
    frame's own curve chroma(luma) (8-bit codes)."""
    y, u, v = _yuv(x)
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3) / 8
    flat = (cv2.dilate(np.hypot(gx, gy), np.ones((3, 3), np.uint8)) < FLAT_GRADIENT).ravel()
    y, u, v = y.ravel(), u.ravel(), v.ravel()
    band = np.minimum((y * (LUMA_BANDS / 256.0)).astype(np.int64), LUMA_BANDS - 1)
    centres, cu, cv_ = [], [], []
    for k in np.unique(band):
        m = band == k
        if m.sum() >= 8:      # a band of a few pixels has no reliable median
            centres.append(np.median(y[m]))
            cu.append(np.median(u[m]))
            cv_.append(np.median(v[m]))
    if not centres:
        centres, cu, cv_ = [float(np.median(y))], [float(np.median(u))], [float(np.median(v))]
    residual = np.hypot(u - np.interp(y, centres, cu), v - np.interp(y, centres, cv_))
    if flat.sum() >= 50:      # a frame that is all edges is judged on all its pixels
        residual = residual[flat]
    return float(np.percentile(residual, 99))


def monochrome_scores(rgb: np.ndarray) -> MonochromeScores:
    """uint8 RGB HxWx3 (or gray HxW) -> both scores. A 2-D array is monochrome by construction."""
    if rgb.ndim == 2:
        return MonochromeScores(0.0, 0.0)
    x = thumbnail(rgb)
    return MonochromeScores(hue_axis_spread(x), tone_curve_residual(x))


def is_monochrome(frames: list[np.ndarray]) -> bool | None:
    """True when the frames (uint8 RGB, e.g. ~10 spread over a video) are black-and-white or
    toned: the median of each score below its bound. None for no frames."""
    if not frames:
        return None
    scores = [monochrome_scores(f) for f in frames]
    return MonochromeScores(
        float(np.median([s.hue_axis for s in scores])),
        float(np.median([s.tone_curve for s in scores])),
    ).monochrome

"""How much of a restoration to keep (``--strength``): a blend of the restored frame with the frame
it came from, with the marked damage repaired at any strength.

The global restorer cleans a whole frame: grain, blur, tone and damage together. Archivists often
want less of that (a print's grain and tone are part of the record) but the scratches gone, and on
a lightly worn scan the full restoration can cost more than it gains (docs/strength.md). So:

- every pixel moves ``strength`` of the way from the original to the restored value;
- pixels the scratch detector marked (when the stage took the scratch path) take the restored
  content whatever the strength, shifted by ``1 - strength`` of the local tone difference between
  the two frames, measured around the damage, so that a repair sits in the blended frame without
  an edge. ``strength`` 0 then changes only the marked damage.
"""
from __future__ import annotations

import cv2
import numpy as np

FEATHER_PX = 3          # the repair's weight falls from 1 to 0 over about this many pixels outside the mark
TONE_SIGMA_PX = 8.0     # scale of the local tone difference carried into a repair
_TONE_SCALE = 4         # the tone difference is measured at 1/4 resolution (cheap, and it is smooth)
_BAND_ROWS = 256        # rows blended at a time: float copies of a 6000x4000 scan stay small
_REACH = 16             # px: repair_weight's reach beyond a mark (3 dilations + the blur's 6 px radius), rounded up


def repair_weight(damage: np.ndarray, feather: int = FEATHER_PX) -> np.ndarray:
    """bool HxW marks -> float32 HxW weight in [0, 1]: 1 on the marks and one pixel around them,
    falling smoothly to 0 about ``feather`` px further out."""
    m = damage.astype(np.uint8)
    k = np.ones((3, 3), np.uint8)
    hard = cv2.dilate(m, k, iterations=1).astype(np.float32)
    if feather <= 0:
        return hard
    soft = cv2.dilate(m, k, iterations=feather).astype(np.float32)
    soft = cv2.GaussianBlur(soft, (0, 0), feather / 2.0)
    return np.maximum(hard, soft)


def tone_difference(original: np.ndarray, restored: np.ndarray, damage: np.ndarray,
                    sigma: float = TONE_SIGMA_PX) -> np.ndarray:
    """Low frequencies of ``original - restored`` (uint8 RGB HxWx3 each), measured only on pixels
    away from ``damage`` (bool HxW) and spread over it: float32 HxWx3, in 8-bit levels.

    Normalised convolution at 1/4 resolution: blur(difference x valid) / blur(valid); where no
    valid pixel is near (a large stain), the frame's mean difference over valid pixels."""
    h, w = damage.shape
    return _upsample_rows(_tone_map(original, restored, damage, sigma), h, w, 0, h)


def _tone_map(original: np.ndarray, restored: np.ndarray, damage: np.ndarray,
              sigma: float = TONE_SIGMA_PX) -> np.ndarray:
    """tone_difference at 1/4 resolution (float32 hxwx3): what apply_strength upsamples band by band."""
    h, w = damage.shape
    marked = cv2.dilate(damage.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=FEATHER_PX)
    small = (max(1, w // _TONE_SCALE), max(1, h // _TONE_SCALE))
    # the share of valid pixels per small pixel, from 0/255 bytes: no full-size float copy
    v = cv2.resize((1 - marked) * np.uint8(255), small, interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    diff = cv2.resize(original, small, interpolation=cv2.INTER_AREA).astype(np.float32) \
        - cv2.resize(restored, small, interpolation=cv2.INTER_AREA).astype(np.float32)
    s = max(sigma / _TONE_SCALE, 0.5)
    num = cv2.GaussianBlur(diff * v[..., None], (0, 0), s)
    den = cv2.GaussianBlur(v, (0, 0), s)[..., None]
    total = float(v.sum())
    fallback = (diff * v[..., None]).reshape(-1, 3).sum(0) / total if total > 0 else np.zeros(3, np.float32)
    near = den > 0.05
    return np.where(near, num / np.maximum(den, 1e-6), fallback[None, None, :]).astype(np.float32)


def _upsample_rows(small: np.ndarray, h: int, w: int, y0: int, y1: int) -> np.ndarray:
    """Rows y0..y1 of ``small`` (float32 hs x ws x 3) bilinearly resized to h x w, as cv2.resize
    maps pixel centres, without making the other rows: float32 (y1-y0) x w x 3."""
    hs, ws = small.shape[:2]
    xs = (np.arange(w, dtype=np.float32) + 0.5) * (ws / w) - 0.5
    ys = (np.arange(y0, y1, dtype=np.float32) + 0.5) * (hs / h) - 0.5
    map_x = np.broadcast_to(xs[None, :], (y1 - y0, w)).astype(np.float32)
    map_y = np.broadcast_to(ys[:, None], (y1 - y0, w)).astype(np.float32)
    return cv2.remap(small, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(y1 - y0, w, 3)


def apply_strength(original: np.ndarray, restored: np.ndarray, strength: float,
                   damage: np.ndarray | None = None) -> np.ndarray:
    """Keep ``strength`` (0..1) of a restoration.

    original, restored: uint8 RGB HxWx3 of the same size (the frame before and after the
    restorer). damage: bool HxW, the scratch mask the restorer repaired, or None. Returns uint8 RGB
    HxWx3: ``restored`` at 1; at 0 ``original`` with only the damage repaired (exactly ``original``
    when ``damage`` is None or empty); in between, linear in 8-bit levels. A gray frame (three
    equal channels) stays gray.
    """
    if original.shape != restored.shape or original.dtype != np.uint8 or restored.dtype != np.uint8:
        raise ValueError(f"apply_strength: expected two uint8 HxWx3 frames of one size, got "
                         f"{original.dtype} {original.shape} and {restored.dtype} {restored.shape}")
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"apply_strength: strength {strength} outside 0..1")
    if strength >= 1.0:
        return restored
    has_damage = damage is not None and bool(damage.any())
    if strength <= 0.0 and not has_damage:
        return original.copy()
    out = np.empty_like(original)
    h, w = original.shape[:2]
    tone_small = _tone_map(original, restored, damage) if has_damage else None
    for y0 in range(0, h, _BAND_ROWS):
        y1 = min(h, y0 + _BAND_ROWS)
        o = original[y0:y1].astype(np.float32)
        r = restored[y0:y1].astype(np.float32)
        band = o + strength * (r - o)
        if tone_small is not None:
            # the repair weight reaches _REACH px beyond a mark: marks that near the band count
            m0, m1 = max(0, y0 - _REACH), min(h, y1 + _REACH)
            if damage[m0:m1].any():
                wb = repair_weight(damage[m0:m1])[y0 - m0:y1 - m0, :, None]
                repair = r + (1.0 - strength) * _upsample_rows(tone_small, h, w, y0, y1)
                band += wb * (repair - band)
        np.clip(band + 0.5, 0, 255, out=band)
        out[y0:y1] = band.astype(np.uint8)
    return out

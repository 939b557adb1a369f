"""User control over the colorizer's colours: a saturation factor and colour maps (``blue=green``).

A colorizer guesses colours; the user often knows better ("her scarf was red, not blue", "this
yellow should be our club's yellow": jantic/DeOldify#38, #499). These are pure functions on the
colorized frame. They change only its chroma (CIELAB a*, b*) and keep its lightness, which is the
photo's own, so they can never add or remove detail. They act on each pixel alone, so a pixel
whose colour holds still in video stays still. In a map's fading band (below) a small change of
hue from frame to frame changes how far the pixel is turned, so there a map amplifies colour
flicker up to 1 + (hue turn) / WIDTH times; a wide WIDTH keeps that low.

A colour map ``FROM=TO`` turns the hues near FROM's towards TO's: each such pixel's (a*, b*) is
rotated by the hue angle from FROM to TO and scaled by TO's chroma over FROM's, so FROM itself
becomes TO, a pale FROM a pale TO, and a sky's gradient of blues a gradient around TO. Full
weight within ``width`` degrees of FROM's hue (CIELAB hue angle), fading to none at twice that. Near-
grey pixels (chroma under ~5) are left alone: they have no hue to match, and whites and shadows
should stay neutral.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from ..errors import OldfilmError

# Everyday names, as sRGB. Enough to say "blue=green"; anything else is #RRGGBB.
NAMED_COLORS: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 30), "orange": (230, 130, 30), "yellow": (230, 210, 40), "green": (40, 150, 50),
    "cyan": (40, 190, 200), "blue": (40, 80, 200), "purple": (120, 50, 160), "magenta": (200, 40, 160),
    "pink": (235, 140, 170), "brown": (130, 80, 40), "olive": (120, 120, 40), "teal": (30, 120, 120),
    "navy": (20, 30, 110), "skin": (225, 170, 140),
}
MIN_CHROMA = 5.0          # CIELAB chroma under which a pixel or a FROM colour counts as grey
DEFAULT_WIDTH = 25.0      # degrees of hue at full weight on each side of FROM's hue


def parse_color(text: str) -> tuple[int, int, int]:
    """sRGB uint8 triple of a colour name (:data:`NAMED_COLORS`) or ``#RRGGBB`` / ``RRGGBB``."""
    t = text.strip().lower()
    if t in NAMED_COLORS:
        return NAMED_COLORS[t]
    m = re.fullmatch(r"#?([0-9a-f]{6})", t)
    if not m:
        names = ", ".join(NAMED_COLORS)
        raise OldfilmError(f"colour {text!r}: expected #RRGGBB or one of {names}")
    h = m.group(1)
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def cielab(rgb: np.ndarray) -> np.ndarray:
    """float32 CIELAB (L 0..100, a and b about -128..127) of uint8 RGB ...x3. OpenCV's float
    conversion (same D65 formulas as metrics.rgb_to_lab) because this runs on every frame and needs
    the way back too."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def cielab_to_rgb8(lab: np.ndarray) -> np.ndarray:
    """uint8 RGB ...x3 of float32 CIELAB ...x3 (the inverse of :func:`cielab`; out-of-gamut colours
    clipped in sRGB)."""
    out = cv2.cvtColor(np.ascontiguousarray(lab, dtype=np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ColorMap:
    """``source`` hues become ``target`` hues (sRGB uint8 triples); ``width`` in degrees."""

    source: tuple[int, int, int]
    target: tuple[int, int, int]
    width: float = DEFAULT_WIDTH

    @classmethod
    def parse(cls, text: str) -> ColorMap:
        """``FROM=TO`` or ``FROM=TO:WIDTH`` (names or #RRGGBB; WIDTH in hue degrees, 5..90)."""
        spec, _, width = text.partition(":")
        src, sep, dst = spec.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise OldfilmError(f"--map-color {text!r}: expected FROM=TO, e.g. blue=green or yellow=#E8C547")
        try:
            w = float(width) if width else DEFAULT_WIDTH
        except ValueError:
            raise OldfilmError(f"--map-color {text!r}: width {width!r} is not a number") from None
        if not 5 <= w <= 90:
            raise OldfilmError(f"--map-color {text!r}: width {w:g} out of range 5..90 degrees")
        try:
            src_rgb, dst_rgb = parse_color(src), parse_color(dst)
        except OldfilmError as e:
            raise OldfilmError(f"--map-color {text!r}: {e}") from None
        if _chroma_hue(src_rgb)[0] < MIN_CHROMA:
            raise OldfilmError(f"--map-color {text!r}: {src.strip()} is grey and has no hue to match")
        return cls(src_rgb, dst_rgb, w)

    @cached_property
    def coefficients(self) -> tuple[np.float32, np.float32, np.float32, np.float32]:
        """(cos, sin) of FROM's hue and (k cos t - 1, k sin t) of the turn by t = TO's hue - FROM's,
        scaled by k = TO's chroma / FROM's: computed once, not per frame."""
        c_src, h_src = _chroma_hue(self.source)
        c_dst, h_dst = _chroma_hue(self.target)
        k, t = c_dst / c_src, h_dst - h_src
        f = np.float32
        return f(np.cos(h_src)), f(np.sin(h_src)), f(k * np.cos(t) - 1.0), f(k * np.sin(t))


def _chroma_hue(rgb: tuple[int, int, int]) -> tuple[float, float]:
    lab = cielab(np.array([[rgb]], np.uint8))[0, 0]
    return float(np.hypot(lab[1], lab[2])), float(np.arctan2(lab[2], lab[1]))


def _apply_map(ab: np.ndarray, m: ColorMap) -> np.ndarray:
    """float32 HxWx2 CIELAB a*, b* with ``m`` applied."""
    a, b = ab[..., 0], ab[..., 1]
    chroma = np.hypot(a, b)
    cos_src, sin_src, ca, sa = m.coefficients
    # |hue - FROM's hue| in degrees, through the dot product (no per-pixel arctan2)
    cos_dh = (a * cos_src + b * sin_src) / np.maximum(chroma, np.float32(1e-6))
    dh = np.degrees(np.arccos(np.clip(cos_dh, -1.0, 1.0, out=cos_dh), out=cos_dh), out=cos_dh)
    w = np.clip(2.0 - dh / np.float32(m.width), 0.0, 1.0)
    w *= np.clip((chroma - MIN_CHROMA) / MIN_CHROMA, 0.0, 1.0)
    # FROM lands on TO; its neighbours keep their hue offsets (a sky's gradient stays a gradient)
    out = ab.copy()
    out[..., 0] += w * (ca * a - sa * b)
    out[..., 1] += w * (sa * a + ca * b)
    return out


def adjust_colors(rgb: np.ndarray, saturation: float = 1.0, maps: tuple[ColorMap, ...] = ()) -> np.ndarray:
    """uint8 RGB HxWx3 -> uint8 RGB HxWx3: the colour maps applied in order, then the chroma scaled
    by ``saturation`` (0: grey, 1: as is). CIELAB lightness is kept (out-of-gamut results are
    clipped in sRGB). The input itself when there is nothing to do."""
    if saturation == 1.0 and not maps:
        return rgb
    if saturation < 0:
        raise ValueError(f"saturation {saturation} < 0")
    lab = cielab(rgb)
    ab = lab[..., 1:]
    for m in maps:
        ab = _apply_map(ab, m)
    lab[..., 1:] = ab * np.float32(saturation)
    return cielab_to_rgb8(lab)

"""Synthetic old-photo and old-film degradation: the training and evaluation data model.

``degrade(rgb, rng, recipe) -> (degraded, mask)`` on uint8 RGB HxWx3, pure and seeded: the same
image, generator state and recipe give the same bytes.

Order of operations, and why:

0. **thin picture content** (only where a recipe asks, p_content > 0: the scratch detector's
   hard negatives): sticks, poles, railings, wires and spectacle rims drawn into the clean picture
   in its own colours, shaded and softened by the lens. They are in the target and never in the
   mask, so a detector learns that a thin line is not by itself damage.
1. **tone** (kept in the restoration target, see :func:`degrade_pair`): grayscale or sepia toning.
   A restorer must not invent colour, so a toned photo stays toned.
2. **ageing of the print** (to undo): fading towards a warm paper white, contrast loss, halftone
   screen, vignetting.
3. **physical damage** (marked in the mask): real 35 mm film damage overlays (hair, dust, dirt,
   scratches, stains, ... as 8-bit masks, 255 = damage) blended light or dark at random opacity
   (screen, lighten-only or multiply, after the CVPR paper), procedural curved scratches for
   photos, and vertical film scratch lines that persist across video frames
   (:class:`FilmScratchTrack`).
4. **BOPBTL's four operations** (``online_add_degradation_v2``, spec §8), in random order, each with
   p=0.7: Gaussian blur (kernel 3/5/7, sigma U(1,5)); one of Gaussian / speckle / salt-and-pepper
   noise; low resolution (down to U(w/2,w) x U(h/2,h) bicubic, back nearest or bilinear); JPEG at
   quality U(40,100). Film grain (luminance-dependent, spatially correlated) joins them.

Damage comes before the scan-like operations because it is on the print: the scan blurs and
compresses it with the rest. The mask marks where damage is visible: opacity >= 0.25 and the damage
changed the pixel by >= 0.08 in some channel. Light dust on a white sky or a dark hair in a shadow
changes nothing, and marking it would teach the detector to guess, and would make the inpainting
path white out good pixels. Broad translucent stains and smut (an overlay covering > 8% of the
frame, blended at 15-45% of its opacity) are degradation but not marked: the picture shows through
them, so they are unstructured damage for the restorer to lift (BOPBTL's quality path), and an
inpainter fed their mask would erase the picture beneath; marking them also taught the detector
that any broad dark region (a dark coat) is damage.
"""
from __future__ import annotations

import argparse
import functools
import math
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MASK_THRESHOLD = 0.25          # damage opacity from which a pixel can be marked, in [0,1]
VISIBLE_DELTA = 0.08           # ... and only if the damage changed it by this much (about 20 uint8 levels)
BROAD_COVER = 0.08             # an overlay covering more of the frame than this is a translucent stain


@dataclass(frozen=True)
class DegradeRecipe:
    """Probabilities and ranges of every operation. Ranges are (low, high), uniform.

    Intensities are in [0,1] image units unless the name says otherwise (``*_px`` pixels,
    ``jpeg_quality`` libjpeg quality).
    """

    # tone (applied to the target as well)
    p_gray: float = 0.3
    p_sepia: float = 0.15
    sepia_strength: tuple[float, float] = (0.4, 1.0)
    # ageing of the print
    p_fade: float = 0.3
    fade: tuple[float, float] = (0.1, 0.4)            # blend weight towards a warm paper white
    p_contrast: float = 0.3
    contrast: tuple[float, float] = (0.5, 0.9)        # multiplies deviations from the mean
    p_halftone: float = 0.05
    halftone_period_px: tuple[float, float] = (3.0, 6.0)
    halftone_mix: tuple[float, float] = (0.2, 0.6)
    p_vignette: float = 0.25
    vignette: tuple[float, float] = (0.15, 0.5)       # darkening at the corners
    # physical damage
    overlays_dir: str | None = None                   # folder of 8-bit damage masks (subfolders = kinds)
    p_overlay: float = 0.7
    overlay_count: tuple[int, int] = (1, 3)           # inclusive
    overlay_opacity: tuple[float, float] = (0.5, 1.0)
    overlay_scale: tuple[float, float] = (0.6, 1.6)   # overlay side relative to the image's long side
    p_curves: float = 0.35                            # random Bezier scratches (photos)
    curve_count: tuple[int, int] = (1, 4)
    curve_width_px: tuple[int, int] = (1, 4)
    p_lines: float = 0.25                             # vertical film scratch lines
    line_count: tuple[int, int] = (1, 3)
    line_width_px: tuple[int, int] = (1, 3)
    p_dark_damage: float = 0.4                        # else light (white) damage
    # thin picture content (sticks, poles, railings, wires, spectacle rims): part of the photo, in
    # the target and never in the mask. Hard negatives for the scratch detector (0 elsewhere).
    p_content: float = 0.0
    content_count: tuple[int, int] = (1, 4)
    # exposure flicker of a clip (only with a FilmScratchTrack, i.e. frames of one clip): each
    # frame's levels x exp(N(0, gain_sd)) + N(0, offset_sd), not in the target. 0: no draw.
    flicker_gain_sd: float = 0.0
    flicker_offset_sd: float = 0.0                    # fraction of the full range
    # BOPBTL's four scan operations (spec §8), each p=0.7, random order
    p_blur: float = 0.7
    blur_kernels: tuple[int, ...] = (3, 5, 7)
    blur_sigma: tuple[float, float] = (1.0, 5.0)
    p_noise: float = 0.7
    noise_sigma: tuple[float, float] = (5 / 255, 50 / 255)
    sp_amount: tuple[float, float] = (0.0, 0.01)
    sp_salt: tuple[float, float] = (0.3, 0.8)
    p_lowres: float = 0.7
    p_jpeg: float = 0.7
    jpeg_quality: tuple[int, int] = (40, 100)
    p_grain: float = 0.3
    grain_sigma: tuple[float, float] = (0.02, 0.08)
    grain_size_px: tuple[float, float] = (1.0, 2.5)

    def with_overlays(self, path: str | Path | None) -> "DegradeRecipe":
        return replace(self, overlays_dir=None if path is None else str(path))


def bopbtl_recipe() -> DegradeRecipe:
    """Only what BOPBTL's released code does: the four scan operations (spec §8)."""
    return DegradeRecipe(
        p_gray=0, p_sepia=0, p_fade=0, p_contrast=0, p_halftone=0, p_vignette=0, p_overlay=0,
        p_curves=0, p_lines=0, p_grain=0,
    )


RECIPES = {
    "photo": DegradeRecipe,                     # old photographs: damage, ageing, scan
    "film": lambda: DegradeRecipe(p_lines=0.8, p_curves=0.1, p_grain=0.6, p_halftone=0.0),
    "bopbtl": bopbtl_recipe,
}


def recipe_by_name(name: str, overlays_dir: str | Path | None = None) -> DegradeRecipe:
    if name not in RECIPES:
        from ..errors import OldfilmError

        raise OldfilmError(f"--recipe {name}: expected one of {', '.join(RECIPES)}")
    return RECIPES[name]().with_overlays(overlays_dir)


# --------------------------------------------------------------------------- overlays


@functools.lru_cache(maxsize=8)
def overlay_bank(folder: str) -> "OverlayBank":
    return OverlayBank(Path(folder))


class OverlayBank:
    """Damage masks of one folder, grouped by kind, loaded lazily with a bounded cache.

    Kinds are the subfolders (``hair/``, ``dirt/``, ...) or, in a flat folder, the file-name stem
    without its trailing number (``hair-0001.png`` -> ``hair``). Kinds are drawn uniformly, so
    4000 hair masks do not drown 200 scratch masks. Any 8-bit image works: L (255 = damage),
    RGBA (alpha = damage), RGB (luma = damage).
    """

    CACHE = 512     # masks kept in memory (400x400 uint8: 160 kB each)

    def __init__(self, folder: Path):
        if not folder.is_dir():
            from ..errors import OldfilmError

            raise OldfilmError(f"{folder}: damage overlay folder not found")
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            from ..errors import OldfilmError

            raise OldfilmError(f"{folder}: no overlay images (png/jpg) in it")
        kinds: dict[str, list[Path]] = {}
        for p in files:
            rel = p.relative_to(folder)
            kind = rel.parts[0] if len(rel.parts) > 1 else re.sub(r"[-_]?\d+$", "", p.stem)
            kinds.setdefault(kind, []).append(p)
        self.kinds = dict(sorted(kinds.items()))
        self._cache: dict[Path, np.ndarray] = {}

    def pick_kind(self, rng: np.random.Generator) -> tuple[str, np.ndarray]:
        """(kind, mask): a kind drawn uniformly, then one of its files."""
        names = list(self.kinds)
        kind = names[int(rng.integers(len(names)))]
        files = self.kinds[kind]
        return kind, self.load(files[int(rng.integers(len(files)))])

    def load(self, path: Path) -> np.ndarray:
        """The mask as float32 HxW in [0,1], 1 = damage."""
        hit = self._cache.get(path)
        if hit is not None:
            return hit
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if raw is None:
            from ..errors import BadInputError

            raise BadInputError(path, "not a readable image")
        if raw.ndim == 3 and raw.shape[2] == 4:
            a = raw[..., 3]
        elif raw.ndim == 3:
            a = cv2.cvtColor(raw, cv2.COLOR_BGR2GRAY)
        else:
            a = raw
        if a.dtype != np.uint8:
            a = (a.astype(np.float32) / np.iinfo(a.dtype).max * 255).astype(np.uint8)
        out = a.astype(np.float32) / 255.0
        if len(self._cache) >= self.CACHE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[path] = out
        return out


def _place_overlay(m: np.ndarray, h: int, w: int, rng: np.random.Generator, scale: tuple[float, float]) -> np.ndarray:
    """Random flip/rotation/scale/position of a damage mask onto an HxW canvas (float32 [0,1])."""
    k = int(rng.integers(4))
    m = np.rot90(m, k)
    if rng.random() < 0.5:
        m = m[:, ::-1]
    side = max(h, w) * rng.uniform(*scale)
    f = side / max(m.shape)
    mh, mw = max(1, round(m.shape[0] * f)), max(1, round(m.shape[1] * f))
    m = cv2.resize(np.ascontiguousarray(m), (mw, mh), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
    # random offset; the overlay may hang over the border
    y0 = int(rng.integers(-mh // 2, max(h - mh // 2, -mh // 2 + 1)))
    x0 = int(rng.integers(-mw // 2, max(w - mw // 2, -mw // 2 + 1)))
    out = np.zeros((h, w), np.float32)
    ys, xs = max(0, y0), max(0, x0)
    ye, xe = min(h, y0 + mh), min(w, x0 + mw)
    if ye > ys and xe > xs:
        out[ys:ye, xs:xe] = m[ys - y0 : ye - y0, xs - x0 : xe - x0]
    return out


# --------------------------------------------------------------------------- film scratch lines


@dataclass
class _Line:
    x: float          # column, px
    v: float          # drift, px per frame
    width: int
    dark: bool
    opacity: float
    y0: float         # visible vertical extent, fraction of height
    y1: float
    wobble: float     # sideways wobble amplitude, px
    phase: float
    life: int         # frames left


class FilmScratchTrack:
    """Vertical scratch lines on a film strip, persistent across frames.

    A projector drags a particle along the film, so the line stays near the same column for many
    frames, drifting and flickering slightly; lines are born and die. ``step(rng)`` advances one
    frame and returns the lines' opacity map (float32 HxW in [0,1]) and whether each pixel's
    damage is dark (bool HxW).
    """

    def __init__(self, height: int, width: int, rng: np.random.Generator, recipe: DegradeRecipe | None = None):
        self.h, self.w = height, width
        self.recipe = recipe or DegradeRecipe()
        lo, hi = self.recipe.line_count
        self.lines = [self._new_line(rng) for _ in range(int(rng.integers(lo, hi + 1)))]
        self.frame = 0

    def _new_line(self, rng: np.random.Generator) -> _Line:
        r = self.recipe
        full = rng.random() < 0.6
        y0 = 0.0 if full else rng.uniform(0, 0.6)
        y1 = 1.0 if full else rng.uniform(y0 + 0.2, 1.0)
        return _Line(
            x=rng.uniform(0, self.w), v=rng.normal(0, 0.3), width=int(rng.integers(r.line_width_px[0], r.line_width_px[1] + 1)),
            dark=bool(rng.random() < r.p_dark_damage), opacity=rng.uniform(*r.overlay_opacity),
            y0=y0, y1=y1, wobble=rng.uniform(0, 2.0), phase=rng.uniform(0, 2 * math.pi), life=int(rng.integers(10, 200)),
        )

    def step(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        alpha = np.zeros((self.h, self.w), np.float32)
        dark = np.zeros((self.h, self.w), bool)
        ys = np.arange(self.h, dtype=np.float32)
        for ln in self.lines:
            xs = ln.x + ln.wobble * np.sin(ys / max(self.h, 1) * 2 * math.pi + ln.phase)
            pts = np.stack([xs, ys], 1)
            a0, a1 = int(ln.y0 * self.h), max(int(ln.y1 * self.h), int(ln.y0 * self.h) + 1)
            layer = np.zeros((self.h, self.w), np.uint8)
            cv2.polylines(layer, [np.round(pts[a0:a1] * 4).astype(np.int32)], False, 255, ln.width, cv2.LINE_AA, shift=2)
            op = float(np.clip(ln.opacity * rng.uniform(0.75, 1.0), 0, 1))   # flicker
            a = layer.astype(np.float32) / 255.0 * op
            dark |= (a > alpha) & ln.dark
            np.maximum(alpha, a, out=alpha)
        # advance: drift, and lines die and are born
        for i, ln in enumerate(self.lines):
            ln.x = float(np.clip(ln.x + ln.v + rng.normal(0, 0.2), 0, self.w - 1))
            ln.phase += rng.normal(0, 0.05)
            ln.life -= 1
            if ln.life <= 0:
                self.lines[i] = self._new_line(rng)
        self.frame += 1
        return alpha, dark


# --------------------------------------------------------------------------- tone and ageing (float32 [0,1] RGB)


def _luma(x: np.ndarray) -> np.ndarray:
    return x @ np.array([0.299, 0.587, 0.114], np.float32)


def _tone(x: np.ndarray, rng: np.random.Generator, r: DegradeRecipe) -> np.ndarray:
    """Grayscale or sepia toning: part of the photo's look, kept in the target."""
    if rng.random() < r.p_gray:
        return np.repeat(_luma(x)[..., None], 3, axis=2)
    if rng.random() < r.p_sepia:
        g = _luma(x)[..., None]
        tint = np.array([1.07, 0.96, 0.78], np.float32) * rng.uniform(0.95, 1.05, 3).astype(np.float32)
        s = rng.uniform(*r.sepia_strength)
        return np.clip((1 - s) * x + s * np.clip(g * tint, 0, 1), 0, 1)
    return x


def _age(x: np.ndarray, rng: np.random.Generator, r: DegradeRecipe) -> np.ndarray:
    h, w = x.shape[:2]
    if rng.random() < r.p_contrast:
        m = x.mean(axis=(0, 1), keepdims=True)
        x = m + (x - m) * rng.uniform(*r.contrast)
    if rng.random() < r.p_fade:
        paper = np.array([1.0, 0.97, 0.86], np.float32) * rng.uniform(0.85, 1.0)
        f = rng.uniform(*r.fade)
        g = _luma(x)[..., None]
        x = (1 - f) * (0.5 * x + 0.5 * g) + f * paper if rng.random() < 0.5 else (1 - f) * x + f * paper
    if rng.random() < r.p_halftone:
        period = rng.uniform(*r.halftone_period_px)
        ang = rng.uniform(0, math.pi / 2)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        u = (xx * math.cos(ang) + yy * math.sin(ang)) * (2 * math.pi / period)
        v = (-xx * math.sin(ang) + yy * math.cos(ang)) * (2 * math.pi / period)
        screen = (np.cos(u) * np.cos(v) + 1) / 2                    # dot screen in [0,1]
        dots = (x > screen[..., None]).astype(np.float32)
        dots = cv2.GaussianBlur(dots, (3, 3), 0.6)
        mix = rng.uniform(*r.halftone_mix)
        x = (1 - mix) * x + mix * dots
    if rng.random() < r.p_vignette:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cy, cx = h / 2 + rng.normal(0, h * 0.05), w / 2 + rng.normal(0, w * 0.05)
        d2 = ((yy - cy) / (h / 2)) ** 2 + ((xx - cx) / (w / 2)) ** 2
        x = x * (1 - rng.uniform(*r.vignette) * np.clip(d2 / 2, 0, 1))[..., None]
    return np.clip(x, 0, 1).astype(np.float32)


# --------------------------------------------------------------------------- damage


def _curves(h: int, w: int, rng: np.random.Generator, r: DegradeRecipe) -> np.ndarray:
    """Random cubic Bezier scratches, antialiased, opacity map float32 HxW in [0,1]."""
    layer = np.zeros((h, w), np.uint8)
    t = np.linspace(0, 1, 48, dtype=np.float32)[:, None]
    for _ in range(int(rng.integers(r.curve_count[0], r.curve_count[1] + 1))):
        p0 = rng.uniform(0, 1, 2) * (w, h)
        length = rng.uniform(0.2, 0.9) * max(h, w)
        ang = rng.uniform(0, 2 * math.pi)
        p3 = p0 + length * np.array([math.cos(ang), math.sin(ang)])
        p1 = p0 + (p3 - p0) / 3 + rng.normal(0, length * 0.15, 2)
        p2 = p0 + 2 * (p3 - p0) / 3 + rng.normal(0, length * 0.15, 2)
        pts = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
        width = int(rng.integers(r.curve_width_px[0], r.curve_width_px[1] + 1))
        cv2.polylines(layer, [np.round(pts * 4).astype(np.int32)], False, int(rng.integers(160, 256)), width, cv2.LINE_AA, shift=2)
    return layer.astype(np.float32) / 255.0


def _blend(x: np.ndarray, alpha: np.ndarray, dark: np.ndarray | bool, rng: np.random.Generator) -> np.ndarray:
    """Composite damage of opacity ``alpha`` (HxW [0,1]) light or dark onto x (HxWx3 [0,1])."""
    a = alpha[..., None]
    light_col = np.float32(rng.uniform(0.85, 1.0))
    dark_col = np.float32(rng.uniform(0.0, 0.15))
    mode = int(rng.integers(3))

    def lightened() -> np.ndarray:
        if mode == 0:            # screen
            return 1 - (1 - x) * (1 - a * light_col)
        if mode == 1:            # lighten only
            return np.maximum(x, a * light_col + (1 - a) * x)
        return np.minimum(x + a * light_col, 1)     # addition

    def darkened() -> np.ndarray:
        return x * (1 - a) + a * dark_col * x.mean()   # multiply-like

    if np.ndim(dark) == 0:       # a layer all light or all dark needs only its own blend
        out = darkened() if dark else lightened()
    else:
        out = np.where(np.asarray(dark)[..., None], darkened(), lightened())
    return out.astype(np.float32)


def _visible(alpha: np.ndarray, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Pixels a damage layer marks: opaque enough, and changed enough to be seen."""
    # Only the opaque pixels are compared (damage covers a few % of a frame): a third of a
    # training crop's degradation time went to the whole-frame difference before.
    opaque = alpha >= MASK_THRESHOLD
    d = np.abs(after[opaque] - before[opaque])
    out = np.zeros_like(opaque)
    out[opaque] = np.maximum(np.maximum(d[:, 0], d[:, 1]), d[:, 2]) >= VISIBLE_DELTA
    return out


def _damage(x: np.ndarray, rng: np.random.Generator, r: DegradeRecipe, track: FilmScratchTrack | None,
            layers: list[tuple[str, np.ndarray]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(damaged x, marked HxW bool). ``layers``, when given, receives (kind, marked) for every
    marking layer: the overlay's kind, ``curves`` or ``lines``."""
    h, w = x.shape[:2]
    mask = np.zeros((h, w), bool)

    def mark(kind: str, marked: np.ndarray) -> None:
        mask[marked] = True
        if layers is not None:
            layers.append((kind, marked))

    if r.overlays_dir and rng.random() < r.p_overlay:
        bank = overlay_bank(str(r.overlays_dir))
        for _ in range(int(rng.integers(r.overlay_count[0], r.overlay_count[1] + 1))):
            kind, m = bank.pick_kind(rng)
            a = _place_overlay(m, h, w, rng, r.overlay_scale)
            # large stains and smut are translucent on real prints, not opaque blots
            broad = float((a > 0.5).mean()) > BROAD_COVER
            a *= rng.uniform(*r.overlay_opacity) * (rng.uniform(0.15, 0.45) if broad else 1.0)
            before, x = x, _blend(x, a, bool(rng.random() < r.p_dark_damage), rng)
            if not broad:   # a see-through stain is for the restorer to lift, not for the inpainter to erase
                mark(kind, _visible(a, before, x))
    if rng.random() < r.p_curves:
        a = _curves(h, w, rng, r) * rng.uniform(*r.overlay_opacity)
        before, x = x, _blend(x, a, bool(rng.random() < r.p_dark_damage), rng)
        mark("curves", _visible(a, before, x))
    if track is None and rng.random() < r.p_lines:
        track = FilmScratchTrack(h, w, rng, r)
    if track is not None:
        if (track.h, track.w) != (h, w):
            raise ValueError(f"FilmScratchTrack is {track.w}x{track.h}, frame is {w}x{h}")
        a, dark = track.step(rng)
        before, x = x, _blend(x, a, dark, rng)
        mark("lines", _visible(a, before, x))
    return x, mask


# --------------------------------------------------------------------------- thin picture content


def _stroke_colour(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An RGB colour of the picture itself, pushed dark or light: what a stick or a rail in the
    scene looks like, rather than the flat paper white or black of damage."""
    h, w = x.shape[:2]
    c = x[int(rng.integers(h)), int(rng.integers(w))].astype(np.float32)
    lum = _luma(x)
    if rng.random() < 0.6:      # dark object, no darker than the photo's own shadows
        lo = float(np.percentile(lum, 2))
        target = rng.uniform(lo, lo + 0.25)
    else:
        hi = float(np.percentile(lum, 98))
        target = rng.uniform(hi - 0.25, hi)
    return np.clip(c * (target / max(float(_luma(c)), 1e-3)), 0, 1).astype(np.float32)


def _subpx(p: np.ndarray) -> tuple[int, int]:
    """A point in pixels as OpenCV's 2-bit fixed point (``shift=2``): antialiased sub-pixel drawing."""
    return tuple(np.round(np.asarray(p) * 4).astype(int))


def _content(x: np.ndarray, rng: np.random.Generator, r: DegradeRecipe) -> np.ndarray:
    """Draw 1-4 thin objects into the picture (float32 HxWx3 in [0,1] -> same): straight sticks
    and poles (mostly near vertical), railings (parallel bars), wires (gentle curves), spectacle
    rims (small ellipses). Shaded along their length, one side lit, softened by the lens: a
    scratch detector has to learn that thin is not the same as damaged."""
    h, w = x.shape[:2]
    side = max(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for _ in range(int(rng.integers(r.content_count[0], r.content_count[1] + 1))):
        layer = np.zeros((h, w), np.uint8)
        kind = rng.choice(4, p=[0.45, 0.2, 0.2, 0.15])
        width = int(rng.integers(1, 6))
        if kind in (0, 1):                                  # stick / railing
            u = rng.random()
            ang = rng.normal(math.pi / 2, 0.12) if u < 0.55 else (rng.normal(0, 0.1) if u < 0.75 else rng.uniform(0, math.pi))
            length = rng.uniform(0.15, 0.9) * side
            d = np.array([math.cos(ang), math.sin(ang)])
            n_bars = 1 if kind == 0 else int(rng.integers(3, 9))
            gap = rng.uniform(5, 20) * np.array([-d[1], d[0]])
            p0 = rng.uniform(0, 1, 2) * (w, h)
            for i in range(n_bars):
                a, b = p0 + i * gap, p0 + i * gap + length * d
                cv2.line(layer, _subpx(a), _subpx(b), 255, width, cv2.LINE_AA, shift=2)
            if kind == 1:                                   # the rail the bars hang from
                cv2.line(layer, _subpx(p0), _subpx(p0 + (n_bars - 1) * gap), 255, width, cv2.LINE_AA, shift=2)
        elif kind == 2:                                     # wire
            t = np.linspace(0, 1, 48, dtype=np.float32)[:, None]
            p0 = rng.uniform(0, 1, 2) * (w, h)
            p3 = rng.uniform(0, 1, 2) * (w, h)
            sag = np.array([0.0, rng.uniform(0.02, 0.15) * side])
            p1, p2 = p0 + (p3 - p0) / 3 + sag, p0 + 2 * (p3 - p0) / 3 + sag
            pts = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
            cv2.polylines(layer, [np.round(pts * 4).astype(np.int32)], False, 255, min(width, 2), cv2.LINE_AA, shift=2)
        else:                                               # spectacle rims
            c = rng.uniform(0.2, 0.8, 2) * (w, h)
            ax = rng.uniform(0.02, 0.08) * side
            axes = (int(ax * 4), int(ax * rng.uniform(0.6, 1.0) * 4))
            sep = ax * rng.uniform(2.1, 2.6)
            for sgn in (-1, 1):
                cv2.ellipse(layer, _subpx(c + (sgn * sep / 2, 0)), axes, 0, 0, 360, 255, min(width, 2), cv2.LINE_AA, shift=2)
        alpha = layer.astype(np.float32) / 255.0
        alpha = cv2.GaussianBlur(alpha, (0, 0), rng.uniform(0.3, 1.0))
        col = _stroke_colour(x, rng)
        g = rng.uniform(-1, 1, 2)
        ramp = 1 + rng.uniform(0.0, 0.3) * ((xx * g[0] + yy * g[1]) / side)   # light falls off along it
        # one side lit: the layer shifted by a pixel, lighter
        lit = np.roll(alpha, (int(rng.integers(-1, 2)), int(rng.integers(-1, 2))), axis=(0, 1)) * rng.uniform(0, 0.35)
        paint = np.clip(col[None, None] * ramp[..., None] + lit[..., None], 0, 1)
        x = x * (1 - alpha[..., None]) + paint * alpha[..., None]
    return np.clip(x, 0, 1).astype(np.float32)


# --------------------------------------------------------------------------- BOPBTL scan operations


def _blur(x, rng, r):
    k = int(rng.choice(r.blur_kernels))
    return cv2.GaussianBlur(x, (k, k), rng.uniform(*r.blur_sigma))


def _noise(x, rng, r):
    kind = int(rng.integers(3))
    if kind == 0:
        return np.clip(x + rng.normal(0, rng.uniform(*r.noise_sigma), x.shape).astype(np.float32), 0, 1)
    if kind == 1:
        return np.clip(x + x * rng.normal(0, rng.uniform(*r.noise_sigma), x.shape).astype(np.float32), 0, 1)
    amount, salt = rng.uniform(*r.sp_amount), rng.uniform(*r.sp_salt)
    u = rng.random(x.shape, dtype=np.float32)
    x = x.copy()
    x[u < amount * salt] = 1.0
    x[(u >= amount * salt) & (u < amount)] = 0.0
    return x


def _lowres(x, rng, r):
    h, w = x.shape[:2]
    nw, nh = int(rng.integers(max(1, w // 2), w + 1)), int(rng.integers(max(1, h // 2), h + 1))
    small = cv2.resize(x, (nw, nh), interpolation=cv2.INTER_CUBIC)
    back = cv2.INTER_NEAREST if rng.random() < 0.5 else cv2.INTER_LINEAR
    return np.clip(cv2.resize(small, (w, h), interpolation=back), 0, 1)


def _jpeg(x, rng, r):
    q = int(rng.integers(r.jpeg_quality[0], r.jpeg_quality[1] + 1))
    u8 = np.round(x * 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0


def _grain(x, rng, r):
    h, w = x.shape[:2]
    size = rng.uniform(*r.grain_size_px)
    gh, gw = max(1, round(h / size)), max(1, round(w / size))
    g = cv2.resize(rng.normal(0, 1, (gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    lum = _luma(x)
    amp = rng.uniform(*r.grain_sigma) * (0.4 + 2.4 * lum * (1 - lum))  # strongest in the midtones
    return np.clip(x + (g * amp)[..., None], 0, 1)


_SCAN_OPS = ("blur", "noise", "lowres", "jpeg")


def _scan(x: np.ndarray, rng: np.random.Generator, r: DegradeRecipe) -> np.ndarray:
    ops = {"blur": (_blur, r.p_blur), "noise": (_noise, r.p_noise), "lowres": (_lowres, r.p_lowres), "jpeg": (_jpeg, r.p_jpeg)}
    for i in rng.permutation(len(_SCAN_OPS)):
        fn, p = ops[_SCAN_OPS[i]]
        if rng.random() < p:
            x = fn(x, rng, r)
    if rng.random() < r.p_grain:
        x = _grain(x, rng, r)
    return x


# --------------------------------------------------------------------------- public API


class ClipDraws:
    """The random draws of one frame of a clip whose print and scan are one, as on a real reel.

    Settings (scalars and short vectors: toning, fading, contrast, vignette, blur and noise
    strength, JPEG quality, which scan operations run and in what order) come from a generator
    re-seeded with ``clip_seed`` for every frame, so every frame gets the same ones. Noise fields
    (draws of FIELD elements or more) come from the frame's own generator, so grain and noise
    still change from frame to frame. Used by :func:`degrade_pair` for toning, ageing and scan;
    damage (dust, hair, scratches) and exposure flicker draw from the frame's generator."""

    FIELD = 64

    def __init__(self, clip_seed, frame_rng: np.random.Generator):
        self.clip = np.random.default_rng(clip_seed)
        self.frame = frame_rng

    def _pick(self, size) -> np.random.Generator:
        return self.frame if size is not None and int(np.prod(size)) >= self.FIELD else self.clip

    def random(self, size=None, dtype=np.float64):
        return self._pick(size).random(size, dtype=dtype)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._pick(size).normal(loc, scale, size)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self._pick(size).uniform(low, high, size)

    def integers(self, *args, **kwargs):
        return self.clip.integers(*args, **kwargs)

    def choice(self, *args, **kwargs):
        return self.clip.choice(*args, **kwargs)

    def permutation(self, *args, **kwargs):
        return self.clip.permutation(*args, **kwargs)


def _check(rgb: np.ndarray) -> None:
    if not (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3):
        raise ValueError(f"expected uint8 RGB HxWx3, got {getattr(rgb, 'dtype', type(rgb))} {getattr(rgb, 'shape', '')}")


def degrade_pair(
    rgb: np.ndarray, rng: np.random.Generator, recipe: DegradeRecipe | None = None, track: FilmScratchTrack | None = None,
    layers: list[tuple[str, np.ndarray]] | None = None, clip_seed=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target, degraded, mask) for training: the target is ``rgb`` with the same toning
    (grayscale/sepia) as the degraded image, since toning is not damage to undo.

    All uint8: target and degraded RGB HxWx3, mask HxW in {0,255} (255 = scratch/damage).
    ``layers``, when given, receives (kind, HxW bool) for each damage layer the mask marks: the
    overlay's kind (its folder), ``curves`` or ``lines``; their union is the mask.
    ``clip_seed`` (any seed for np.random.default_rng), the same for every frame of a clip, draws
    the toning, ageing and scan settings once for the clip (:class:`ClipDraws`); without it each
    frame draws its own.
    """
    _check(rgb)
    r = recipe or DegradeRecipe()
    look = rng if clip_seed is None else ClipDraws(clip_seed, rng)
    x = rgb.astype(np.float32) / 255.0
    if r.p_content > 0 and rng.random() < r.p_content:   # no draw at p=0: older recipes keep their bytes
        x = _content(x, rng, r)
    x = _tone(x, look, r)
    target = np.round(x * 255).astype(np.uint8)
    x = _age(x, look, r)
    if track is not None and (r.flicker_gain_sd > 0 or r.flicker_offset_sd > 0):
        x = np.clip(x * np.exp(rng.normal(0, r.flicker_gain_sd)) + rng.normal(0, r.flicker_offset_sd), 0, 1)
    x, mask = _damage(x, rng, r, track, layers)
    x = _scan(x, look, r)
    out = np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
    return target, out, (mask.astype(np.uint8) * 255)


def tone(rgb: np.ndarray, rng: np.random.Generator, recipe: DegradeRecipe | None = None) -> np.ndarray:
    """Only the toning step of :func:`degrade_pair` (grayscale or sepia, with the recipe's
    probabilities): uint8 RGB HxWx3 in and out. For a target toned at one size and degraded at
    another (the face trainer): tone here, resize, then degrade with ``p_gray = p_sepia = 0``."""
    _check(rgb)
    x = _tone(rgb.astype(np.float32) / 255.0, rng, recipe or DegradeRecipe())
    return np.round(x * 255).astype(np.uint8)


def degrade(
    rgb: np.ndarray, rng: np.random.Generator, recipe: DegradeRecipe | None = None, track: FilmScratchTrack | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(degraded uint8 RGB HxWx3, mask uint8 HxW in {0,255}) for one image or video frame.

    Pass the same ``track`` (a :class:`FilmScratchTrack` of the frame size) for every frame of a
    clip so that its vertical scratch lines persist; without one, a photo gets lines with
    probability ``recipe.p_lines``.
    """
    _, out, mask = degrade_pair(rgb, rng, recipe, track)
    return out, mask


# --------------------------------------------------------------------------- preview


def contact_sheet(images: list[np.ndarray], seed: int, recipe: DegradeRecipe, per_row: int = 4, side: int = 192) -> np.ndarray:
    """Rows of (clean | degraded | mask) triplets, uint8 RGB: what the model makes of each image."""
    rng = np.random.default_rng(seed)
    tiles = []
    for img in images:
        h, w = img.shape[:2]
        f = side / min(h, w)
        img = cv2.resize(img, (max(side, round(w * f)), max(side, round(h * f))), interpolation=cv2.INTER_AREA)
        y0, x0 = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
        img = np.ascontiguousarray(img[y0 : y0 + side, x0 : x0 + side])
        for _ in range(per_row):
            tgt, deg, m = degrade_pair(img, rng, recipe)
            tiles.append(np.concatenate([tgt, deg, np.repeat(m[..., None], 3, 2)], 1))
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    rows = []
    for i in range(0, len(tiles), 2):
        pair = tiles[i : i + 2] + ([np.full_like(tiles[0], 255)] if len(tiles[i : i + 2]) < 2 else [])
        rows.append(np.concatenate([pair[0], gap, pair[1]], 1))
    hgap = np.full((6, rows[0].shape[1], 3), 255, np.uint8)
    return np.concatenate([r for row in rows for r in (row, hgap)][:-1], 0)


def _default_preview_images() -> list[np.ndarray]:
    import skimage.data

    return [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee(), skimage.data.rocket()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m oldfilm.restore.degrade", description=__doc__.splitlines()[0])
    ap.add_argument("--preview", metavar="OUT.png", required=True, help="write a contact sheet (clean | degraded | mask)")
    ap.add_argument("--images", nargs="*", help="images to degrade (default: scikit-image samples)")
    ap.add_argument("--overlays", help="folder of damage masks (e.g. ../shared/data/overlays)")
    ap.add_argument("--recipe", default="photo", choices=sorted(RECIPES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-image", type=int, default=4)
    a = ap.parse_args(argv)
    from ..errors import BadInputError, OldfilmError

    try:
        images = []
        for p in a.images or []:
            im = cv2.imread(p, cv2.IMREAD_COLOR)
            if im is None:
                raise BadInputError(p, "not a readable image")
            images.append(im[..., ::-1].copy())
        images = images or _default_preview_images()
        sheet = contact_sheet(images, a.seed, recipe_by_name(a.recipe, a.overlays), per_row=a.per_image)
        if not cv2.imwrite(a.preview, sheet[..., ::-1]):
            raise OldfilmError(f"{a.preview}: cannot write the contact sheet")
    except OldfilmError as e:
        print(f"oldfilm: {e}", file=sys.stderr)
        return e.exit_code
    print(f"wrote {a.preview} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

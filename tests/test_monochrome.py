"""oldfilm.monochrome: black-and-white, toned and tinted pictures against colour ones, including
the one-colour photos (a garment on a grey background) that a one-hue test calls black-and-white."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from oldfilm.monochrome import HUE_AXIS_MAX, TONE_CURVE_MAX, is_monochrome, monochrome_scores


def scene(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """A float luminance picture in [0, 1]: a lit wall, dark and mid-grey objects, texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    lum = 0.55 + 0.35 * x - 0.2 * y
    lum[20:70, 10:50] = 0.25                                       # a dark coat
    lum[30:90, 70:110] = 0.45 + 0.1 * np.sin(x[30:90, 70:110] * 40)  # a patterned dress
    lum[5:15, 60:120] = 0.9
    lum += rng.normal(0, 0.01, lum.shape)
    return np.clip(lum, 0, 1)


def to_u8(rgb: np.ndarray) -> np.ndarray:
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, q: int = 70) -> np.ndarray:
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, "JPEG", quality=q)              # 4:2:0, as video and most scans
    return np.asarray(Image.open(b).convert("RGB"))


def toned(kind: str, seed: int = 0) -> np.ndarray:
    t = scene(seed=seed)[..., None]
    if kind == "grey":
        out = t * np.ones(3)
    elif kind == "sepia":        # brown mid-tones, paper-white highlights
        out = t * ((1 - t) * np.array([1.0, 0.78, 0.55]) + t * np.array([1.0, 0.96, 0.85]))
    elif kind == "blue tint":    # a silent film's night scene: the dye colours the whole frame
        out = t * np.array([0.55, 0.75, 1.0])
    elif kind == "split":        # cool shadows, warm highlights: two hues, one per brightness
        out = t * ((1 - t) * np.array([0.85, 0.95, 1.15]) + t * np.array([1.1, 1.0, 0.82]))
    else:
        raise ValueError(kind)
    return jpeg(to_u8(out))


@pytest.mark.parametrize("kind", ["grey", "sepia", "blue tint", "split"])
def test_grey_toned_and_tinted_pictures_are_monochrome(kind):
    s = monochrome_scores(toned(kind))
    assert s.monochrome, s


def test_a_grey_scan_with_colour_noise_is_monochrome():
    # A black-and-white print scanned in colour: independent noise in each channel, sigma 8 codes.
    rng = np.random.default_rng(3)
    noisy = toned("grey").astype(np.float32) + rng.normal(0, 8, (96, 128, 3))
    s = monochrome_scores(jpeg(np.clip(noisy, 0, 255).astype(np.uint8), 85))
    assert s.monochrome, s


def test_one_colour_beside_grey_of_the_same_brightness_is_colour():
    # Red trousers and the grey shadow beside them have the same luma: one hue, but colour
    # that does not follow luminance. The one-hue score alone calls this black-and-white.
    t = scene()
    rgb = to_u8(t[..., None] * np.ones(3))
    trousers = np.array([180, 30, 40], np.float32)                # luma 75
    rgb[20:70, 10:50] = trousers
    rgb[20:70, 50:62] = 75                                        # the shadow: luma 75, grey
    s = monochrome_scores(jpeg(rgb, 90))
    assert s.hue_axis < HUE_AXIS_MAX            # one hue ...
    assert s.tone_curve > 2 * TONE_CURVE_MAX    # ... but not a function of luminance
    assert not s.monochrome


def test_several_hues_are_colour_and_a_2d_array_is_monochrome():
    rgb = to_u8(scene()[..., None] * np.ones(3))
    rgb[20:70, 10:50] = (40, 70, 180)
    rgb[30:90, 70:110] = (200, 150, 40)
    s = monochrome_scores(jpeg(rgb))
    assert s.hue_axis > HUE_AXIS_MAX and not s.monochrome
    assert monochrome_scores(np.zeros((8, 8), np.uint8)).monochrome


def test_frames_are_judged_by_the_median_of_each_score():
    grey, colour = toned("grey"), toned("grey").copy()
    colour[20:70, 10:50] = (180, 30, 40)
    colour[30:90, 70:110] = (40, 70, 180)
    assert is_monochrome([grey, grey, colour]) is True
    assert is_monochrome([grey, colour, colour]) is False
    assert is_monochrome([]) is None


def test_tiny_and_flat_frames_do_not_crash():
    assert is_monochrome([np.full((3, 5, 3), 128, np.uint8)]) is True
    assert is_monochrome([np.full((1, 1, 3), (200, 20, 20), np.uint8)]) is True   # one pixel: no second colour
    edges = np.indices((16, 16)).sum(0) % 2 * 255                  # all edges: judged on all pixels
    assert is_monochrome([np.repeat(edges[..., None], 3, 2).astype(np.uint8)]) is True

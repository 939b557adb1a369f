"""Colour metrics as pure functions: CIELAB, mean CIEDE2000, colourfulness, PSNR on a/b (metrics.md).

RGB inputs are uint8 RGB HxWx3 (sRGB). CIELAB uses D65 / 2-degree white, the same conversion as
scikit-image's ``rgb2lab``, so figures match what other projects compute with it.
"""
from __future__ import annotations

import math

import numpy as np

# sRGB (D65) -> XYZ, as in the sRGB specification (and scikit-image).
_XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB ...x3 (or float in [0, 1]) -> float64 CIELAB ...x3: L in [0, 100], a/b about [-128, 127]."""
    x = rgb.astype(np.float64)
    if rgb.dtype == np.uint8:
        x /= 255.0
    lin = np.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
    xyz = lin @ _XYZ_FROM_RGB.T / _D65_WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """Per-pixel CIEDE2000 colour difference (Sharma, Wu, Dalal 2005), kL = kC = kH = 1.

    lab1, lab2: float CIELAB ...x3 of equal shape. Returns float64 ... >= 0; about 1 is a
    just-noticeable difference, 2..10 perceptible at a glance, above 10 a different colour.
    """
    L1, a1, b1 = np.moveaxis(np.asarray(lab1, np.float64), -1, 0)[:3]
    L2, a2, b2 = np.moveaxis(np.asarray(lab2, np.float64), -1, 0)[:3]
    c_bar = 0.5 * (np.hypot(a1, b1) + np.hypot(a2, b2))
    c7 = c_bar**7
    g = 0.5 * (1.0 - np.sqrt(c7 / (c7 + 25.0**7)))
    a1p, a2p = a1 * (1.0 + g), a2 * (1.0 + g)
    C1, C2 = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1 = np.mod(np.arctan2(b1, a1p), 2 * np.pi)
    h2 = np.mod(np.arctan2(b2, a2p), 2 * np.pi)

    l_bar = 0.5 * (L1 + L2)
    t = (l_bar - 50.0) ** 2
    s_l = 1.0 + 0.015 * t / np.sqrt(20.0 + t)
    l_term = (L2 - L1) / s_l

    cp_bar = 0.5 * (C1 + C2)
    c_term = (C2 - C1) / (1.0 + 0.045 * cp_bar)

    cc = C1 * C2
    h_diff = h2 - h1
    dh = h_diff.copy()
    dh[h_diff > np.pi] -= 2 * np.pi
    dh[h_diff < -np.pi] += 2 * np.pi
    dh[cc == 0.0] = 0.0  # hue is undefined for a neutral colour
    d_hue = 2.0 * np.sqrt(cc) * np.sin(dh / 2.0)

    h_sum = h1 + h2
    h_bar = h_sum.copy()
    wrap = (cc != 0.0) & (np.abs(h_diff) > np.pi)
    h_bar[wrap & (h_sum < 2 * np.pi)] += 2 * np.pi
    h_bar[wrap & (h_sum >= 2 * np.pi)] -= 2 * np.pi
    h_bar[cc == 0.0] *= 2.0
    h_bar *= 0.5
    tt = (
        1.0
        - 0.17 * np.cos(h_bar - np.deg2rad(30.0))
        + 0.24 * np.cos(2.0 * h_bar)
        + 0.32 * np.cos(3.0 * h_bar + np.deg2rad(6.0))
        - 0.20 * np.cos(4.0 * h_bar - np.deg2rad(63.0))
    )
    h_term = d_hue / (1.0 + 0.015 * cp_bar * tt)

    cp7 = cp_bar**7
    r_c = 2.0 * np.sqrt(cp7 / (cp7 + 25.0**7))
    d_theta = np.deg2rad(30.0) * np.exp(-(((np.rad2deg(h_bar) - 275.0) / 25.0) ** 2))
    r_term = -np.sin(2.0 * d_theta) * r_c * c_term * h_term
    return np.sqrt(np.maximum(l_term**2 + c_term**2 + h_term**2 + r_term, 0.0))


def mean_ciede2000(rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
    """Mean CIEDE2000 between two uint8 RGB HxWx3 images (ΔE00 units, >= 0, lower is better)."""
    if rgb_a.shape != rgb_b.shape:
        raise ValueError(f"images differ in shape: {rgb_a.shape} vs {rgb_b.shape}")
    return float(ciede2000(rgb_to_lab(rgb_a), rgb_to_lab(rgb_b)).mean())


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Süsstrunk (2003) colourfulness M of a uint8 RGB HxWx3 image, >= 0.

    Variant (fixed project-wide, metrics.md): the *signed* opponent channels on RGB in [0, 255],
    rg = R - G, yb = (R + G)/2 - B, sigma = sqrt(std(rg)^2 + std(yb)^2),
    mu = sqrt(mean(rg)^2 + mean(yb)^2), M = sigma + 0.3 mu. (DDColor and pyimagesearch take |rg|
    and |yb|, which changes mu; their numbers are not comparable with ours.) Grayscale gives 0;
    the paper calls ~15 slightly colourful, ~33 moderately, ~59 quite, ~82 highly, ~109 extremely.
    """
    x = rgb.astype(np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    rg = r - g
    yb = 0.5 * (r + g) - b
    sigma = math.sqrt(rg.std() ** 2 + yb.std() ** 2)
    mu = math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    return sigma + 0.3 * mu


def psnr_ab(rgb_a: np.ndarray, rgb_b: np.ndarray) -> float:
    """PSNR in dB on the CIELAB a/b channels only, MAX = 255 (the a/b span), +inf when equal.

    The colour part of a colorization's fidelity, insensitive to the luminance it keeps anyway.
    """
    if rgb_a.shape != rgb_b.shape:
        raise ValueError(f"images differ in shape: {rgb_a.shape} vs {rgb_b.shape}")
    la, lb = rgb_to_lab(rgb_a)[..., 1:], rgb_to_lab(rgb_b)[..., 1:]
    err = float(np.mean((la - lb) ** 2))
    return math.inf if err == 0.0 else 10.0 * math.log10(255.0**2 / err)

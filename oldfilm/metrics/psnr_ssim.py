"""PSNR and SSIM as pure functions (metrics.md).

Inputs are images of equal shape: uint8 RGB HxWx3 (or HxW), or float arrays on the same scale as
``data_range``. SSIM follows Wang et al. 2004 exactly as scikit-image computes it with
``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``: an 11x11 Gaussian window
(sigma 1.5, truncated at 3.5 sigma), C1 = (0.01 L)^2, C2 = (0.03 L)^2, reflect padding, and the
5-pixel border cropped before the mean so window edge effects do not count.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    return a.astype(np.float64), b.astype(np.float64)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error over every pixel and channel, in the inputs' units squared."""
    x, y = _pair(a, b)
    return float(np.mean((x - y) ** 2))


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """PSNR = 10 log10(MAX^2 / MSE) in dB, MAX = ``data_range`` (255 for uint8).

    Identical images give +inf. Typical range for photos: 15..50 dB; higher is better.
    """
    err = mse(a, b)
    if err == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / err)


def _gaussian_filter(x: np.ndarray) -> np.ndarray:
    # scipy.ndimage.gaussian_filter(sigma=1.5, truncate=3.5) == this 11-tap separable kernel with
    # 'reflect' (d c b a | a b c d) borders, which is OpenCV's BORDER_REFLECT.
    k = cv2.getGaussianKernel(SSIM_WINDOW, SSIM_SIGMA, cv2.CV_64F)
    return cv2.sepFilter2D(x, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)


def ssim_map(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> np.ndarray:
    """Per-pixel SSIM of two single-channel HxW images, float64 in [-1, 1] (border not cropped)."""
    x, y = _pair(a, b)
    if x.ndim != 2:
        raise ValueError(f"ssim_map expects HxW, got {x.shape}")
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mx, my = _gaussian_filter(x), _gaussian_filter(y)
    sxx = _gaussian_filter(x * x) - mx * mx
    syy = _gaussian_filter(y * y) - my * my
    sxy = _gaussian_filter(x * y) - mx * my
    num = (2 * mx * my + c1) * (2 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return num / den


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM in [-1, 1] (1 = identical). HxWx3 images: the mean of the per-channel SSIMs.

    Images must be at least 11x11 pixels (the window).
    """
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if min(a.shape[:2]) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW}, got {a.shape[:2]}")
    pad = (SSIM_WINDOW - 1) // 2
    chans = [a[..., None], b[..., None]] if a.ndim == 2 else [a, b]
    scores = []
    for c in range(chans[0].shape[2]):
        m = ssim_map(chans[0][..., c], chans[1][..., c], data_range)
        scores.append(float(m[pad:-pad, pad:-pad].mean()))
    return float(np.mean(scores))

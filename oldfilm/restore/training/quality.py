"""Held-out quality of restoration models against the synthetic degradation model.

Figures (metrics.md): PSNR and SSIM of the degraded input, of the model's output and of the
classical baseline, all against the clean target; pixel F1 of scratch masks. The classical
baseline (issue 7): a thresholded scratch mask (pixels far from their 5x5 median), OpenCV Telea
inpainting on it, then fastNlMeans denoising.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from ...metrics import psnr, ssim

Triplet = tuple[np.ndarray, np.ndarray, np.ndarray]      # (target, degraded, mask) uint8


def threshold_mask(rgb: np.ndarray, level: int = 40) -> np.ndarray:
    """Classical scratch/dust detector: |gray - median5(gray)| > level, dilated 3x3. uint8 {0,255}."""
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    diff = cv2.absdiff(g, cv2.medianBlur(g, 5))
    m = (diff > level).astype(np.uint8) * 255
    return cv2.dilate(m, np.ones((3, 3), np.uint8))


def classical_restore(rgb: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """OpenCV baseline: Telea inpainting on ``mask`` (default: :func:`threshold_mask`), then
    fastNlMeans colour denoising (h=10). uint8 RGB in and out."""
    m = threshold_mask(rgb) if mask is None else mask
    x = cv2.inpaint(rgb, m, 3, cv2.INPAINT_TELEA) if m.any() else rgb
    return cv2.fastNlMeansDenoisingColored(x, None, 10, 10, 7, 21)


@dataclass
class F1Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, pred: np.ndarray, truth: np.ndarray) -> None:
        p, t = pred > 127, truth > 127
        self.tp += int((p & t).sum())
        self.fp += int((p & ~t).sum())
        self.fn += int((~p & t).sum())

    @property
    def f1(self) -> float:
        den = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / den if den else 1.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _fin(v: float) -> float:
    return 99.0 if not np.isfinite(v) else v


def restoration_scores(pairs: Sequence[Triplet], restore: Callable[[np.ndarray], np.ndarray],
                       baseline: bool = True) -> dict[str, float]:
    """Mean PSNR (dB) / SSIM of input, model output and classical baseline vs the clean targets."""
    rows = []
    for target, degraded, _ in pairs:
        out = restore(degraded)
        row = {"psnr_in": _fin(psnr(degraded, target)), "ssim_in": ssim(degraded, target),
               "psnr_out": _fin(psnr(out, target)), "ssim_out": ssim(out, target)}
        if baseline:
            base = classical_restore(degraded)
            row.update(psnr_base=_fin(psnr(base, target)), ssim_base=ssim(base, target))
        rows.append(row)
    res = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    res["psnr_gain"] = res["psnr_out"] - res["psnr_in"]
    res["ssim_gain"] = res["ssim_out"] - res["ssim_in"]
    res["n"] = len(rows)
    return res


def mask_scores(pairs: Sequence[Triplet], detect: Callable[[np.ndarray], np.ndarray]) -> dict[str, float]:
    """Pixel F1 / precision / recall of ``detect`` (uint8 {0,255} masks) and of the threshold baseline."""
    model, base = F1Counts(), F1Counts()
    for _, degraded, truth in pairs:
        model.add(detect(degraded), truth)
        base.add(threshold_mask(degraded), truth)
    return {"f1": model.f1, "precision": model.precision, "recall": model.recall,
            "f1_base": base.f1, "n": len(pairs)}


def flagged_fraction(images: Sequence[np.ndarray], detect: Callable[[np.ndarray], np.ndarray]) -> dict[str, float]:
    """Share of pixels ``detect`` marks on pictures with no damage (uint8 RGB): every marked pixel is
    a false positive, and the scratch path would inpaint it. Pooled over all pixels, with the
    threshold baseline's share for scale."""
    marked = base = total = 0
    for rgb in images:
        marked += int((detect(rgb) > 127).sum())
        base += int((threshold_mask(rgb) > 127).sum())
        total += rgb.shape[0] * rgb.shape[1]
    return {"flagged": marked / max(total, 1), "flagged_base": base / max(total, 1), "n": len(images)}


THRESHOLD_GRID = tuple(round(0.3 + 0.05 * i, 2) for i in range(13))   # 0.30 ... 0.90


def best_threshold(probs: Sequence[np.ndarray], truths: Sequence[np.ndarray],
                   grid: Sequence[float] = THRESHOLD_GRID) -> tuple[float, float]:
    """(threshold, F1) of the grid threshold with the highest pooled pixel F1 of ``probs`` (float
    HxW in [0,1]) against ``truths`` (uint8 {0,255}); ties go to the higher threshold, which marks
    fewer pixels for the inpainter to erase."""
    best = (grid[0], -1.0)
    for t in grid:
        c = F1Counts()
        for p, m in zip(probs, truths):
            c.add(((p >= t) * 255).astype(np.uint8), m)
        if c.f1 >= best[1]:
            best = (float(t), c.f1)
    return best

"""When `--scratches auto` takes the scratch path: a cut on the share of pixels the detector marks.

The scratch path helps where there is damage and costs a little where there is none (its mapping
was trained on damaged inputs). The detector also marks a few pixels of most clean photos, so
"any marked pixel" sends good prints down the wrong path. The cut is chosen per restorer and
detector pair, at export, on *training* photos (never the held-out split the figures are scored
on): each photo is restored by both paths as a degraded copy and as the clean photo itself. The
degraded copies come first, since old photos are what users bring and what the figures score;
the clean copies break near-ties: of the cuts of :data:`CUT_GRID` whose mean PSNR on degraded
copies is within :data:`TOLERANCE_DB` of the best, the one with the best mean on clean copies is
saved with the scratch mapping (``oldfilm.auto_min_marked``). A coarse grid, not the exact
optimum, because the mean is a step function of the cut and its fine steps are noise.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..metrics import psnr as metrics_psnr
from .restorer import RestorerNets, detect_scratches, restore_image

# shares of marked pixels; 0 is "any marked pixel", 1 is "never" (no frame has more than all its pixels marked)
CUT_GRID: tuple[float, ...] = (0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 1.0)
# degraded-copy means closer than this are a tie (an invisible difference, smaller than a
# retraining moves the figures)
TOLERANCE_DB = 0.02


@dataclass(frozen=True)
class PathRecord:
    """One input restored both ways. ``marked``: share of pixels the detector marks, [0, 1];
    PSNRs in dB against the target; ``degraded``: a degraded copy (else the clean photo)."""

    marked: float
    psnr_quality: float
    psnr_scratch: float
    degraded: bool


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays of one shape (peak 255), capped at 100 so that identical
    arrays (metrics.psnr: +inf) do not make a mean infinite; no uint8 photo otherwise reaches it."""
    return min(metrics_psnr(a, b), 100.0)


def auto_psnr(records: Sequence[PathRecord], cut: float, degraded: bool | None = None) -> float:
    """Mean PSNR (dB) of `auto` with this cut: the scratch path where ``marked > cut``. ``degraded``
    True/False scores only the degraded or only the clean copies; None all of them."""
    rs = [r for r in records if degraded is None or r.degraded == degraded]
    if not rs:
        raise ValueError("no records to score")
    return float(np.mean([r.psnr_scratch if r.marked > cut else r.psnr_quality for r in rs]))


def choose_auto_cut(records: Sequence[PathRecord], grid: Sequence[float] = CUT_GRID,
                    tolerance_db: float = TOLERANCE_DB) -> float:
    """The cut of ``grid`` for `auto`: among the cuts whose mean PSNR on the degraded records is
    within ``tolerance_db`` of the best, the one with the best mean on the clean records; on a tie
    the smallest (damage left in is worse than a slightly softer clean photo). Needs records of
    both kinds."""
    on_degraded = {c: auto_psnr(records, c, degraded=True) for c in grid}
    near = [c for c in grid if on_degraded[c] >= max(on_degraded.values()) - tolerance_db]
    on_clean = {c: auto_psnr(records, c, degraded=False) for c in near}
    return min(c for c in near if on_clean[c] >= max(on_clean.values()) - 1e-9)


def path_records(quality: RestorerNets, scratch: RestorerNets, detector: torch.nn.Module,
                 triplets: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
                 restore: Callable[..., np.ndarray] = restore_image) -> list[PathRecord]:
    """Two records per (target, degraded, clean) triplet of uint8 RGB HxWx3 arrays: the degraded
    copy scored against ``target``, and ``clean`` against itself. Both paths see the detector's
    mask, as `oldfilm restore` makes it."""
    out: list[PathRecord] = []
    with torch.inference_mode():
        for target, degraded, clean in triplets:
            for src, tgt, is_degraded in ((degraded, target, True), (clean, clean, False)):
                mask = detect_scratches(detector, src)
                out.append(PathRecord(float(mask.mean()), psnr(restore(quality, src), tgt),
                                      psnr(restore(scratch, src, mask), tgt), is_degraded))
    return out


def cut_table(records: Sequence[PathRecord], grid: Sequence[float] = CUT_GRID) -> list[tuple[float, float, float, float]]:
    """(cut, mean PSNR over all, degraded copies, clean copies) for each cut of ``grid``, dB."""
    return [(c, auto_psnr(records, c), auto_psnr(records, c, True), auto_psnr(records, c, False)) for c in grid]

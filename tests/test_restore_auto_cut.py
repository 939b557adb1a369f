"""The `--scratches auto` cut: scored and chosen on per-photo records of both paths."""
from __future__ import annotations

import numpy as np
import pytest

from oldfilm.restore import auto_cut
from oldfilm.restore.auto_cut import (
    CUT_GRID,
    PathRecord,
    auto_psnr,
    choose_auto_cut,
    cut_table,
    path_records,
)


def _records() -> list[PathRecord]:
    # damaged copies mark 3-8 % and gain 2 dB on the scratch path; clean copies mark up to 0.8 %
    # and lose 0.5 dB there
    damaged = [PathRecord(m, 20.0, 22.0, True) for m in (0.03, 0.05, 0.08)]
    clean = [PathRecord(m, 30.0, 29.5, False) for m in (0.0, 0.004, 0.008)]
    return damaged + clean


def test_auto_psnr_takes_the_scratch_path_above_the_cut():
    recs = _records()
    assert auto_psnr(recs, 0.0) == pytest.approx((3 * 22.0 + 30.0 + 2 * 29.5) / 6)
    assert auto_psnr(recs, 1.0) == pytest.approx((3 * 20.0 + 3 * 30.0) / 6)
    assert auto_psnr(recs, 0.01, degraded=True) == pytest.approx(22.0)
    assert auto_psnr(recs, 0.01, degraded=False) == pytest.approx(30.0)
    with pytest.raises(ValueError):
        auto_psnr([r for r in recs if r.degraded], 0.0, degraded=False)


def test_choose_auto_cut_puts_damaged_copies_first_and_prefers_the_smallest_tie():
    # 0.01 and 0.02 both separate the two groups; the smaller one wins
    assert choose_auto_cut(_records()) == 0.01
    # if the scratch path costs nothing on clean photos, every cut below the damage ties: pick 0
    free = [PathRecord(r.marked, r.psnr_quality, r.psnr_quality, False) if not r.degraded else r for r in _records()]
    assert choose_auto_cut(free) == 0.0
    # if it never helps, `auto` should not take it for any of these photos: the smallest cut above all marks
    useless = [PathRecord(r.marked, r.psnr_quality, r.psnr_quality - 1, r.degraded) for r in _records()]
    assert choose_auto_cut(useless) == 0.1
    # degraded copies first: a cut that would spare clean copies 2 dB but cost damaged ones 0.5 dB
    # is not taken, although it wins on the mean over both
    trade = [PathRecord(0.03, 20.0, 20.5, True), PathRecord(0.04, 30.0, 28.0, False)]
    assert auto_psnr(trade, 0.05) > auto_psnr(trade, 0.0)
    assert choose_auto_cut(trade) == 0.0
    # ... unless the loss on damaged copies is within the tolerance
    assert choose_auto_cut(trade, tolerance_db=0.6) == 0.05
    table = cut_table(_records())
    assert [c for c, *_ in table] == list(CUT_GRID)
    assert max(table, key=lambda row: row[1])[0] == 0.01


def test_path_records_restore_both_copies_with_the_detectors_mask(monkeypatch):
    rng = np.random.default_rng(0)
    clean = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    degraded = clean.copy()
    degraded[:, 5] = 255
    mask = np.zeros((16, 24), bool)
    mask[:, 5] = True
    seen = []

    def detect(det, src):
        return mask if (src == degraded).all() else np.zeros_like(mask)

    def restore(nets, src, m=None):
        seen.append((nets, m is not None and bool(m.any())))
        out = src.copy()
        if nets == "scratch" and m is not None:
            out[m] = clean[m]                   # a perfect inpainting
        return out

    monkeypatch.setattr(auto_cut, "detect_scratches", detect)
    recs = path_records("quality", "scratch", None, [(clean, degraded, clean)], restore=restore)
    d, c = recs
    assert d.degraded and not c.degraded
    assert d.marked == pytest.approx(16 / (16 * 24)) and c.marked == 0.0
    assert d.psnr_scratch == 100.0 and d.psnr_quality < 40
    assert c.psnr_quality == c.psnr_scratch == 100.0
    assert seen == [("quality", False), ("scratch", True), ("quality", False), ("scratch", False)]

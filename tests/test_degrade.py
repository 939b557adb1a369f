"""The synthetic old-photo / old-film degradation model (oldfilm/restore/degrade.py)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from oldfilm.errors import OldfilmError
from oldfilm.restore.degrade import (DegradeRecipe, FilmScratchTrack, OverlayBank, bopbtl_recipe, contact_sheet,
                                     degrade, degrade_pair, main, recipe_by_name)

OVERLAYS = Path(__file__).parent / "data" / "damage_overlays"
NOTHING = DegradeRecipe(p_gray=0, p_sepia=0, p_fade=0, p_contrast=0, p_halftone=0, p_vignette=0, p_overlay=0,
                        p_curves=0, p_lines=0, p_blur=0, p_noise=0, p_lowres=0, p_jpeg=0, p_grain=0)


def photo(h: int = 64, w: int = 80, seed: int = 0) -> np.ndarray:
    """A smooth colour test picture: gradients plus a few discs (uint8 RGB)."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 / w, yy * 255 / h, 128 + 60 * np.sin(xx / 7.0)], 2)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(4, 12)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(0, 255, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_shapes_dtypes_and_mask_values():
    img = photo()
    out, mask = degrade(img, np.random.default_rng(1), DegradeRecipe(overlays_dir=str(OVERLAYS)))
    assert out.shape == img.shape and out.dtype == np.uint8
    assert mask.shape == img.shape[:2] and mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 255}


def test_seeded_and_deterministic():
    img = photo()
    r = DegradeRecipe(overlays_dir=str(OVERLAYS), p_lines=0.5, p_halftone=0.5, p_grain=0.5)
    for seed in range(5):
        a = degrade(img, np.random.default_rng(seed), r)
        b = degrade(img, np.random.default_rng(seed), r)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    c = degrade(img, np.random.default_rng(99), r)
    assert not np.array_equal(a[0], c[0])


def test_input_not_modified():
    img = photo()
    keep = img.copy()
    degrade(img, np.random.default_rng(0), DegradeRecipe(overlays_dir=str(OVERLAYS)))
    assert np.array_equal(img, keep)


def test_no_operation_is_identity():
    img = photo()
    out, mask = degrade(img, np.random.default_rng(0), NOTHING)
    assert np.array_equal(out, img) and not mask.any()


def test_mask_marks_the_damage():
    """Light damage on a mid-grey picture: marked pixels got brighter, unmarked ones did not change."""
    img = np.full((64, 64, 3), 100, np.uint8)
    r = replace(NOTHING, overlays_dir=str(OVERLAYS), p_overlay=1.0, overlay_opacity=(1.0, 1.0), p_dark_damage=0.0,
                p_curves=1.0, overlay_count=(2, 2))
    out, mask = degrade(img, np.random.default_rng(3), r)
    m = mask > 0
    assert 0 < m.mean() < 0.9
    diff = out.astype(int).mean(2) - 100
    assert diff[m].mean() > 40                      # visible light damage under the mask
    assert np.abs(diff[~m]).mean() < 10             # little change elsewhere (only faint, unmarked edges)


def test_dark_damage_darkens():
    img = np.full((64, 64, 3), 180, np.uint8)
    r = replace(NOTHING, p_curves=1.0, overlay_opacity=(1.0, 1.0), p_dark_damage=1.0, curve_width_px=(3, 3))
    out, mask = degrade(img, np.random.default_rng(0), r)
    assert mask.any()
    assert out[mask > 0].mean() < 120


def test_invisible_damage_is_not_marked():
    """Light damage on a white print changes nothing, so it is not in the mask; dark damage is."""
    white = np.full((64, 64, 3), 255, np.uint8)
    light = replace(NOTHING, p_curves=1.0, overlay_opacity=(1.0, 1.0), p_dark_damage=0.0, curve_width_px=(3, 3))
    out, mask = degrade(white, np.random.default_rng(0), light)
    assert not mask.any()
    dark = replace(light, p_dark_damage=1.0)
    out, mask = degrade(white, np.random.default_rng(0), dark)
    assert mask.any() and (255 - out[mask > 0].astype(int)).min() >= 20   # every marked pixel visibly changed


def test_film_scratch_track_persists_across_frames():
    rng = np.random.default_rng(5)
    track = FilmScratchTrack(48, 96, rng, replace(NOTHING, line_count=(2, 2), overlay_opacity=(0.9, 1.0)))
    r = NOTHING
    frame = np.full((48, 96, 3), 128, np.uint8)
    cols = []
    for _ in range(6):
        out, mask = degrade(frame, rng, r, track=track)
        assert mask.any()
        cols.append(set(np.nonzero(mask.any(0))[0].tolist()))
    # the lines stay near the same columns from frame to frame (drift of a pixel or two)
    for a, b in zip(cols, cols[1:]):
        near = {c for x in a for c in range(x - 4, x + 5)}
        assert len(b & near) >= 0.8 * len(b)
    with pytest.raises(ValueError):
        degrade(np.zeros((10, 10, 3), np.uint8), rng, r, track=track)


def test_tone_is_kept_in_the_target():
    img = photo()
    r = replace(NOTHING, p_gray=1.0, p_noise=1.0)
    target, out, _ = degrade_pair(img, np.random.default_rng(0), r)
    assert np.array_equal(target[..., 0], target[..., 1]) and np.array_equal(target[..., 1], target[..., 2])
    assert not np.array_equal(out, target)          # noise is degradation, not target


def test_bopbtl_recipe_has_only_the_four_operations():
    r = bopbtl_recipe()
    assert r.p_blur == r.p_noise == r.p_lowres == r.p_jpeg == 0.7
    assert r.p_overlay == r.p_lines == r.p_curves == r.p_grain == r.p_fade == r.p_sepia == 0
    out, mask = degrade(photo(), np.random.default_rng(0), r)
    assert not mask.any()


def test_each_operation_changes_the_image():
    img = photo()
    for field in ("p_blur", "p_noise", "p_lowres", "p_jpeg", "p_grain", "p_fade", "p_contrast", "p_halftone",
                  "p_vignette", "p_sepia"):
        out, _ = degrade(img, np.random.default_rng(2), replace(NOTHING, **{field: 1.0}))
        assert not np.array_equal(out, img), field


def test_overlay_bank_kinds_and_formats(tmp_path):
    (tmp_path / "dust").mkdir()
    m = np.zeros((20, 20), np.uint8)
    m[5:8, 5:8] = 255
    cv2.imwrite(str(tmp_path / "dust" / "a.png"), m)                      # L mask
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[..., 3] = m
    cv2.imwrite(str(tmp_path / "dust" / "b.png"), rgba)                   # alpha mask
    bank = OverlayBank(tmp_path)
    assert list(bank.kinds) == ["dust"]
    for p in bank.kinds["dust"]:
        a = bank.load(p)
        assert a.dtype == np.float32 and a.max() == 1.0 and a[0, 0] == 0.0
    flat = OverlayBank(OVERLAYS)
    assert set(flat.kinds) == {"hair", "scratch"}


def test_bad_overlay_folder_is_one_line_error(tmp_path):
    with pytest.raises(OldfilmError, match="not found"):
        OverlayBank(tmp_path / "missing")
    with pytest.raises(OldfilmError, match="no overlay images"):
        OverlayBank(tmp_path)
    with pytest.raises(OldfilmError, match="--recipe"):
        recipe_by_name("nope")


def test_rejects_non_uint8_rgb():
    with pytest.raises(ValueError):
        degrade(np.zeros((8, 8), np.uint8), np.random.default_rng(0))
    with pytest.raises(ValueError):
        degrade(np.zeros((8, 8, 3), np.float32), np.random.default_rng(0))


def test_odd_and_tiny_sizes():
    for h, w in ((1, 1), (7, 3), (33, 65)):
        out, mask = degrade(photo(h, w), np.random.default_rng(0), DegradeRecipe(overlays_dir=str(OVERLAYS), p_lines=1.0))
        assert out.shape == (h, w, 3) and mask.shape == (h, w)


def test_preview_writes_a_contact_sheet(tmp_path):
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), photo(96, 96)[..., ::-1])
    out = tmp_path / "sheet.png"
    assert main(["--preview", str(out), "--images", str(src), "--overlays", str(OVERLAYS), "--per-image", "2"]) == 0
    sheet = cv2.imread(str(out))
    assert sheet is not None and sheet.shape[0] >= 192 and sheet.shape[1] > 3 * 192
    assert main(["--preview", str(out), "--images", str(tmp_path / "missing.png")]) != 0
    img = contact_sheet([photo(64, 64)], 0, NOTHING, per_row=1, side=64)
    assert img.shape == (64, 2 * 3 * 64 + 6, 3)


def test_broad_translucent_stains_degrade_but_are_not_marked():
    """A stain over most of the frame is blended (the picture changes) but left out of the mask."""
    from oldfilm.restore import degrade as G

    img = np.full((64, 64, 3), 150, np.uint8)
    r = replace(NOTHING, overlays_dir=str(OVERLAYS), p_overlay=1.0, overlay_opacity=(1.0, 1.0), p_dark_damage=1.0,
                overlay_scale=(1.6, 1.6), overlay_count=(1, 1))
    full = np.ones((40, 40), np.float32)          # covers the whole frame: a broad stain
    bank = G.overlay_bank(str(OVERLAYS))
    orig = bank.pick_kind
    bank.pick_kind = lambda rng: ("stain", full)
    try:
        out, mask = degrade(img, np.random.default_rng(0), r)
    finally:
        bank.pick_kind = orig
    assert np.abs(out.astype(int) - 150).mean() > 10     # visibly darkened
    assert not mask.any()


def test_thin_content_is_picture_not_damage():
    """Drawn sticks, rails, wires and rims change the picture and the target alike, never the mask."""
    img = photo(96, 96)
    r = replace(NOTHING, p_content=1.0, content_count=(3, 3))
    changed = 0
    for seed in range(6):
        tgt, out, mask = degrade_pair(img, np.random.default_rng(seed), r)
        assert np.array_equal(tgt, out)           # nothing else ran: the content is in the target
        assert not mask.any()
        changed += int((np.abs(out.astype(int) - img).max(axis=2) >= 30).mean() > 0.003)
    assert changed >= 5
    # with a Bezier scratch on top, the mask holds the scratch, not the content
    d = replace(NOTHING, p_curves=1.0, p_content=1.0)
    _, out, mask = degrade_pair(img, np.random.default_rng(0), d)
    assert mask.any() and mask.mean() < 0.5 * 255


def test_content_off_draws_nothing(monkeypatch):
    """p_content=0 (every recipe but the detector's) never reaches the content painter nor draws
    from the generator for it, so older recipes keep their seeded bytes."""
    from oldfilm.restore import degrade as G

    def boom(*a, **k):
        raise AssertionError("content drawn at p_content=0")

    monkeypatch.setattr(G, "_content", boom)
    img = photo()
    for seed in range(3):
        degrade(img, np.random.default_rng(seed), DegradeRecipe(overlays_dir=str(OVERLAYS)))
    # the only draw p_content adds is its coin: at p=1 the painter runs, at p=0 no coin is thrown
    calls = []
    monkeypatch.setattr(G, "_content", lambda x, rng, r: calls.append(1) or x)
    a = degrade_pair(img, np.random.default_rng(7), NOTHING)
    rng = np.random.default_rng(7)
    b = degrade_pair(img, rng, replace(NOTHING, p_content=1.0))
    assert calls == [1] and np.array_equal(a[1], b[1])
    ref = np.random.default_rng(7)
    ref.random()                      # the coin, then what every recipe draws
    degrade_pair(img, ref, NOTHING)
    assert rng.random() == ref.random()


def _reference_blend(x, alpha, dark, rng):
    """The blend as first written: both branches on the whole frame, then a choice."""
    a = alpha[..., None]
    light_col = np.float32(rng.uniform(0.85, 1.0))
    dark_col = np.float32(rng.uniform(0.0, 0.15))
    mode = int(rng.integers(3))
    light = [1 - (1 - x) * (1 - a * light_col), np.maximum(x, a * light_col + (1 - a) * x),
             np.minimum(x + a * light_col, 1)][mode]
    darkened = x * (1 - a) + a * dark_col * x.mean()
    d = np.asarray(dark)[..., None] if np.ndim(dark) else dark
    return np.where(d, darkened, light).astype(np.float32)


def test_blend_and_visible_match_their_whole_frame_definitions():
    from oldfilm.restore import degrade as deg

    rng = np.random.default_rng(3)
    for i in range(60):
        h, w = (int(v) for v in rng.integers(1, 90, 2))
        x = rng.random((h, w, 3), dtype=np.float32)
        alpha = (rng.random((h, w)) * (rng.random() < 0.8) * rng.random()).astype(np.float32)
        dark = [True, False, rng.random((h, w)) < 0.5][i % 3]
        seed = int(rng.integers(1 << 30))
        got = deg._blend(x, alpha, dark, np.random.default_rng(seed))
        want = _reference_blend(x, alpha, dark, np.random.default_rng(seed))
        assert got.dtype == np.float32 and np.array_equal(got, want)
        marked = deg._visible(alpha, x, got)
        ref = (alpha >= deg.MASK_THRESHOLD) & (np.abs(got - x).max(axis=-1) >= deg.VISIBLE_DELTA)
        assert marked.dtype == bool and np.array_equal(marked, ref)


def test_degrade_pair_reports_each_marking_layer_and_their_union_is_the_mask():
    r = replace(recipe_by_name("photo", OVERLAYS), p_overlay=1.0, p_curves=1.0, p_lines=1.0, p_blur=0.0)
    bank_kinds = set(OverlayBank(OVERLAYS).kinds)
    seen: set[str] = set()
    for seed in range(12):
        layers: list = []
        target, out, mask = degrade_pair(photo(96, 112, seed), np.random.default_rng(seed), r, layers=layers)
        plain = degrade_pair(photo(96, 112, seed), np.random.default_rng(seed), r)
        assert all(np.array_equal(a, b) for a, b in zip((target, out, mask), plain))   # same draws
        union = np.zeros(mask.shape, bool)
        for kind, marked in layers:
            assert kind in bank_kinds | {"curves", "lines"} and marked.dtype == bool
            union |= marked
            seen.add(kind)
        assert np.array_equal(union, mask > 0)
    assert {"curves", "lines"} <= seen and seen & bank_kinds


def test_exposure_flicker_only_on_clip_frames_and_never_in_the_target():
    rng = np.random.default_rng(7)
    frame = np.full((24, 32, 3), 120, np.uint8)
    steady = replace(NOTHING, line_count=(0, 0))
    flick = replace(steady, flicker_gain_sd=0.1, flicker_offset_sd=0.02)
    track = FilmScratchTrack(24, 32, np.random.default_rng(1), flick)
    means = []
    for i in range(12):
        target, out, _ = degrade_pair(frame, np.random.default_rng([0, i]), flick, track)
        assert np.array_equal(target, frame)
        means.append(out.mean())
    assert np.std(means) > 5                                           # about 120 x 0.1 + 5 levels
    photo, _ = degrade(frame, np.random.default_rng(0), flick)         # no track: a photo, no flicker
    assert np.array_equal(photo, frame)


def test_a_consistent_clip_shares_its_look_and_keeps_fresh_noise():
    from oldfilm.restore.degrade import ClipDraws

    frame = photo(48, 64)
    r = replace(DegradeRecipe(), p_gray=0.3, p_sepia=0.3, p_fade=0.5, p_contrast=0.5, p_vignette=0.5,
                p_noise=1.0, noise_sigma=(0.05, 0.05), p_lines=0, p_overlay=0, p_curves=0)
    pairs = [degrade_pair(frame, np.random.default_rng([0, i]), r, clip_seed=[7, 1]) for i in range(6)]
    targets, outs = [p[0] for p in pairs], [p[1].astype(float) for p in pairs]
    assert all(np.array_equal(t, targets[0]) for t in targets)              # one toning for the clip
    means = [o.mean() for o in outs]
    assert max(means) - min(means) < 1.0                                      # one fading and contrast
    assert all(np.abs(o - outs[0]).mean() > 1.0 for o in outs[1:])            # but fresh noise each frame
    loose = [degrade_pair(frame, np.random.default_rng([0, i]), r)[1].astype(float).mean() for i in range(6)]
    assert max(loose) - min(loose) > 3.0                                      # each frame its own look
    draws = ClipDraws(3, np.random.default_rng(0))
    a = draws.uniform(0, 1)
    assert ClipDraws(3, np.random.default_rng(1)).uniform(0, 1) == a          # settings: the clip's
    assert not np.array_equal(ClipDraws(3, np.random.default_rng(0)).normal(0, 1, (8, 8)),
                              ClipDraws(3, np.random.default_rng(1)).normal(0, 1, (8, 8)))   # fields: the frame's

"""--strength: how much of the restoration is kept (oldfilm/restore/strength.py and the stage)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oldfilm.cli import main
from oldfilm.errors import OldfilmError
from oldfilm.gui.settings import options_from_form, split_options
from oldfilm.options import RestoreOptions, RunOptions
from oldfilm.restore import stage as stage_module
from oldfilm.restore.stage import build_restore_stage
from oldfilm.restore.strength import apply_strength, repair_weight, tone_difference

from test_restore_stage import builtin_light  # noqa: F401  (fixture)


def _noise(h: int, w: int, seed: int, gray: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (h, w, 1 if gray else 3), dtype=np.uint8)
    return np.repeat(a, 3, axis=2) if gray else a


def test_ends_of_the_range_are_the_two_frames():
    o, r = _noise(40, 50, 0), _noise(40, 50, 1)
    assert apply_strength(o, r, 1.0) is r
    zero = apply_strength(o, r, 0.0)
    assert np.array_equal(zero, o) and zero is not o
    assert np.array_equal(apply_strength(o, r, 0.0, np.zeros((40, 50), bool)), o)


@pytest.mark.parametrize("h", [40, 1100])      # 1100 rows: blended in bands
def test_between_the_ends_it_is_linear(h):
    o, r = _noise(h, 30, 2), _noise(h, 30, 3)
    for s in (0.25, 0.5, 0.8):
        want = np.clip(o.astype(np.float64) + s * (r.astype(np.float64) - o) + 0.5, 0, 255).astype(np.uint8)
        assert np.abs(apply_strength(o, r, s).astype(int) - want).max() <= 1


def test_damage_is_repaired_at_any_strength_in_the_blended_tone():
    """A bright scratch on a flat print; the restorer removed it and lifted the whole print by 50
    levels. At 0 the repair takes the original's tone (no lighter stripe where the scratch was)
    and every pixel away from the mark is the original's; at 0.5 the repair sits in the blend."""
    o = np.full((64, 64, 3), 100, np.uint8)
    o[:, 30:32] = 255
    r = np.full((64, 64, 3), 150, np.uint8)
    damage = np.zeros((64, 64), bool)
    damage[:, 30:32] = True
    zero = apply_strength(o, r, 0.0, damage)
    assert np.abs(zero.astype(int) - 100).max() <= 1
    far = repair_weight(damage) == 0
    assert np.array_equal(zero[far], o[far])
    half = apply_strength(o, r, 0.5, damage)
    assert np.abs(half.astype(int) - 125).max() <= 1
    # without the tone shift the repair would be 150, a stripe 50 levels lighter than its surround


def test_repair_weight_covers_the_marks_and_fades_out():
    damage = np.zeros((32, 32), bool)
    damage[16, 16] = True
    w = repair_weight(damage)
    assert w[15:18, 15:18].min() == 1.0        # the mark and one pixel around it
    assert 0 < w[16, 19] < 1 and w[16, 28] == 0
    assert w.dtype == np.float32 and 0 <= w.min() and w.max() <= 1


def test_tone_difference_ignores_the_damage_and_spans_large_stains():
    o = np.full((64, 64, 3), 90, np.uint8)
    r = np.full((64, 64, 3), 120, np.uint8)
    damage = np.zeros((64, 64), bool)
    damage[:, :40] = True                        # a stain over most of the frame
    o[damage] = 250                              # the stain's own pixels must not count
    t = tone_difference(o, r, damage)
    assert t.shape == (64, 64, 3) and np.abs(t + 30).max() < 0.5


def test_gray_stays_gray():
    o, r = _noise(33, 47, 4, gray=True), _noise(33, 47, 5, gray=True)
    damage = _noise(33, 47, 6)[..., 0] > 230
    out = apply_strength(o, r, 0.3, damage)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])


def test_bad_arguments():
    o = _noise(8, 8, 0)
    with pytest.raises(ValueError, match="strength"):
        apply_strength(o, o, 1.5)
    with pytest.raises(ValueError, match="one size"):
        apply_strength(o, _noise(8, 9, 0), 0.5)


@pytest.mark.parametrize("kwargs, message", [
    (dict(strength=1.2), "expected 0..1"),
    (dict(strength=-0.1), "expected 0..1"),
    (dict(strength=0.5, enabled=False), "drop --no-restore"),
    (dict(strength=0.0, scratches="off"), "nothing would change"),
])
def test_options_refuse_what_cannot_work(kwargs, message):
    with pytest.raises(OldfilmError, match=message):
        RestoreOptions(**kwargs)


def test_stage_blends_and_repairs_what_it_marked(builtin_light, monkeypatch):
    """The fixture's detector marks everything; marks are replaced here by a chosen mask."""
    frame = _noise(48, 64, 7)
    mask = np.zeros((48, 64), bool)
    mask[10:12, :] = True
    monkeypatch.setattr(stage_module, "detect_scratches", lambda det, rgb, device="cpu": mask.copy())
    full = build_restore_stage(RestoreOptions(scratches="on"), RunOptions(device="cpu"))
    half = build_restore_stage(RestoreOptions(scratches="on", strength=0.5), RunOptions(device="cpu"))
    restored = full([frame])[0]
    assert np.array_equal(half([frame])[0], apply_strength(frame, restored, 0.5, mask))
    zero = build_restore_stage(RestoreOptions(scratches="on", strength=0.0), RunOptions(device="cpu"))
    out = zero([frame])[0]
    far = repair_weight(mask) == 0
    assert np.array_equal(out[far], frame[far]) and not np.array_equal(out[mask], frame[mask])
    assert zero.report()["scratch_frames"] == 1


def test_strength_zero_skips_the_restorer_where_nothing_is_marked(builtin_light, monkeypatch):
    monkeypatch.setattr(stage_module, "detect_scratches",
                        lambda det, rgb, device="cpu": np.zeros(rgb.shape[:2], bool))
    calls = []
    real = stage_module.restore_image
    monkeypatch.setattr(stage_module, "restore_image", lambda *a, **k: calls.append(1) or real(*a, **k))
    stage = build_restore_stage(RestoreOptions(scratches="auto", strength=0.0), RunOptions(device="cpu"))
    frame = _noise(40, 40, 8)
    out = stage([frame])[0]
    assert np.array_equal(out, frame) and out is not frame and not calls
    assert stage.report()["scratch_frames"] == 0


def test_gui_setting_and_preview_split():
    opts, _ = options_from_form({"mode": "restore", "strength": 0.4, "colorize": True})
    assert opts.restore.strength == 0.4
    upstream, colour = split_options(opts)       # the colour part has no restorer: strength must not refuse it
    assert upstream.restore.strength == 0.4 and not colour.restore.enabled and colour.restore.strength == 1.0
    only, _ = options_from_form({"mode": "colorize", "strength": 0.4})
    assert not only.restore.enabled and only.restore.strength == 1.0
    with pytest.raises(OldfilmError, match="expected 0..1"):
        options_from_form({"mode": "restore", "strength": 3})


def test_cli_bad_strength_is_one_line(tmp_path, capsys):
    photo = tmp_path / "p.png"
    photo.write_bytes(b"")
    assert main(["restore", str(photo), "--strength", "2"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--strength 2" in err[0]


def test_cli_strength_zero_keeps_every_unmarked_pixel(builtin_light, tmp_path, monkeypatch, capsys):
    """The whole job with the fixture's models: only the marked rows change."""
    import cv2

    frame = _noise(48, 64, 9)
    src = tmp_path / "print.png"
    cv2.imwrite(str(src), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    mask = np.zeros((48, 64), bool)
    mask[20:22, :] = True
    monkeypatch.setattr(stage_module, "detect_scratches", lambda det, rgb, device="cpu": mask.copy())
    assert main(["restore", str(src), "--strength", "0", "--no-faces", "--json", "-q", "--device", "cpu"]) == 0
    rec = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    out = cv2.cvtColor(cv2.imread(rec["output"]), cv2.COLOR_BGR2RGB)
    far = repair_weight(mask) == 0
    assert np.array_equal(out[far], frame[far]) and not np.array_equal(out[mask], frame[mask])


# ---------------------------------------------------------------- --face-strength

def test_face_strength_scales_the_faces_change(monkeypatch):
    import torch
    from PIL import Image

    from oldfilm.options import FaceOptions
    from oldfilm.restore.faces.spade import build_face_generator
    from oldfilm.restore.faces.stage import FaceStage

    torch.manual_seed(0)
    gen = build_face_generator({"ngf": 4, "spade_hidden": 8}).eval()
    img = np.asarray(Image.open(Path(__file__).parent / "data" / "faces" / "grace_hopper.jpg").convert("RGB"))
    full = FaceStage(gen, 64, FaceOptions())([img])[0]
    part = FaceStage(gen, 64, FaceOptions(strength=0.3))([img])[0]
    assert np.array_equal(part, apply_strength(img, full, 0.3))
    changed = np.any(full != img, axis=2)
    assert changed.mean() > 0.02
    assert np.array_equal(part[~changed], img[~changed])         # away from the face: untouched
    d_full = np.abs(full.astype(int) - img)[changed].mean()
    d_part = np.abs(part.astype(int) - img)[changed].mean()
    assert 0.2 * d_full < d_part < 0.4 * d_full


@pytest.mark.parametrize("kwargs, message", [
    (dict(strength=0.0), "use --no-faces"),
    (dict(strength=1.5), "at most 1"),
    (dict(strength=0.5, enabled=False), "drop --no-faces"),
])
def test_face_options_refuse_what_cannot_work(kwargs, message):
    from oldfilm.options import FaceOptions

    with pytest.raises(OldfilmError, match=message):
        FaceOptions(**kwargs)


def test_face_strength_from_the_page_and_the_flag(tmp_path, capsys):
    opts, _ = options_from_form({"mode": "restore", "face_strength": 0.6, "colorize": True})
    assert opts.faces.strength == 0.6
    off, _ = options_from_form({"mode": "restore", "faces": False, "face_strength": 0.6})
    assert off.faces.enabled is False and off.faces.strength == 1.0
    _, colour = split_options(opts)
    assert colour.faces.enabled is False and colour.faces.strength == 1.0
    photo = tmp_path / "p.png"
    photo.write_bytes(b"")
    assert main(["restore", str(photo), "--face-strength", "0"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--face-strength 0" in err[0]


def test_banded_repairs_match_the_whole_frame_formula():
    """Large scans are blended 256 rows at a time, the repair weight and tone made per band: the
    result is the whole-frame formula's, also for marks across a band's edge."""
    import cv2

    from oldfilm.restore.strength import _tone_map, _upsample_rows

    h, w = 1100, 90
    o, r = _noise(h, w, 11), _noise(h, w, 12)
    damage = np.zeros((h, w), bool)
    damage[250:262, 10:14] = True       # across the first band edge (256)
    damage[1020:1030, 40:80] = True     # across the fourth (1024)
    damage[:, 60] = True                # a scratch through all of it
    s = 0.3
    wgt = repair_weight(damage)[..., None]
    tone = tone_difference(o, r, damage)
    blend = o.astype(np.float32) + s * (r.astype(np.float32) - o)
    want = blend + wgt * (r + (1 - s) * tone - blend)
    want = np.clip(want + 0.5, 0, 255).astype(np.uint8)
    assert np.abs(apply_strength(o, r, s, damage).astype(int) - want).max() <= 1
    small = _tone_map(o, r, damage)
    full = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    assert np.abs(_upsample_rows(small, h, w, 0, h) - full).max() < 0.05 * max(1.0, float(np.abs(full).max()))

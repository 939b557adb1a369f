"""`oldfilm eval` and its library functions, with stand-in models and degradations."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from oldfilm import cli, evaluate, metrics
from oldfilm.stage import StageBase

skdata = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    """Three small colour photos bundled with scikit-image, 48x64 uint8 RGB."""
    return [np.ascontiguousarray(cv2.resize(f(), (64, 48), interpolation=cv2.INTER_AREA))
            for f in (skdata.chelsea, skdata.astronaut, skdata.coffee)]


@pytest.fixture
def photo_dir(tmp_path, photos) -> Path:
    d = tmp_path / "refs"
    (d / "sub").mkdir(parents=True)
    for i, p in enumerate(photos):
        Image.fromarray(p).save(d / ("sub" if i == 2 else ".") / f"p{i}.png")
    (d / "notes.txt").write_text("not a photo")
    return d


class Identity(StageBase):
    name = "identity"

    def __call__(self, frames):
        return [f.copy() for f in frames]


def scratch_degrader(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for restore.degrade (same contract): one bright 1-px vertical scratch at a random
    column plus mild noise. Returns (degraded, mask)."""
    out = np.clip(rgb + rng.normal(0, 4, rgb.shape), 0, 255).astype(np.uint8)
    mask = np.zeros(rgb.shape[:2], np.uint8)
    x = int(rng.integers(8, rgb.shape[1] - 8))
    out[:, x] = 255
    mask[:, x] = 255
    return out, mask


def median_restorer(rgb: np.ndarray) -> np.ndarray:
    return cv2.medianBlur(rgb, 3)


class Median(StageBase):
    name = "median"

    def __call__(self, frames):
        return [median_restorer(f) for f in frames]


# ---------------------------------------------------------------- colorize
def test_colorize_report_matches_the_metrics(photos):
    tint = lambda f: evaluate.sepia_tint(f, (0.0, 30.0))  # noqa: E731 - a crude "colorizer"
    r = evaluate.evaluate_colorize(photos, tint, name="tint")
    assert set(r["methods"]) == {"tint", "grayscale", "sepia"} and r["images"] == 3
    want = np.mean([metrics.mean_ciede2000(tint(evaluate.grayscale(p)), p) for p in photos])
    assert r["methods"]["tint"]["deltaE00"] == pytest.approx(want)
    assert r["methods"]["grayscale"]["colourfulness"] == pytest.approx(0.0, abs=0.05)
    assert r["methods"]["sepia"]["colourfulness"] > 1.0
    assert r["reference"]["colourfulness"] == pytest.approx(np.mean([metrics.colourfulness(p) for p in photos]))
    assert r["methods"]["grayscale"]["deltaE00_vs_grayscale"] == pytest.approx(0.0)
    assert len(r["per_image"]) == 9


def test_colorize_accepts_a_stage_and_a_folder(photo_dir):
    r = evaluate.evaluate_colorize(photo_dir, Identity(), baselines=False)
    assert r["images"] == 3 and set(r["methods"]) == {"ours"}          # sub-folders walked, .txt skipped
    g = evaluate.evaluate_colorize(photo_dir, Identity(), limit=2)
    assert g["images"] == 2
    # The identity "colorizer" returns its grayscale input: the same scores as that baseline.
    assert g["methods"]["ours"]["deltaE00"] == pytest.approx(g["methods"]["grayscale"]["deltaE00"])


def test_sepia_tint_keeps_lightness(photos):
    gray = evaluate.grayscale(photos[0])
    tinted = evaluate.sepia_tint(gray)
    dl = np.abs(metrics.rgb_to_lab(tinted)[..., 0] - metrics.rgb_to_lab(gray)[..., 0])
    assert np.median(dl) < 1.5
    ab = metrics.rgb_to_lab(tinted)[16:32, 16:32, 1:].reshape(-1, 2).mean(axis=0)
    assert ab[1] > 10                                                  # warm: b* well above 0


# ---------------------------------------------------------------- restore
def test_restore_report_gain_baselines_and_mask(photos):
    r = evaluate.evaluate_restore(photos, median_restorer, degrade_fn=scratch_degrader, seed=3, name="median")
    m = r["methods"]
    assert set(m) == {"median", "degraded", "classical"}
    assert m["degraded"]["psnr_gain"] == 0.0
    assert m["median"]["psnr_gain"] > 1.0                                 # removes the scratch line
    assert r["scratch_mask"]["classical"]["f1"] > 0.3                     # a bright 1-px line is easy
    assert r["seed"] == 3 and r["recipe"] == "custom"


def test_restore_is_seeded(photos):
    a = evaluate.evaluate_restore(photos, Identity(), degrade_fn=scratch_degrader, seed=1, baselines=False)
    b = evaluate.evaluate_restore(photos, Identity(), degrade_fn=scratch_degrader, seed=1, baselines=False)
    c = evaluate.evaluate_restore(photos, Identity(), degrade_fn=scratch_degrader, seed=2, baselines=False)
    assert a["methods"]["ours"]["psnr"] == b["methods"]["ours"]["psnr"] != c["methods"]["ours"]["psnr"]


def test_restore_with_the_project_degradation_model(photos):
    r = evaluate.evaluate_restore(photos[:2], Identity(), recipe="bopbtl", seed=0, baselines=False,
                                  detect_mask=lambda f: np.zeros(f.shape[:2], np.uint8))
    again = evaluate.evaluate_restore(photos[:2], Identity(), recipe="bopbtl", seed=0, baselines=False)
    assert r["methods"]["ours"]["psnr"] == again["methods"]["ours"]["psnr"] < 60
    assert r["recipe"] == "bopbtl" and "ours" in r["scratch_mask"]


def test_classical_baseline_removes_a_scratch_on_a_smooth_image():
    y, x = np.mgrid[0:64, 0:96]
    clean = np.stack([x * 2, y * 3, 120 + 0 * x], axis=2).astype(np.uint8)       # smooth gradient
    damaged, mask = scratch_degrader(clean, np.random.default_rng(0))
    restored, found = evaluate.classical_restore_with_mask(damaged)
    assert metrics.psnr(restored, clean) > metrics.psnr(damaged, clean) + 3
    assert evaluate.mask_scores(found, mask)["recall"] > 0.9


def test_clip_degradation_keeps_film_scratches_in_place():
    degrade = evaluate.default_degrader("film", clip_size=(48, 64), seed=0)
    flat = np.full((48, 64, 3), 128, np.uint8)
    columns = []
    for i in range(4):
        _, _, mask = degrade(flat, np.random.default_rng([0, i]))
        columns.append(set(np.flatnonzero((mask > 0).mean(axis=0) > 0.5)))
    assert columns[0] and set.intersection(*columns)                  # the same scratch in every frame


def test_restore_clip_reports_temporal_metrics():
    big = cv2.resize(skdata.astronaut(), (128, 96), interpolation=cv2.INTER_AREA)
    r = evaluate.evaluate_restore([big], Identity(), recipe="film", pan=5, seed=0, max_side=None)
    assert r["clip"] and r["images"] == 5 and "temporal" in r
    assert set(r["temporal"]) == {"ours", "degraded", "classical"}


def test_clip_flicker_and_the_deflicker_baseline():
    big = cv2.resize(skdata.astronaut(), (128, 96), interpolation=cv2.INTER_AREA)
    common = dict(recipe="bopbtl", pan=24, seed=0, max_side=None)
    plain = evaluate.evaluate_restore([big], None, **common)
    shaky = evaluate.evaluate_restore([big], None, flicker=0.1, **common)
    steady = evaluate.evaluate_restore([big], Identity(), flicker=0.1, deflicker=True, **common)
    assert shaky["temporal"]["degraded"]["flicker_L"] > 3 * plain["temporal"]["degraded"]["flicker_L"]
    t, m = steady["temporal"], steady["methods"]
    assert set(t) == {"ours", "degraded", "classical", "deflickered"} and steady["deflicker"] is True
    assert t["deflickered"]["flicker_L"] < 0.5 * t["degraded"]["flicker_L"]
    assert m["ours"]["psnr"] == pytest.approx(m["deflickered"]["psnr"])   # the identity after the deflicker
    assert m["deflickered"]["psnr"] > m["degraded"]["psnr"]
    with pytest.raises(evaluate.OldfilmError, match="need a clip"):
        evaluate.evaluate_restore([big], None, deflicker=True, recipe="bopbtl", max_side=None)


def test_mask_scores_hand_computed():
    true = np.zeros((4, 4), np.uint8)
    true[0, :] = 255
    pred = np.zeros((4, 4), np.uint8)
    pred[0, :2] = 1
    pred[1, 0] = 1
    s = evaluate.mask_scores(pred, true)                                # tp 2, fp 1, fn 2
    assert s == pytest.approx({"precision": 2 / 3, "recall": 0.5, "f1": 4 / 7, "iou": 2 / 5})
    assert evaluate.mask_scores(pred * 0, true * 0)["f1"] == 1.0


# ---------------------------------------------------------------- clips
class Flicker(StageBase):
    """A colorizer stand-in that tints every other frame differently: visible flicker."""

    name = "flicker"

    def __init__(self):
        super().__init__()
        self.n = 0

    def __call__(self, frames):
        out = []
        for f in frames:
            out.append(evaluate.sepia_tint(f, (0.0, 30.0) if self.n % 2 else (0.0, 5.0)))
            self.n += 1
        return out


def test_pan_clip_reports_temporal_metrics(photos):
    big = cv2.resize(skdata.astronaut(), (160, 120), interpolation=cv2.INTER_AREA)
    frames = evaluate.pan_clip(big, n_frames=6, step=4)
    assert len(frames) == 6 and np.array_equal(frames[1][:, :-4], frames[0][:, 4:])
    steady = evaluate.evaluate_colorize([big], Identity(), pan=6, baselines=True)
    assert steady["clip"] and steady["images"] == 6
    t = steady["temporal"]
    assert set(t) == {"ours", "grayscale", "sepia"}
    assert t["ours"]["warp_error"] < 0.01
    flick = evaluate.evaluate_colorize([big], Flicker(), pan=6, baselines=False)["temporal"]["ours"]
    assert flick["flicker_ab"] > 5 * max(t["sepia"]["flicker_ab"], 0.1)
    assert flick["warp_error"] > 2 * t["ours"]["warp_error"]
    assert flick["cdc"] > t["ours"]["cdc"]


def test_clip_file_is_read(tmp_path):
    import av

    path = tmp_path / "clip.mp4"
    big = cv2.resize(skdata.astronaut(), (120, 96), interpolation=cv2.INTER_AREA)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        for f in evaluate.pan_clip(big, n_frames=7, step=3, crop=0.5):
            c.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:48, :64]), format="rgb24")))
        c.mux(v.encode(None))
    r = evaluate.evaluate_colorize(path, Identity(), frames=5, baselines=False)
    assert r["clip"] and r["images"] == 5 and "temporal" in r


# ---------------------------------------------------------------- output and CLI
def test_outputs_are_strict_json_and_a_sheet(photos, tmp_path):
    r = evaluate.evaluate_restore(photos, Identity(), degrade_fn=scratch_degrader)
    table = evaluate.format_table(r)
    assert "classical" in table and "damage mask" in table
    js, png = evaluate.write_outputs(r, tmp_path / "out")
    data = json.loads(js.read_text(), parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["methods"]["degraded"]["psnr_gain"] == 0.0 and "_outputs" not in data
    sheet = np.asarray(Image.open(png))
    assert sheet.shape[1] > 4 * 192                                    # input, ours, classical, reference


@pytest.fixture
def stand_in(monkeypatch) -> dict:
    """The CLI's pipeline replaced by a median filter; returns the build arguments it saw."""
    seen: dict = {}

    def fake(task, **kw):
        seen.update(task=task, **kw)
        return Median()

    monkeypatch.setattr(evaluate, "build_pipeline_stage", fake)
    monkeypatch.setattr(evaluate, "default_degrader", lambda recipe, overlays, **kw: scratch_degrader)
    return seen


def test_cli_eval_with_a_stand_in_pipeline(photo_dir, tmp_path, stand_in, capsys):
    seen = stand_in
    rc = cli.main(["eval", str(photo_dir), "--task", "restore", "--seed", "4", "--recipe", "film",
                   "-o", str(tmp_path / "ev"), "--size", "48"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "PSNR" in out and "classical" in out
    assert seen["task"] == "restore" and seen["is_video"] is False
    data = json.loads((tmp_path / "ev" / "eval_restore.json").read_text())
    assert data["seed"] == 4 and data["recipe"] == "film" and data["images"] == 3
    assert (tmp_path / "ev" / "eval_restore_sheet.png").is_file()


def test_cli_eval_no_restore_scores_the_face_stage_alone(photo_dir, tmp_path, stand_in):
    seen = stand_in
    rc = cli.main(["eval", str(photo_dir), "--no-restore", "--faces", "-o", str(tmp_path / "ev"), "--size", "48",
                   "--no-baselines"])
    assert rc == 0 and seen["restore"] is False and seen["faces"] is True
    data = json.loads((tmp_path / "ev" / "eval_restore.json").read_text())
    assert "faces only" in data["methods"]


def test_cli_eval_without_weights_is_one_line(photo_dir, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "no_checkpoints"
    empty.mkdir()
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(empty))
    rc = cli.main(["eval", str(photo_dir), "--task", "colorize", "-o", str(tmp_path / "ev")])
    assert rc != 0
    err = capsys.readouterr()
    lines = [l for l in (err.out + err.err).splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in lines[0]
    assert not (tmp_path / "ev").exists()


def test_baselines_only_and_holdout(photo_dir, tmp_path, capsys):
    r = evaluate.evaluate_colorize(photo_dir, None, holdout=100.0)
    assert set(r["methods"]) == {"grayscale", "sepia"} and r["model"] is None and r["images"] == 3
    with pytest.raises(evaluate.OldfilmError, match="held-out"):
        evaluate.load_references([photo_dir], holdout=0.0)
    assert cli.main(["eval", str(photo_dir), "--model", "none", "-o", str(tmp_path / "b"), "--size", "48"]) == 0
    assert "baselines only" in capsys.readouterr().out


def test_holdout_follows_the_tasks_trainers(tmp_path):
    """`--holdout` scores each task on the photos its own trainers never saw: the restoration
    trainers' split (restore.training.data.is_held_out) is not the colorizer's."""
    from oldfilm.colorize.data import file_digest, is_validation
    from oldfilm.restore.training.data import is_held_out

    rng = np.random.default_rng(3)
    files = []
    for i in range(40):
        f = tmp_path / f"p{i:02d}.png"
        cv2.imwrite(str(f), rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        files.append(f)
    restore_split = {f.name for f in files if is_held_out(f, 0.3)}
    colorize_split = {f.name for f in files if is_validation(file_digest(f), 30)}
    assert restore_split and colorize_split and restore_split != colorize_split
    names = lambda task: {n for n, _ in evaluate.load_references([tmp_path], holdout=30, holdout_task=task)}
    assert names("restore") == restore_split and names("colorize") == colorize_split
    r = evaluate.evaluate_restore(tmp_path, None, holdout=30, max_side=8)
    assert r["images"] == len(restore_split)


class Counter(StageBase):
    """Stateful stand-in: brightens each frame by how many frames it has seen since reset()."""

    name = "counter"

    def __init__(self):
        super().__init__()
        self.n = 0

    def reset(self):
        self.n = 0

    def __call__(self, frames):
        out = []
        for f in frames:
            out.append(np.clip(f.astype(int) + 10 * self.n, 0, 255).astype(np.uint8))
            self.n += 1
        return out


def test_stage_state_never_crosses_photos_but_runs_through_a_clip(photos):
    r = evaluate.evaluate_colorize(photos, Counter())
    assert r["methods"]["ours"]["deltaE00"] == pytest.approx(r["methods"]["grayscale"]["deltaE00"])
    clip = evaluate.evaluate_colorize([photos[0]], Counter(), pan=5, max_side=None)
    assert clip["temporal"]["ours"]["flicker_L"] > 3 * clip["temporal"]["grayscale"]["flicker_L"]


def test_face_region_scores(photos):
    box = (8, 8, 40, 40)
    r = evaluate.evaluate_restore(photos, median_restorer, degrade_fn=scratch_degrader, face_boxes=lambda rgb: [box])
    x0, y0, x1, y1 = box
    # The degraded row's face PSNR is the PSNR of the crops of the degraded input.
    want = np.mean([metrics.psnr(scratch_degrader(p, np.random.default_rng([0, i]))[0][y0:y1, x0:x1], p[y0:y1, x0:x1])
                    for i, p in enumerate(photos)])
    assert r["methods"]["degraded"]["face_psnr"] == pytest.approx(want)
    assert r["reference"]["faces"] == 3 and "face_psnr_gain" in r["methods"]["ours"]
    assert "facePSNR" in evaluate.format_table(r)
    assert "facePSNR" not in evaluate.format_table(evaluate.evaluate_restore(photos, median_restorer,
                                                                             degrade_fn=scratch_degrader))


def test_hog_face_detector_on_a_face_and_on_nothing():
    assert evaluate.detect_faces_hog(np.full((64, 64, 3), 128, np.uint8)) == []
    face = np.ascontiguousarray(skdata.astronaut()[::2, ::2])                 # 256x256, face near (110, 62)
    boxes = evaluate.detect_faces_hog(face)
    assert any(90 < (x0 + x1) / 2 < 130 and 40 < (y0 + y1) / 2 < 85 and x1 - x0 > 40 for x0, y0, x1, y1 in boxes)
    assert all(0 <= x0 < x1 <= 256 and 0 <= y0 < y1 <= 256 for x0, y0, x1, y1 in boxes)


def test_colorize_accepts_a_network(photos):
    torch = pytest.importorskip("torch")
    from oldfilm.colorize import colorize_array

    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 3, 1).eval()        # any module with the generator's call signature
    r = evaluate.evaluate_colorize(photos[:1], net, render_factor=4, baselines=False)
    want = metrics.mean_ciede2000(colorize_array(evaluate.grayscale(photos[0]), net, 4), photos[0])
    assert r["methods"]["ours"]["deltaE00"] == pytest.approx(want)
    assert r["render_factor"] == 4


def test_colorize_report_names_the_render_factor_that_ran(photos):
    torch = pytest.importorskip("torch")
    from oldfilm.colorize.stage import ColorizeStage

    net = torch.nn.Conv2d(3, 3, 1).eval()
    stage = ColorizeStage(net, 3, torch.device("cpu"))   # a stage carries the factor its options chose
    assert evaluate.evaluate_colorize(photos[:1], stage, baselines=False)["render_factor"] == 3
    assert evaluate.evaluate_colorize(photos[:1], net, baselines=False)["render_factor"] == 35
    assert evaluate.evaluate_colorize(photos[:1], lambda f: f, baselines=False)["render_factor"] is None

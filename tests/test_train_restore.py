"""Short runs of the restoration trainers: train, checkpoint, resume, export (tiny nets, tiny images)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from oldfilm import train_cli
from oldfilm import weights as W
from oldfilm.errors import OldfilmError
from oldfilm.restore.auto_cut import CUT_GRID
from oldfilm.restore.training.data import ImageSet, is_held_out
from oldfilm.restore.training.run_dir import RunDir

OVERLAYS = Path(__file__).parent / "data" / "damage_overlays"


def _picture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 / w, yy * 255 / h, np.full((h, w), rng.integers(0, 255))], 2)
    for _ in range(4):
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(3, 12)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(0, 255, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(12):
        cv2.imwrite(str(d / f"p{i:02d}.png"), _picture(rng, 72, 88))
    return d


def _args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    train_cli.add_arguments(p)
    return p.parse_args(argv)


def _train(kind: str, out: Path, data: Path, extra: list[str]) -> int:
    common = ["--out", str(out), "--data", str(data), "--overlays", str(OVERLAYS), "--config", "tiny",
              "--save-every", "2", "--log-every", "1", "--no-progress", "--val-fraction", "0.5"]
    return train_cli.run(_args([kind, *common, *extra]))


def _check_export(dest: Path, names: list[str]) -> None:
    sums = (dest / "SHA256SUMS").read_text()
    for name in names:
        path = dest / name
        assert W.sha256_file(path) in sums
        meta = W.read_builtin_meta(path)
        assert json.loads(meta["oldfilm.config"])
        net = W.load_builtin(path)                   # the registered architecture rebuilds it strictly
        assert all(p.dtype == torch.float32 for p in net.parameters())


def _card(dest: Path, name: str) -> str:
    text = (dest / name).read_text()
    assert "research" in text and "Quality (held-out)" in text and "sha256" in text
    return text


def test_held_out_split_is_by_file_hash(photos, tmp_path):
    s1 = ImageSet.from_folders([photos], 0.5)
    moved = tmp_path / "renamed"
    moved.mkdir()
    for p in photos.iterdir():
        (moved / ("x" + p.name)).write_bytes(p.read_bytes())
    s2 = ImageSet.from_folders([moved], 0.5)
    assert [p.name for p in s1.val] == [p.name[1:] for p in s2.val]
    assert 0 < len(s1.val) < 12 and s1.n_train + len(s1.val) == 12
    assert all(is_held_out(p, 0.5) for p in s1.val)


def test_scratch_trains_resumes_and_exports(photos, tmp_path):
    run = tmp_path / "scratch"
    assert _train("scratch", run, photos, ["--iters", "3", "--crop", "32", "--batch", "2"]) == 0
    assert RunDir(run).load()["step"] == 3
    with pytest.raises(OldfilmError, match="--resume"):
        _train("scratch", run, photos, ["--iters", "5", "--crop", "32", "--batch", "2"])
    assert _train("scratch", run, photos, ["--iters", "5", "--crop", "32", "--batch", "2", "--resume"]) == 0
    ck = RunDir(run).load()
    assert ck["step"] == 5 and set(ck["optims"]) == {"detector"}
    steps = [r["step"] for r in RunDir(run).read_log()]
    assert steps == [1, 2, 3, 4, 5]                   # resumed at 4, not from scratch
    dest = tmp_path / "ck"
    assert train_cli.run(_args(["scratch", "--export", str(run), "--dest", str(dest), "--eval-images", "3"])) == 0
    _check_export(dest, ["scratch-default.safetensors"])
    assert "F1" in _card(dest, "scratch-default.md")
    card = _card(dest, "scratch-default.md")
    assert "marked on the same 3 crops aged and scanned but undamaged" in card
    assert "with thin picture content drawn in" in card and "unmarked, p=0.6" in card
    assert "at the calibrated threshold" in card and "at BOPBTL's 0.4" in card
    from oldfilm.restore.restorer import detector_threshold

    det = W.load_builtin(dest / "scratch-default.safetensors")
    assert 0.3 <= detector_threshold(det) <= 0.9
    meta = W.read_builtin_meta(dest / "scratch-default.safetensors")
    assert float(meta["oldfilm.threshold"]) == detector_threshold(det)
    assert 0.0 <= float(meta["oldfilm.auto_min_marked"]) <= 1.0 and "`--scratches auto` takes the scratch path" in card


def test_scratch_recipe_takes_thin_content_from_the_command_line():
    from oldfilm.restore.train_scratch import scratch_recipe

    def parsed(argv: list[str]) -> argparse.Namespace:
        args = _args(argv)
        train_cli.resolve_defaults(args)      # what train_cli.run does first
        return args

    assert scratch_recipe(parsed(["scratch", "--out", "x"])).p_content == pytest.approx(0.6)
    assert scratch_recipe(parsed(["scratch", "--out", "x", "--p-content", "0"])).p_content == 0.0


def test_resume_takes_the_runs_own_settings_unless_given_again(photos, tmp_path, capsys):
    """`--out RUN --resume` alone continues the run as it was started (data, lr, batch, crop,
    iterations); an option typed again wins, and one typed with another value is named on resume;
    a fresh run gets the parser's defaults."""
    run = tmp_path / "det"
    assert _train("scratch", run, photos, ["--iters", "2", "--crop", "32", "--batch", "2", "--lr", "1e-3"]) == 0
    def resume(*extra: str) -> dict:
        assert train_cli.run(_args(["scratch", "--out", str(run), "--resume", "--no-progress", *extra])) == 0
        return RunDir(run).meta()["sessions"][-1]["args"]

    last = resume("--iters", "2")                  # nothing left to train: only the settings are checked
    assert (last["lr"], last["batch"], last["crop"], last["data"]) == (1e-3, 2, 32, [str(photos)])
    assert resume("--iters", "3")["lr"] == 1e-3 and RunDir(run).load()["step"] == 3
    assert resume()["iters"] == 3 and RunDir(run).load()["step"] == 3
    capsys.readouterr()
    assert resume("--crop", "32", "--lr", "5e-4")["lr"] == 5e-4
    notice = [line for line in capsys.readouterr().out.splitlines() if "changed from its last session" in line]
    assert len(notice) == 1 and "--lr 0.0005 (was 0.001)" in notice[0] and "crop" not in notice[0]
    fresh = _args(["scratch", "--out", str(tmp_path / "new")])
    train_cli.resolve_defaults(fresh)
    assert fresh.lr == 2e-4 and fresh.batch != 2


def test_restorer_trains_resumes_and_exports(photos, tmp_path):
    run = tmp_path / "restorer"
    opts = ["--vae-iters", "2", "--map-iters", "2", "--joint-iters", "2", "--crop", "32", "--batch", "2"]
    assert _train("restorer", run, photos, ["--vae-iters", "2", "--map-iters", "0", "--crop", "32", "--batch", "2"]) == 0
    with pytest.raises(OldfilmError, match="mapping phase has not started"):
        train_cli.run(_args(["restorer", "--export", str(run), "--dest", str(tmp_path / "no")]))
    assert _train("restorer", run, photos, [*opts, "--resume", "--workers", "2"]) == 0   # batches from workers
    ck = RunDir(run).load()
    assert ck["step"] == 6 and ck["phase"] == "joint" and "joint" in ck["optims"]
    phases = [r["phase"] for r in RunDir(run).read_log()]
    assert phases == ["vae", "vae", "mapping", "mapping", "joint", "joint"]
    dest = tmp_path / "ck"
    assert train_cli.run(_args(["restorer", "--export", str(run), "--dest", str(dest), "--eval-images", "3",
                                "--auto-cut-photos", "2"])) == 0
    names = ["restore-default-vae-a.safetensors", "restore-default-mapping-quality.safetensors",
             "restore-default-vae-b-quality.safetensors", "restore-default-mapping-scratch.safetensors",
             "restore-default-vae-b-scratch.safetensors"]
    _check_export(dest, names)
    card = _card(dest, "restore-default.md")
    assert "PSNR" in card
    # the `auto` cut chosen on training photos is saved with the scratch mapping and shown on the card
    cut = float(W.read_builtin_meta(dest / "restore-default-mapping-scratch.safetensors")["oldfilm.auto_min_marked"])
    assert cut in CUT_GRID and f"more than **{cut:g}**" in card and "on 2 *training* photos" in card


def test_faces_trains_resumes_and_exports(photos, tmp_path):
    run = tmp_path / "faces"
    assert _train("faces", run, photos, ["--iters", "2", "--crop", "32", "--batch", "2"]) == 0
    assert _train("faces", run, photos, ["--iters", "3", "--crop", "32", "--batch", "2", "--resume"]) == 0
    assert RunDir(run).load()["step"] == 3
    with pytest.raises(OldfilmError, match="multiple of 32"):
        _train("faces", tmp_path / "bad", photos, ["--iters", "1", "--crop", "48"])
    dest = tmp_path / "ck"
    assert train_cli.run(_args(["faces", "--export", str(run), "--dest", str(dest), "--eval-images", "2"])) == 0
    _check_export(dest, ["face-default-alone.safetensors"])      # raw degraded faces: the --no-restore model
    assert "face region" in _card(dest, "face-default-alone.md")
    assert not (dest / "face-default.safetensors").exists()


def test_face_inputs_without_restorer_or_scale_are_the_original_recipe():
    from oldfilm.restore.degrade import DegradeRecipe, degrade_pair
    from oldfilm.restore.faces.train import FaceInputs

    face = _picture(np.random.default_rng(3), 256, 256)
    target, net_in, degraded = FaceInputs(DegradeRecipe())(face, np.random.default_rng(7))
    t0, d0, _ = degrade_pair(face, np.random.default_rng(7), DegradeRecipe())
    assert np.array_equal(target, t0) and np.array_equal(net_in, d0) and np.array_equal(degraded, d0)


def test_face_inputs_degrade_at_the_frame_size_and_go_through_the_restorer():
    """The restorer gets the face at its side in the frame; everything comes back at 256, the
    target toned as the degraded face is, the network's input being the restorer's output."""
    from oldfilm.restore.degrade import DegradeRecipe
    from oldfilm.restore.faces.train import FaceInputs

    seen = []
    def restore(rgb):
        seen.append(rgb.shape)
        return np.full_like(rgb, 200)
    face = _picture(np.random.default_rng(3), 256, 256)
    gray = DegradeRecipe(p_gray=1.0, p_overlay=0, p_curves=0, p_lines=0)
    target, net_in, degraded = FaceInputs(gray, (64, 64), restore)(face, np.random.default_rng(1))
    assert seen == [(64, 64, 3)]
    assert target.shape == net_in.shape == degraded.shape == (256, 256, 3)
    assert (net_in == 200).all() and not (degraded == 200).all()
    assert np.array_equal(target[..., 0], target[..., 1]) and np.array_equal(target[..., 1], target[..., 2])
    sides = [FaceInputs(gray, (64, 384)).side(np.random.default_rng(i)) for i in range(200)]
    assert 64 <= min(sides) < 90 and 300 < max(sides) <= 384


def test_faces_train_after_the_restorer_from_a_warm_start(photos, tmp_path):
    """--after-restorer default (the shipped restorer) with --init-from a run: the new run starts
    from that run's weights, and the export scores and names the restorer's output as its input."""
    src = tmp_path / "src"
    assert _train("faces", src, photos, ["--iters", "1", "--crop", "32", "--batch", "2"]) == 0
    run = tmp_path / "after"
    extra = ["--crop", "32", "--batch", "2", "--after-restorer", "default", "--face-scale", "40", "80",
             "--init-from", str(src)]
    assert _train("faces", run, photos, ["--iters", "1", "--lr", "0", *extra]) == 0    # lr 0: weights stay
    from oldfilm.restore.faces.spade import build_face_generator

    params = {n for n, _ in build_face_generator(RunDir(run).meta()["configs"]["face"]).named_parameters()}
    old, new = RunDir(src).load()["models"]["face"], RunDir(run).load()["models"]["face"]
    assert params and all(torch.equal(old[k], new[k]) for k in params)
    assert _train("faces", run, photos, ["--iters", "2", "--resume", *extra]) == 0
    assert RunDir(run).meta()["args"]["after_restorer"] == "default"
    dest = tmp_path / "ck"
    assert train_cli.run(_args(["faces", "--export", str(run), "--dest", str(dest), "--eval-images", "2"])) == 0
    card = _card(dest, "face-default.md")
    assert "`default` global restorer alone" in card and "40-80 px" in card
    with pytest.raises(OldfilmError, match="does not fit"):
        _train("faces", tmp_path / "bad", photos, ["--iters", "0", "--crop", "32", "--init-from", "default"])
    with pytest.raises(OldfilmError, match="face-scale"):
        _train("faces", tmp_path / "bad2", photos, ["--iters", "0", "--crop", "32", "--face-scale", "80", "40"])


def test_export_of_a_missing_run_is_one_line(tmp_path):
    with pytest.raises(OldfilmError, match="no checkpoint"):
        train_cli.run(_args(["scratch", "--export", str(tmp_path / "nothing")]))


def test_flagged_fraction_counts_marks_on_undamaged_pictures():
    from oldfilm.restore.training.quality import flagged_fraction

    flat = [np.full((10, 10, 3), 128, np.uint8), np.full((10, 30, 3), 40, np.uint8)]
    def marks_first_column(rgb):
        m = np.zeros(rgb.shape[:2], np.uint8)
        m[:, 0] = 255
        return m
    s = flagged_fraction(flat, marks_first_column)
    assert s["flagged"] == 20 / 400 and s["flagged_base"] == 0.0 and s["n"] == 2


def test_scratch_warm_start_into_a_deeper_detector(photos, tmp_path):
    """--init-from keeps every level of the shallower run: the deeper net gives the same stem,
    down levels and (shifted) up blocks, and only the new deepest level starts fresh."""
    src = tmp_path / "shallow"
    assert _train("scratch", src, photos, ["--iters", "2", "--crop", "32", "--batch", "2"]) == 0
    old = RunDir(src).load()["models"]["detector"]
    deep = tmp_path / "deep"
    cfg = json.dumps({"in_channels": 1, "out_channels": 1, "depth": 3, "conv_num": 1, "wf": 2})
    args = ["--iters", "0", "--crop", "32", "--batch", "2", "--init-from", str(src)]
    assert train_cli.run(_args(["scratch", "--out", str(deep), "--data", str(photos), "--overlays", str(OVERLAYS),
                                "--config", cfg, "--save-every", "1", "--no-progress", "--val-fraction", "0.5",
                                *args])) == 0
    from oldfilm.restore.detector import build_detector
    from oldfilm.restore.train_scratch import warm_start

    net = build_detector(json.loads(cfg))
    warm_start(net, json.loads(cfg), RunDir(src))
    new = net.state_dict()
    assert torch.equal(new["first.1.weight"], old["first.1.weight"])
    assert torch.equal(new["down_path.1.block.1.weight"], old["down_path.1.block.1.weight"])
    assert torch.equal(new["up_path.1.up.2.weight"], old["up_path.0.up.2.weight"])   # 2 levels up, same shape
    assert torch.equal(new["last.1.weight"], old["last.1.weight"])
    assert "down_path.2.block.1.weight" not in old
    narrower = {"in_channels": 1, "out_channels": 1, "depth": 3, "conv_num": 1, "wf": 1}
    with pytest.raises(OldfilmError, match="does not fit"):
        warm_start(build_detector(narrower), narrower, RunDir(src))


def test_scratch_fine_tunes_an_exported_detector(photos, tmp_path):
    """--init-from a .safetensors detector (what checkpoints/ ships): the new run starts from its
    weights (fp16 in the file, so equal to fp16 precision); a file that is not a detector, or a
    detector of another width, is one clear error."""
    src = tmp_path / "src"
    assert _train("scratch", src, photos, ["--iters", "2", "--crop", "32", "--batch", "2"]) == 0
    dest = tmp_path / "ck"
    assert train_cli.run(_args(["scratch", "--export", str(src), "--dest", str(dest), "--eval-images", "2"])) == 0
    exported = dest / "scratch-default.safetensors"
    from oldfilm.restore.detector import build_detector
    from oldfilm.restore.train_scratch import CONFIGS, warm_start

    net = build_detector(CONFIGS["tiny"])
    warm_start(net, CONFIGS["tiny"], str(exported))
    shipped = W.load_builtin(exported).state_dict()
    assert all(torch.equal(v, shipped[k]) for k, v in net.state_dict().items())
    assert _train("scratch", tmp_path / "tuned", photos,
                  ["--iters", "1", "--crop", "32", "--batch", "2", "--init-from", str(exported)]) == 0
    other = {**CONFIGS["tiny"], "conv_num": 2}
    with pytest.raises(OldfilmError, match="does not fit"):
        warm_start(build_detector(other), other, str(exported))
    with pytest.raises(OldfilmError, match="neither a scratch run folder"):
        warm_start(net, CONFIGS["tiny"], str(photos))
    with pytest.raises(OldfilmError, match="file not found"):
        warm_start(net, CONFIGS["tiny"], str(tmp_path / "missing.safetensors"))


@pytest.mark.parametrize("conv_num", [1, 2])
def test_scratch_warm_start_into_a_wider_detector_computes_the_same(conv_num, tmp_path):
    """--init-from into a larger wf: every old channel keeps its weights and every new one starts
    silent, so the wider net's logits equal the old net's in eval and in train mode (BatchNorm on
    the batch), and the new channels still learn: one step changes the output."""
    from oldfilm.restore.detector import build_detector
    from oldfilm.restore.train_scratch import warm_start

    torch.manual_seed(0)
    small = {"in_channels": 1, "out_channels": 1, "depth": 2, "conv_num": conv_num, "wf": 2}
    old = build_detector(small)
    for m in old.modules():            # BatchNorm away from its init, so a misplaced channel shows
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_()
            m.bias.data.normal_()
    exported = tmp_path / "small.safetensors"
    from oldfilm.restore.training.registry import arch_name_for

    W.save_builtin(old, arch_name_for(build_detector), small, exported)
    old = W.load_builtin(exported).float()
    wide_cfg = {**small, "wf": 3}
    wide = build_detector(wide_cfg)
    warm_start(wide, wide_cfg, str(exported))
    x = torch.randn(2, 1, 32, 32)
    for mode in (False, True):
        old.train(mode)
        wide.train(mode)
        with torch.no_grad():
            assert torch.allclose(wide(x), old(x), atol=1e-4)
    opt = torch.optim.SGD(wide.parameters(), lr=0.1)
    wide(x).mean().backward()
    grads = {k: p.grad for k, p in wide.named_parameters()}
    assert grads["up_path.0.conv_block.block.1.weight"][:, 8:16].abs().sum() > 0   # reads a new channel
    opt.step()
    wide.eval()
    old.eval()
    with torch.no_grad():
        assert not torch.allclose(wide(x), old(x), atol=1e-4)


def test_best_threshold_picks_the_best_f1_and_prefers_fewer_marks():
    from oldfilm.restore.training.quality import best_threshold

    truth = np.zeros((8, 8), np.uint8)
    truth[:, :2] = 255
    prob = np.full((8, 8), 0.1, np.float32)
    prob[:, :2] = 0.7                      # the damage
    prob[:, 2] = 0.45                      # a false mark that only low thresholds take
    t, f1 = best_threshold([prob], [truth])
    assert f1 == 1.0 and 0.45 < t <= 0.7 and t == 0.7   # every threshold in (0.45, 0.7] is perfect: the highest wins
    t2, f2 = best_threshold([prob], [truth], grid=(0.3, 0.4))
    assert t2 == 0.4 and f2 < 1.0


def test_detector_threshold_comes_from_the_checkpoint(tmp_path):
    """The restore stage marks at the threshold saved with our weights; a file without one (a
    published detector) keeps BOPBTL's 0.4."""
    from oldfilm.restore import restorer as R
    from oldfilm.restore.detector import build_detector
    from oldfilm.restore.training.registry import arch_name_for

    cfg = {"in_channels": 1, "out_channels": 1, "depth": 2, "conv_num": 1, "wf": 2}
    net = build_detector(cfg).eval()
    assert R.detector_threshold(net) == 0.4
    path = tmp_path / "det.safetensors"
    W.save_builtin(net, arch_name_for(build_detector), cfg, path, extra={"threshold": "0.75"})
    det = W.load_builtin(path)
    assert R.detector_threshold(det) == 0.75
    rgb = (np.random.default_rng(0).random((40, 48, 3)) * 255).astype(np.uint8)
    p = R.scratch_probability(det, rgb)
    assert np.array_equal(R.detect_scratches(det, rgb), p >= 0.75)
    assert not np.array_equal(p >= 0.75, p >= 0.4)          # the two operating points differ here


def test_restorer_init_from_with_a_wider_config_computes_what_the_source_did(photos, tmp_path, capsys):
    """--init-from RUN with a --config that widens it (larger ngf, mc, nc): all four networks start
    computing what the source's did, on the quality and the scratch path (with tiny's instance
    norms), so a wider restorer begins at the trained one's quality; a --config that narrows a
    layer or changes the structure is one clear error."""
    from oldfilm.restore.train_restorer import CONFIGS, load_run_nets

    src = tmp_path / "src"
    assert _train("restorer", src, photos, ["--vae-iters", "1", "--map-iters", "1", "--crop", "32", "--batch", "2"]) == 0
    tiny = CONFIGS["tiny"]
    wide_cfg = {"vae": {"ngf": 8, "mc": 16, "n_down": 2, "n_res": 1},
                "mapping_quality": {"kind": "quality", "nc": 16, "mc": 16, "n_up": 1, "n_blocks": 1},
                "mapping_scratch": {"kind": "scratch", "nc": 16, "mc": 16, "n_up": 1, "n_blocks": 1, "nl_blocks": 1,
                                    "max_keys": 256}}
    common = ["--data", str(photos), "--overlays", str(OVERLAYS), "--save-every", "1", "--log-every", "1",
              "--no-progress", "--val-fraction", "0.5", "--crop", "32", "--batch", "2", "--init-from"]
    wide = tmp_path / "wide"        # one step at lr 0 saves the starting weights
    assert train_cli.run(_args(["restorer", "--out", str(wide), "--config", json.dumps(wide_cfg), "--vae-iters", "1",
                                "--map-iters", "0", "--lr", "0", *common, str(src)])) == 0
    assert "widened to --config" in capsys.readouterr().out
    old, _, _ = load_run_nets(RunDir(src))
    new, cfg, _ = load_run_nets(RunDir(wide))
    assert cfg == wide_cfg
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = torch.zeros(2, 1, 32, 32)
    mask[:, :, 12:15, 4:28] = 1
    with torch.no_grad():
        assert new["vae_a"].encode(x).shape[1] == 16 > old["vae_a"].encode(x).shape[1]
        for nets in (old, new):
            z = nets["vae_a"].encode(x)
            nets["out"] = (nets["vae_b"].decode(nets["map_q"](z)), nets["vae_b"].decode(nets["map_s"](z, mask)))
    for a, b in zip(old["out"], new["out"]):
        assert torch.allclose(a, b, atol=1e-5)
    for bad in ({**wide_cfg, "vae": {**wide_cfg["vae"], "n_res": 2}},                  # structure
                {**tiny, "mapping_quality": {**tiny["mapping_quality"], "mc": 4}}):      # narrower
        with pytest.raises(OldfilmError, match="cannot be widened"):
            train_cli.run(_args(["restorer", "--out", str(tmp_path / "bad"), "--config", json.dumps(bad),
                                 "--vae-iters", "1", "--map-iters", "0", *common, str(src)]))


def test_restorer_scratch_tune_starts_from_an_installed_restorer_and_tunes_only_the_scratch_mapping(
        photos, tmp_path, monkeypatch):
    """--init-from MODEL loads every network of an installed restorer (sizes from its files); the
    scratch_tune phase changes the scratch mapping alone, on the installed detector's masks, and a
    resume against another detector is one clear error."""
    dest = tmp_path / "ck"
    src = tmp_path / "src"
    assert _train("restorer", src, photos, ["--vae-iters", "1", "--map-iters", "1", "--crop", "32", "--batch", "2"]) == 0
    assert train_cli.run(_args(["restorer", "--export", str(src), "--dest", str(dest), "--eval-images", "2"])) == 0
    det = tmp_path / "det"
    assert _train("scratch", det, photos, ["--iters", "1", "--crop", "32", "--batch", "2"]) == 0
    assert train_cli.run(_args(["scratch", "--export", str(det), "--dest", str(dest), "--eval-images", "2"])) == 0
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(dest))
    before = {slot: net.state_dict() for slot, net in W.load_model("restore", "default").items()}
    run = tmp_path / "tune"
    tune = ["--vae-iters", "0", "--map-iters", "0", "--joint-iters", "0", "--scratch-tune-iters", "2",
            "--crop", "32", "--batch", "2", "--init-from", "default"]
    assert train_cli.run(_args(["restorer", "--out", str(run), "--data", str(photos), "--overlays", str(OVERLAYS),
                                "--save-every", "1", "--log-every", "1", "--no-progress", "--val-fraction", "0.5",
                                *tune])) == 0
    assert RunDir(run).meta()["configs"]["restorer"]["vae"]["ngf"] == 4      # the source's sizes, not --config's default
    log = RunDir(run).read_log()
    assert [r["phase"] for r in log] == ["scratch_tune"] * 2 and all(0 <= r["marked"] <= 1 for r in log)
    from oldfilm.restore.train_restorer import EXPORTS, load_run_nets

    nets = load_run_nets(RunDir(run))[0]
    for slot, (key, _) in EXPORTS.items():
        same = all(torch.equal(v, before[slot][k]) for k, v in nets[key].state_dict().items())
        assert same == (key != "map_s"), slot
    out = tmp_path / "ck2"
    assert train_cli.run(_args(["restorer", "--export", str(run), "--dest", str(out), "--eval-images", "2"])) == 0
    card = _card(out, "restore-default.md")
    assert "masks of the `default` detector" in card and "scratch_tune" in card
    other = tmp_path / "other"
    assert _train("scratch", other, photos, ["--iters", "1", "--crop", "32", "--batch", "2", "--seed", "3"]) == 0
    assert train_cli.run(_args(["scratch", "--export", str(other), "--dest", str(tmp_path / "ck3"),
                                "--eval-images", "2"])) == 0
    with pytest.raises(OldfilmError, match="used another detector"):
        train_cli.run(_args(["restorer", "--out", str(run), "--data", str(photos), "--overlays", str(OVERLAYS),
                             "--no-progress", "--val-fraction", "0.5", "--resume", *tune[:-4],
                             "--scratch-tune-iters", "3", "--detector",
                             str(tmp_path / "ck3" / "scratch-default.safetensors")]))
    with pytest.raises(OldfilmError, match="not a restorer run folder"):
        train_cli.run(_args(["restorer", "--out", str(tmp_path / "x"), "--data", str(photos), "--no-progress",
                             "--init-from", str(photos)]))


def test_restorer_scratch_fill_none_is_saved_with_the_scratch_mapping_and_used_by_the_stage(
        photos, tmp_path, monkeypatch):
    """--scratch-fill none trains the scratch path on uncut inputs, writes ``hole_fill`` into the
    exported scratch mapping only, the restore stage builds that path with it, a resume with the
    other fill is one clear error, and a run started from that restorer inherits its fill."""
    from oldfilm.restore.stage import load_paths

    src = tmp_path / "src"
    assert _train("restorer", src, photos, ["--vae-iters", "1", "--map-iters", "1", "--crop", "32", "--batch", "2",
                                           "--scratch-fill", "none"]) == 0
    dest = tmp_path / "ck"
    assert train_cli.run(_args(["restorer", "--export", str(src), "--dest", str(dest), "--eval-images", "2"])) == 0
    fills = {f.name: W.read_builtin_meta(f).get("oldfilm.hole_fill") for f in dest.glob("restore-default-*.safetensors")}
    assert fills.pop("restore-default-mapping-scratch.safetensors") == "none" and set(fills.values()) == {None}
    assert "`hole_fill` `none`" in _card(dest, "restore-default.md")
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(dest))
    quality, scratch = load_paths("default")
    assert scratch.hole_fill == "none" and quality.hole_fill == "white"
    with pytest.raises(OldfilmError, match="--scratch-fill none"):
        _train("restorer", src, photos, ["--vae-iters", "1", "--map-iters", "2", "--crop", "32", "--batch", "2",
                                         "--resume", "--scratch-fill", "white"])
    follow = tmp_path / "follow"                   # --init-from a kept-pixel restorer keeps its fill
    assert _train("restorer", follow, photos, ["--vae-iters", "0", "--map-iters", "1", "--crop", "32", "--batch", "2",
                                               "--init-from", "default"]) == 0
    assert RunDir(follow).load()["extra"]["scratch_fill"] == "none"


def test_batch_feeder_workers_make_reproducible_batches(photos):
    from oldfilm.restore.degrade import recipe_by_name
    from oldfilm.restore.training.data import degraded_batch
    from oldfilm.restore.training.feeder import BatchFeeder

    images = ImageSet.from_folders([photos], 0.5)
    recipe = recipe_by_name("photo", OVERLAYS)
    inline = BatchFeeder(images, recipe).batch(np.random.default_rng(3), 2, 32, p_clean=0.1)
    plain = degraded_batch(images, 2, 32, np.random.default_rng(3), recipe, 0.1)
    assert torch.equal(inline.degraded, plain.degraded) and torch.equal(inline.mask, plain.mask)

    def draws(start_step: int) -> list:
        feeder = BatchFeeder(images, recipe, workers=2, seed=1, start_step=start_step)
        try:
            out = [feeder.batch(np.random.default_rng(0), 2, 32) for _ in range(4)]
            out.append(feeder.batch(np.random.default_rng(0), 3, 32))     # a new phase's shape
        finally:
            feeder.close()
        return out

    a, b, c = draws(0), draws(0), draws(10)
    for x, y in zip(a, b):
        assert torch.equal(x.clean, y.clean) and torch.equal(x.degraded, y.degraded) and torch.equal(x.mask, y.mask)
    assert not torch.equal(a[0].degraded, c[0].degraded)      # a resumed run draws new batches
    assert not torch.equal(a[0].degraded, a[1].degraded)      # the two workers differ
    for x in a[:4]:
        assert x.clean.shape == x.degraded.shape == (2, 3, 32, 32) and x.mask.shape == (2, 1, 32, 32)
        assert x.degraded.min() >= -1 and x.degraded.max() <= 1 and set(x.mask.unique().tolist()) <= {0.0, 1.0}
    assert a[4].clean.shape[0] == 3


def test_scratch_with_workers_and_max_minutes_stops_at_a_checkpoint_and_resumes(photos, tmp_path, capsys):
    run = tmp_path / "scratch"
    args = ["--iters", "4", "--crop", "32", "--batch", "2", "--workers", "2"]
    assert _train("scratch", run, photos, [*args, "--max-minutes", "0"]) == 0
    assert RunDir(run).load()["step"] == 1
    out = capsys.readouterr().out
    assert "stopped at step 1 of 4" in out and "finished" not in out
    assert _train("scratch", run, photos, ["--resume"]) == 0          # neither option is inherited
    assert RunDir(run).load()["step"] == 4
    out = capsys.readouterr().out
    assert "finished 4 iterations" in out and "settings changed" not in out
    assert [r["step"] for r in RunDir(run).read_log()] == [1, 2, 3, 4]


@pytest.mark.parametrize("option, value", [("--workers", "-1"), ("--max-minutes", "-2"), ("--max-minutes", "nan")])
def test_workers_and_max_minutes_refuse_bad_values(option, value):
    with pytest.raises(SystemExit):
        _args(["scratch", option, value])

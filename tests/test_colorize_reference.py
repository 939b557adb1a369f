"""Reference colours (`--reference`): matching frames to colour images in the colorizer's features."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from oldfilm import Pipeline, PipelineOptions
from oldfilm import weights as W
from oldfilm.colorize import reference as R
from oldfilm.colorize.generator import ARCH_NAME, LIGHT_CONFIG, build_generator
from oldfilm.colorize.chroma import transfer_chroma
from oldfilm.colorize.render import colorize_frames, model_input, run_network
from oldfilm.colorize.stage import ColorizeStage, build_colorize_stage
from oldfilm.errors import BadInputError, OldfilmError
from oldfilm.metrics.color import mean_ciede2000
from oldfilm.options import ColorizeOptions, RunOptions

RF = 4  # 64 px network input, an 8x8 feature grid


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return build_generator(LIGHT_CONFIG).eval()


def _scene(kind: str, h: int = 48, w: int = 64) -> np.ndarray:
    """Strongly coloured test scenes with different structure: stripes, or a checkerboard."""
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.empty((h, w, 3), np.uint8)
    if kind == "stripes":
        band = (yy // 12) % 2 == 0
        img[band], img[~band] = (200, 40, 40), (240, 220, 60)        # red and yellow bands
    else:
        cell = ((yy // 16) + (xx // 16)) % 2 == 0
        img[cell], img[~cell] = (30, 60, 200), (40, 170, 60)         # blue and green squares
    return img


def test_softmax_per_reference_matches_the_direct_one():
    torch.manual_seed(1)
    feats = R.centred_unit(torch.randn(2, 16, 5, 6))
    ref = R.centred_unit(torch.randn(3, 16, 20, 20)).permute(1, 0, 2, 3).reshape(16, -1)
    ref_light, light = torch.rand(1200) * 100, torch.rand(2, 5, 6) * 100
    refs = R.References(R.reference_keys(ref, ref_light), torch.randn(1200, 2) * 30, RF, counts=(400, 400, 400))
    ab, best = R.match_references(R.frame_queries(feats, light), refs)
    sim = feats.reshape(2, 16, 30).transpose(1, 2) @ ref
    score = sim - R.LIGHTNESS_WEIGHT * ((light.reshape(2, 30, 1) - ref_light) / 100) ** 2
    fit = torch.stack([score[..., i * 400:(i + 1) * 400].amax(-1).mean(-1) for i in range(3)], 1)    # N×3
    bias = R.SELECT_WEIGHT * (fit - fit.amax(1, keepdim=True))
    direct = torch.softmax((score + bias.repeat_interleave(400, 1)[:, None]) / R.TEMPERATURE, -1) @ refs.ab
    assert torch.allclose(ab, direct, atol=5e-3)          # float32 sums of the lightness channels
    assert torch.allclose(best, score.amax(-1), atol=1e-5)
    with pytest.raises(ValueError, match="disagree"):
        R.References(refs.keys, refs.ab, RF, counts=(400, 400))


def test_equal_features_are_told_apart_by_lightness():
    f = torch.ones(8, 2) / 8 ** 0.5                                   # two reference positions, same features
    refs = R.References(R.reference_keys(f, torch.tensor([30.0, 70.0])), torch.tensor([[40.0, 0.0], [-40.0, 0.0]]), RF)
    frame = torch.ones(1, 8, 1, 2) / 8 ** 0.5
    ab, _ = R.match_references(R.frame_queries(frame, torch.tensor([[[30.0, 70.0]]])), refs)
    assert ab[0, 0, 0] > 35 and ab[0, 1, 0] < -35                     # each takes the one of its lightness


def test_centred_unit_features():
    f = R.centred_unit(torch.randn(3, 8, 4, 5) + 5)
    assert torch.allclose(f.norm(dim=1), torch.ones(3, 4, 5), atol=1e-5)
    raw = torch.randn(1, 8, 4, 5)
    assert torch.allclose(R.centred_unit(raw + 3.0), R.centred_unit(raw), atol=1e-5)   # per-map offsets drop out


def test_features_come_from_the_same_pass(net):
    x = model_input(_scene("stripes"), RF)[None]
    y_plain = run_network(net, x)
    y, f = run_network(net, x, trunk_index=R.FEATURE_LAYER)
    assert torch.equal(y, y_plain)
    assert f.shape == (1, 128, 8, 8)          # resnet18 layer2: 1/8 of the 64 px square
    with pytest.raises(ValueError):
        net.forward_with_features(x, 99)


def test_a_reference_of_the_same_scene_gives_its_colours(net):
    scene = _scene("stripes")
    refs = R.encode_references(net, [scene], RF, ["keyframe.png"])
    out, shares = R.colorize_frames_with_references([scene], net, refs)
    plain = colorize_frames([scene], net, RF)[0]
    assert out[0].shape == scene.shape and len(shares) == 1 and 0 <= shares[0] <= 1
    assert mean_ciede2000(out[0], scene) < 0.5 * mean_ciede2000(plain, scene)


def test_pooled_references_each_frame_takes_the_one_it_shows(net):
    stripes, checks = _scene("stripes"), _scene("checks")
    refs = R.encode_references(net, [stripes, checks], RF)
    assert refs.positions == 2 * 64 and refs.keys.shape == (128 + 3, 2 * 64)
    out, _ = R.colorize_frames_with_references([checks, stripes], net, refs)
    swapped, _ = R.colorize_frames_with_references([checks, stripes], net, R.encode_references(net, [stripes], RF))
    assert mean_ciede2000(out[0], checks) < 0.6 * mean_ciede2000(swapped[0], checks)
    assert mean_ciede2000(out[1], stripes) < 15


def test_zero_weight_keeps_the_colorizers_own_colours(net):
    from oldfilm.colorize.render import model_rgb

    square = model_rgb(run_network(net, model_input(_scene("checks"), RF)[None])[0])
    far = np.full((8, 8, 2), 90, np.float32)
    assert np.abs(R.fuse_square(square, far, 0.0).astype(int) - square.astype(int)).max() <= 1
    assert np.abs(R.fuse_square(square, far, 1.0).astype(int) - square.astype(int)).mean() > 10
    w = R.share_weight(torch.tensor([0.0, R.SHARE_LOW, 0.25, R.SHARE_HIGH, 1.0]))
    assert w.tolist() == pytest.approx([0, 0, 0.5, 1, 1], abs=1e-6)
    with pytest.raises(ValueError):
        R.share_weight(torch.zeros(1), 0.9, 0.6)


def test_a_frame_the_background_explains_better_keeps_its_own_colours(net):
    stripes, checks = _scene("stripes"), _scene("checks")
    thin = R.encode_references(net, [stripes], RF, background=[checks, _scene("checks", 64, 64)])
    assert thin.background is not None and thin.background.shape == (128 + 3, 2 * 16)  # every 2nd position
    # every position: an untrained net's features do not resemble their neighbours' as trained ones do
    refs = R.encode_references(net, [stripes], RF, background=[checks], background_stride=1)
    out, weights = R.colorize_frames_with_references([checks, stripes], net, refs)
    plain = colorize_frames([checks], net, RF)[0]
    assert weights[0] == 0 and np.array_equal(out[0], plain)       # nothing of the stripes lands on it
    assert weights[1] == 1                                           # the reference itself: matched in full


def test_chroma_level_tells_colour_from_black_and_white():
    gray = np.repeat(_scene("stripes").mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert R.chroma_level(gray) < 1 < R.MIN_CHROMA < R.chroma_level(_scene("stripes"))


def _save(path, rgb):
    Image.fromarray(rgb).save(path)
    return str(path)


def test_stage_with_references_reports_them(monkeypatch, tmp_path, net):
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path))
    W.save_builtin(net, ARCH_NAME, dict(LIGHT_CONFIG), tmp_path / "colorize-default.safetensors")
    ref = _save(tmp_path / "keyframe.png", _scene("stripes"))
    stage = build_colorize_stage(ColorizeOptions(enabled=True, render_factor=RF, references=(ref,)),
                                 RunOptions(device="cpu", precision="fp32"), True)
    assert isinstance(stage, ColorizeStage) and stage.references is not None
    out = stage([_scene("stripes"), _scene("checks")])
    report = stage.report()
    assert report["references"] == ["keyframe.png"] and 1 <= report["reference_frames"] <= 2
    assert stage.references.background.shape[1] == 17 * 16             # the bundled background photos
    assert mean_ciede2000(out[0], _scene("stripes")) < 8
    with pytest.raises(ValueError, match="render factor"):
        ColorizeStage(net, RF + 1, torch.device("cpu"), references=stage.references)


def test_bad_references_are_one_line_errors(monkeypatch, tmp_path, net):
    with pytest.raises(BadInputError, match="no such reference image") as e:
        ColorizeOptions(enabled=True, references=(str(tmp_path / "missing.jpg"),))
    assert "missing.jpg" in str(e.value) and "\n" not in str(e.value)
    ref = _save(tmp_path / "ok.png", _scene("stripes"))
    with pytest.raises(OldfilmError, match="add --colorize"):
        ColorizeOptions(enabled=False, references=(ref,))
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path))
    W.save_builtin(net, ARCH_NAME, dict(LIGHT_CONFIG), tmp_path / "colorize-default.safetensors")
    gray = _save(tmp_path / "gray.png", np.full((20, 30, 3), 128, np.uint8))
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a picture")
    for path, problem in ((gray, "no colour to take"), (str(junk), "not an image")):
        with pytest.raises(BadInputError, match=problem) as e:
            build_colorize_stage(ColorizeOptions(enabled=True, render_factor=RF, references=(path,)),
                                 RunOptions(device="cpu"), False)
        assert str(e.value).startswith(path) and "\n" not in str(e.value)


def test_an_edited_reference_changes_the_resume_fingerprint(tmp_path):
    ref = tmp_path / "keyframe.png"
    _save(ref, _scene("stripes"))
    pipe = Pipeline(PipelineOptions(colorize=ColorizeOptions(enabled=True, references=(str(ref),))))
    chain = type("Chain", (), {"active": ["colorize"]})()
    before = pipe._fingerprint(chain)
    _save(ref, _scene("checks"))
    assert pipe._fingerprint(chain) != before
    # runs without references keep the fingerprint they always had (no new key)
    plain = Pipeline(PipelineOptions(colorize=ColorizeOptions(enabled=True)))._fingerprint(chain)
    assert "reference" not in plain


def test_cli_colorizes_a_clip_and_a_photo_from_a_reference(monkeypatch, tmp_path, net, capsys):
    import json

    from oldfilm.cli import main
    from tests.video_clips import decoded, lossless_clip

    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path / "ck"))
    (tmp_path / "ck").mkdir()
    W.save_builtin(net, ARCH_NAME, dict(LIGHT_CONFIG), tmp_path / "ck" / "colorize-default.safetensors")
    stripes = _scene("stripes")
    gray = np.repeat(stripes.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    (tmp_path / "in").mkdir()
    clip = lossless_clip(tmp_path / "in" / "reel.mkv", [gray] * 6)
    photo = _save(tmp_path / "in" / "print.png", gray)
    ref = _save(tmp_path / "keyframe.png", stripes)
    code = main(["colorize", str(tmp_path / "in"), "--reference", ref, "--render-factor", str(RF), "--json",
                 "--codec", "ffv1", "--device", "cpu", "--precision", "fp32"])
    recs = {r["input"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert code == 0 and {r["status"] for r in recs.values()} == {"done"}
    best = transfer_chroma(gray, stripes)       # the reference's colours under the input's lightness
    out_photo = np.asarray(Image.open(recs[photo]["output"]).convert("RGB"))
    guess = mean_ciede2000(colorize_frames([gray], net, RF)[0], best)     # the colorizer alone
    assert mean_ciede2000(out_photo, best) < min(8.0, 0.5 * guess)      # the reference's red and yellow
    frames = decoded(recs[str(clip)]["output"])
    assert len(frames) == 6 and max(mean_ciede2000(f, best) for f in frames) < min(8.0, 0.5 * guess)
    for rec in recs.values():
        assert rec["stages"]["references"] == ["keyframe.png"]
        assert rec["stages"]["reference_frames"] == rec["stages"]["colorized_frames"] >= 1


def test_done_line_says_how_many_frames_took_the_references_colours():
    from oldfilm.jobs import _reference_note

    assert _reference_note({"colorized_frames": 3}) == ""
    assert _reference_note({"references": ["k.png"], "reference_frames": 1, "colorized_frames": 1}) == \
        ", colours from the references"
    assert "own colours" in _reference_note({"references": ["k.png"], "reference_frames": 0, "colorized_frames": 1})
    assert _reference_note({"references": ["k.png"], "reference_frames": 40, "colorized_frames": 52}) == \
        ", colours from the references in 40 of 52 frames"


def test_a_reference_folder_gives_its_images(tmp_path):
    keys = tmp_path / "keyframes"
    keys.mkdir()
    for name in ("shot2.png", "shot1.jpg", ".hidden.png", "notes.txt"):
        (keys / name).write_bytes(b"x")
    other = tmp_path / "extra.png"
    other.write_bytes(b"x")
    opts = ColorizeOptions(enabled=True, references=(str(keys), str(other), str(keys / "shot1.jpg")))
    assert opts.references == (str(keys / "shot1.jpg"), str(keys / "shot2.png"), str(other))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="no reference images in this folder"):
        ColorizeOptions(enabled=True, references=(str(tmp_path / "empty"),))

"""Steady colours (`--steady-colors`): the colorizer's colour flicker filtered along the motion."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from oldfilm import Pipeline, PipelineOptions
from oldfilm import weights as W
from oldfilm.colorize import steady as S
from oldfilm.colorize.generator import ARCH_NAME, LIGHT_CONFIG, build_generator
from oldfilm.colorize.stage import ColorizeStage, build_colorize_stage
from oldfilm.errors import OldfilmError
from oldfilm.options import STEADY_DEFAULT, ColorizeOptions, RunOptions

RF = 4


def _texture(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """uint8 gray HxW with structure at several scales (flow needs something to follow)."""
    rng = np.random.default_rng(seed)
    t = cv2.resize(rng.random((h // 8, w // 8), np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    t += 0.5 * cv2.resize(rng.random((h // 3, w // 3), np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    t = (t - t.min()) / (t.max() - t.min())
    return (40 + 170 * t).astype(np.uint8)


def _with_chroma(luma: np.ndarray, u: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
    """uint8 RGB with this luma and YUV chroma (offsets from 128)."""
    yuv = np.stack([luma, np.broadcast_to(128 + u, luma.shape), np.broadcast_to(128 + v, luma.shape)], -1)
    return cv2.cvtColor(np.clip(np.rint(yuv), 0, 255).astype(np.uint8), cv2.COLOR_YUV2RGB)


def _gray(luma: np.ndarray) -> np.ndarray:
    return np.repeat(luma[..., None], 3, axis=2)


def _uv(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV)[..., 1:].astype(np.float32) - 128


def test_a_still_shots_flickering_colour_is_held_and_its_lightness_kept():
    luma = _texture()
    state, outs, raws = None, [], []
    for t in range(12):
        raw = _with_chroma(luma, 6.0 * (-1) ** t, -8.0)        # the colorizer's guess jumps every frame
        out, state, held = S.steady_frame(_gray(luma), raw, state, 0.9)
        assert (held == 0) if t == 0 else held > 0.6          # a still picture is tracked everywhere
        raws.append(raw)
        outs.append(out)
    assert np.array_equal(outs[0], raws[0])                   # a shot's first frame is the colorizer's
    jumps = [np.abs(_uv(b)[..., 0] - _uv(a)[..., 0]).mean() for a, b in zip(outs[4:], outs[5:])]
    assert max(jumps) < 0.25 * 12                             # the raw jump is 12
    yo = [cv2.cvtColor(o, cv2.COLOR_RGB2YUV)[..., 0].astype(int) for o in outs]
    yr = [cv2.cvtColor(r, cv2.COLOR_RGB2YUV)[..., 0].astype(int) for r in raws]
    assert max(np.abs(a - b).max() for a, b in zip(yo, yr)) <= 2   # YUV rounding only


def test_exposure_flicker_does_not_stop_the_filter():
    """Old film's frames are each exposed a little differently: the same surfaces, brighter or
    darker, must still be recognised (the luma is compared after evening out the exposure)."""
    luma = _texture().astype(np.float32)
    state = None
    for t in range(8):
        lit = np.clip((luma - 128) * (1.12 if t % 2 else 0.9) + 128 + (8 if t % 2 else -6), 0, 255).astype(np.uint8)
        _, state, held = S.steady_frame(_gray(lit), _with_chroma(lit, 4.0 * (-1) ** t, 2.0), state, 0.9)
        assert (held == 0) if t == 0 else held > 0.6


def test_colour_follows_the_motion_and_leaves_no_trail():
    """A red patch on a moving textured picture: the held colour moves with it, and where the
    patch was the background's colour comes back (the flow carries the history; no smear)."""
    big = _texture(160, 240, seed=3)
    patch = np.zeros(big.shape, bool)
    patch[60:100, 60:110] = True
    state, rng = None, np.random.default_rng(0)
    for t in range(14):
        dx = 4 * t                                           # the camera pans 4 px a frame
        luma, mask = big[20:116, dx:dx + 128], patch[20:116, dx:dx + 128]
        u = np.where(mask, -20.0, 6.0) + rng.normal(0, 3)    # red-ish patch on a warm ground, flickering
        v = np.where(mask, 30.0, 4.0) + rng.normal(0, 3)
        out, state, held = S.steady_frame(_gray(luma), _with_chroma(luma, u, v), state, 0.9)
    uv = _uv(out)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    outer = ~cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert np.abs(uv[inner].mean(0) - (-20, 30)).max() < 4
    assert np.abs(uv[outer].mean(0) - (6, 4)).max() < 4


def _wake_errors() -> tuple[float, float]:
    """A purple disc slides over a still, warm ground of nearly its lightness; (mean |U|+|V|
    error of the filter's output, of the colorizer's) in its wake: the ground it covered in the
    last 6 frames, clear of its soft edge."""
    ground = (_texture(120, 160, seed=5) * 0.4 + 80).astype(np.float32)
    disc = (_texture(120, 160, seed=7) * 0.4 + 105).astype(np.float32)
    yy, xx = np.mgrid[0:120, 0:160]
    state, rng, errors, raw_errors, masks = None, np.random.default_rng(0), [], [], []
    for t in range(16):
        inside = (xx - 30 - 2 * t) ** 2 + (yy - 60) ** 2 < 22**2
        luma = np.where(inside, disc, ground).astype(np.uint8)
        u, v = np.where(inside, -25.0, 10.0), np.where(inside, 25.0, -5.0)
        raw = _with_chroma(luma, u + rng.normal(0, 3), v + rng.normal(0, 3))
        out, state, _ = S.steady_frame(_gray(luma), raw, state, 0.9)
        if t >= 8:
            wake = np.any(masks[-6:], axis=0) & ~cv2.dilate(inside.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
            truth = _uv(_with_chroma(luma, u, v))[wake]
            errors.append(np.abs(_uv(out)[wake] - truth).sum(-1).mean())
            raw_errors.append(np.abs(_uv(raw)[wake] - truth).sum(-1).mean())
        masks.append(inside)
    return float(np.mean(errors)), float(np.mean(raw_errors))


def test_a_moving_object_leaves_no_colour_trail_on_the_ground_it_uncovers(monkeypatch):
    """The flow smears the disc's motion onto the ground it uncovers. Without the colour test the
    disc's colour lingers in its wake; with it the wake stays near the colorizer's own error."""
    gated, raw = _wake_errors()
    monkeypatch.setattr(S, "CHROMA_SIGMA", 0.0)
    ungated, _ = _wake_errors()
    assert gated < min(1.5 * raw, 0.5 * ungated)


def test_new_content_and_cuts_take_the_colorizers_colours_at_once():
    luma = _texture()
    first = _with_chroma(luma, 6.0, 0.0)
    _, state, _ = S.steady_frame(_gray(luma), first, None, 0.9)
    # something new comes in on the left: nothing in the last frame matches it there
    new = luma.copy()
    new[30:70, 4:40] = 250 - luma[30:70, 4:40]          # (a bright new object everywhere would be a cut)
    raw = _with_chroma(new, -4.0, 3.0)
    out, _, held = S.steady_frame(_gray(new), raw, state, 0.9)
    assert 0.4 < held < 0.9
    assert np.abs(_uv(out)[36:64, 10:34] - _uv(raw)[36:64, 10:34]).mean() < 1.0
    rest = np.s_[:, 60:]                                      # the rest is held: closer to the last frame
    assert np.abs(_uv(out)[rest] - _uv(first)[rest]).mean() < 0.4 * np.abs(_uv(raw)[rest] - _uv(first)[rest]).mean()
    # a cut: another picture entirely
    other = _texture(seed=9)
    raw = _with_chroma(other, -15.0, 10.0)
    out, _, held = S.steady_frame(_gray(other), raw, state, 0.9)
    assert held == 0 and np.array_equal(out, raw)
    # strength 0 and a size change start afresh too
    assert S.steady_frame(_gray(luma), raw[:, :, :] * 0 + raw, state, 0.0)[2] == 0
    small = cv2.resize(luma, (64, 48))
    assert S.steady_frame(_gray(small), _with_chroma(small, 1.0, 1.0), state, 0.9)[2] == 0
    for h, w in ((1, 1), (2, 3), (15, 200)):                  # too small for the flow: passed through
        tiny = np.random.default_rng(h).integers(0, 256, (h, w, 3), dtype=np.uint8)
        _, st, _ = S.steady_frame(tiny, tiny, None, 0.9)
        out, _, held = S.steady_frame(tiny, tiny, st, 0.9)
        assert held == 0 and np.array_equal(out, tiny)


def test_steady_clip_runs_the_state_through_a_clip():
    luma = _texture()
    raws = [_with_chroma(luma, 10.0 * (-1) ** t, 0.0) for t in range(6)]
    outs = S.steady_clip([_gray(luma)] * 6, raws, 0.9)
    assert np.array_equal(outs[0], raws[0]) and not np.array_equal(outs[5], raws[5])
    assert all(np.array_equal(o, r) for o, r in zip(S.steady_clip([_gray(luma)] * 6, raws, 0.0), raws))
    with pytest.raises(ValueError, match="shape"):
        S.steady_frame(_gray(luma), raws[0][:10], None, 0.9)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return build_generator(LIGHT_CONFIG).eval()


def test_stage_holds_colours_within_a_segment_and_forgets_at_reset(monkeypatch, tmp_path, net):
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path))
    W.save_builtin(net, ARCH_NAME, dict(LIGHT_CONFIG), tmp_path / "colorize-default.safetensors")
    run = RunOptions(device="cpu", precision="fp32")
    video = build_colorize_stage(ColorizeOptions(enabled=True, render_factor=RF), run, True)
    photo = build_colorize_stage(ColorizeOptions(enabled=True, render_factor=RF), run, False)
    assert video.steady == STEADY_DEFAULT and photo.steady == 0 and "steady_colors" not in photo.report()
    luma = _texture()
    frames = [_gray(np.roll(luma, 2 * t, axis=1)) for t in range(5)]
    plain_stage = ColorizeStage(video.network, RF, torch.device("cpu"))
    plain = plain_stage(frames[:3]) + plain_stage(frames[3:])     # the same batches (float sums)
    out = video(frames[:3]) + video(frames[3:])               # batches carry the state
    assert np.array_equal(out[0], plain[0]) and video.report()["steadied_frames"] == 4
    assert video.report()["steady_colors"] == STEADY_DEFAULT
    video.reset()
    assert video.report()["steadied_frames"] == 0
    assert np.array_equal(video(frames[3:])[0], plain[3])     # a segment's first frame is the colorizer's
    with pytest.raises(ValueError, match="steady"):
        ColorizeStage(net, RF, torch.device("cpu"), steady=1.0)


def test_options_and_the_resume_fingerprint():
    assert ColorizeOptions(enabled=True).steady_for(True) == STEADY_DEFAULT
    assert ColorizeOptions(enabled=True, steady=0).steady_for(True) == 0
    assert ColorizeOptions(enabled=True, steady=0.5).steady_for(False) == 0
    for bad in (-0.1, 0.99, float("nan")):
        with pytest.raises(OldfilmError, match="--steady-colors"):
            ColorizeOptions(enabled=True, steady=bad)
    with pytest.raises(OldfilmError, match="add --colorize"):
        ColorizeOptions(enabled=False, steady=0.5)
    chain = type("Chain", (), {"active": ["colorize"]})()
    prints = {s: json.loads(Pipeline(PipelineOptions(colorize=ColorizeOptions(enabled=True, steady=s)))._fingerprint(chain))
              for s in (None, 0.5, 0.0)}
    assert prints[None]["colorize"]["steady_colors"] == [STEADY_DEFAULT, S.VERSION]
    assert prints[0.5]["colorize"]["steady_colors"] == [0.5, S.VERSION]
    assert "steady_colors" not in prints[0.0]["colorize"] and "steady" not in prints[0.0]["colorize"]
    restore_only = json.loads(Pipeline(PipelineOptions())._fingerprint(type("Chain", (), {"active": ["restore"]})()))
    assert "steady_colors" not in restore_only["colorize"]


def test_cli_steadies_a_clip(monkeypatch, tmp_path, net, capsys):
    from oldfilm.cli import main
    from tests.video_clips import decoded, lossless_clip

    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path / "ck"))
    (tmp_path / "ck").mkdir()
    W.save_builtin(net, ARCH_NAME, dict(LIGHT_CONFIG), tmp_path / "ck" / "colorize-default.safetensors")
    luma = _texture()
    clip = lossless_clip(tmp_path / "reel.mkv", [_gray(np.roll(luma, 3 * t, axis=1)) for t in range(6)])
    outs = {}
    for s in ("0", "0.9"):
        code = main(["colorize", str(clip), "--steady-colors", s, "--render-factor", str(RF), "--json", "--overwrite",
                     "--codec", "ffv1", "--device", "cpu", "--precision", "fp32", "-o", str(tmp_path / s)])
        rec = json.loads(capsys.readouterr().out.splitlines()[-1])
        assert code == 0 and rec["status"] == "done"
        outs[s] = decoded(rec["output"])
        assert rec["stages"].get("steadied_frames", 0) == (5 if s == "0.9" else 0)
    assert len(outs["0.9"]) == 6 and np.array_equal(outs["0.9"][0], outs["0"][0])
    assert not np.array_equal(outs["0.9"][5], outs["0"][5])
    assert main(["colorize", str(clip), "--steady-colors", "2"]) != 0
    assert "--steady-colors 2" in capsys.readouterr().err


def test_eval_takes_the_strength_for_colorize_clips_only(tmp_path, capsys):
    from oldfilm.cli import main

    photo = tmp_path / "a.png"
    cv2.imwrite(str(photo), _gray(_texture()))
    assert main(["eval", "--task", "restore", "--steady-colors", "0.5", str(photo), "-o", str(tmp_path)]) != 0
    assert "--steady-colors is for --task colorize" in capsys.readouterr().err


def test_a_resumed_video_is_frame_for_frame_the_uninterrupted_one(monkeypatch, tmp_path, net):
    """Segments start with a lead-in from the segment before (StageChain.warm_up), so the colour
    filter runs on through every segment boundary (only the video's first frame starts cold), its
    warm-up frames are not counted, and a run that crashed in its second segment and resumed gives
    exactly the frames of a run that never stopped."""
    from oldfilm.options import EncodeOptions, FaceOptions, RestoreOptions
    from oldfilm.pipeline import LEAD_IN_FRAMES
    from tests.video_clips import decoded, lossless_clip

    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path))
    W.save_builtin(net, ARCH_NAME, dict(LIGHT_CONFIG), tmp_path / "colorize-default.safetensors")
    luma = _texture(64, 96)
    n = 3 * LEAD_IN_FRAMES + 6
    clip = lossless_clip(tmp_path / "pan.mkv", [_gray(np.roll(luma, 2 * t, axis=1)) for t in range(n)],
                         gop=LEAD_IN_FRAMES + 2)

    def pipeline(steady: float | None = None) -> Pipeline:
        return Pipeline(PipelineOptions(restore=RestoreOptions(enabled=False), faces=FaceOptions(enabled=False),
                                        colorize=ColorizeOptions(enabled=True, render_factor=RF, steady=steady),
                                        run=RunOptions(device="cpu", precision="fp32", batch_size=2,
                                                       reuse_repeats=False),
                                        encode=EncodeOptions(codec="ffv1")))

    seconds = (LEAD_IN_FRAMES + 2) / 24 * 0.9          # a segment per keyframe: 3 or more segments
    res = pipeline().run_video(clip, tmp_path / "straight.mkv", segment_seconds=seconds)
    straight = decoded(res.output)
    assert len(straight) == n and res.report["colorized_frames"] == n
    assert res.report["steadied_frames"] == n - 1      # cold only at the video's first frame
    cold = pipeline(0.0).run_video(clip, tmp_path / "cold.mkv", segment_seconds=seconds)
    assert "steadied_frames" not in cold.report       # the filter off: no lead-in either

    calls = {"n": 0}
    real_call = ColorizeStage.__call__

    def crashing(self, frames):
        calls["n"] += len(frames)
        if calls["n"] > 2 * LEAD_IN_FRAMES + 4:
            raise RuntimeError("simulated crash")
        return real_call(self, frames)

    monkeypatch.setattr(ColorizeStage, "__call__", crashing)
    with pytest.raises(RuntimeError, match="simulated crash"):
        pipeline().run_video(clip, tmp_path / "resumed.mkv", segment_seconds=seconds)
    monkeypatch.setattr(ColorizeStage, "__call__", real_call)
    again = pipeline().run_video(clip, tmp_path / "resumed.mkv", segment_seconds=seconds)
    assert again.report.get("steadied_frames", 0) >= 1
    assert all(np.array_equal(a, b) for a, b in zip(decoded(again.output), straight))

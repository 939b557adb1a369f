"""Exposure flicker (`--deflicker`): the pure functions of video/deflicker.py on synthetic shots,
and the runner, the pipeline report and the CLI around them."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from oldfilm.metrics.temporal import flicker_index
from oldfilm.options import EncodeOptions
from oldfilm.pipeline import Pipeline
from oldfilm.stage import StageBase
from oldfilm.video import deflicker as dfl
from oldfilm.video.runner import process_video

from video_clips import decoded, lossless_clip

H, W, FPS = 48, 64, 24.0


def scene(seed: int, n: int, speed: int = 1) -> list[np.ndarray]:
    """n frames of a smooth grey-brown picture panning ``speed`` px a frame (uint8 RGB HxWx3)."""
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.uniform(30, 220, (H + 8, W + n * speed + 8)).astype(np.float32), (0, 0), 3)
    tex = (tex - tex.mean()) * 2.5 + 120
    frames = []
    for i in range(n):
        y = tex[4:4 + H, 4 + i * speed:4 + i * speed + W]
        frames.append(np.clip(np.stack([y, y * 0.95, y * 0.85], -1), 0, 255).round().astype(np.uint8))
    return frames


def levelled(frames: list[np.ndarray], gains, offsets) -> list[np.ndarray]:
    return [np.clip(f.astype(np.float32) * g + o, 0, 255).round().astype(np.uint8)
            for f, g, o in zip(frames, gains, offsets)]


def flickered(frames: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    n = len(frames)
    return levelled(frames, np.exp(rng.normal(0, 0.08, n)), rng.normal(0, 5, n))


def deflickered(frames: list[np.ndarray]) -> list[np.ndarray]:
    return dfl.steady_frames(frames, FPS)


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = np.mean([np.mean((x.astype(float) - y.astype(float)) ** 2) for x, y in zip(a, b)])
    return float("inf") if mse == 0 else float(10 * np.log10(255 ** 2 / mse))


def test_flicker_is_taken_out_and_the_picture_comes_back():
    clean = scene(0, 72)
    noisy = flickered(clean)
    fixed = deflickered(noisy)
    assert flicker_index(noisy).L > 10 * flicker_index(clean).L
    assert flicker_index(fixed).L < 0.25 * flicker_index(noisy).L
    assert psnr(fixed, clean) > psnr(noisy, clean) + 5


def test_footage_that_does_not_flicker_is_left_as_it_is():
    clean = scene(1, 48)
    table = dfl.frames_correction_table(clean, FPS)
    assert psnr(deflickered(clean), clean) > 45
    fade = levelled(clean, np.linspace(1.0, 0.4, 48), np.zeros(48))      # a fade to dark: a ramp
    assert psnr(deflickered(fade), fade) > 40
    assert sum(dfl.is_identity(float(g), float(o)) for g, o in table) > len(clean) // 3


def test_a_lasting_change_of_light_stays_a_step():
    clean = scene(2, 48)
    gains = np.where(np.arange(48) < 24, 1.0, 1.3)                        # a lamp switched on at frame 24
    stepped = levelled(clean, gains, np.zeros(48))
    fixed = deflickered(stepped)
    assert psnr(fixed[18:30], stepped[18:30]) > 40
    with_flicker = flickered(stepped, seed=3)
    fixed = deflickered(with_flicker)
    ratio = np.mean([f.mean() for f in fixed[26:32]]) / np.mean([f.mean() for f in fixed[16:22]])
    assert ratio == pytest.approx(1.3, abs=0.04)                          # the step is still there
    assert psnr(fixed, stepped) > psnr(with_flicker, stepped) + 3
    assert flicker_index(fixed).L < 0.5 * flicker_index(with_flicker).L


def test_shots_are_steadied_apart_so_a_cut_does_not_pump():
    first, second = scene(3, 30), levelled(scene(4, 30), [0.6] * 30, [0] * 30)   # a darker second shot
    clip = first + second
    thumbs = [dfl.luma_thumbnail(f) for f in clip]
    assert [i for i in range(1, 60) if dfl.is_cut(thumbs[i - 1], thumbs[i])] == [30]
    assert psnr(deflickered(clip)[24:36], clip[24:36]) > 45


def test_cut_test_ignores_brightness_and_contrast_but_not_the_picture():
    a, b = scene(5, 1)[0], scene(6, 1)[0]
    ta, tb = dfl.luma_thumbnail(a), dfl.luma_thumbnail(b)
    brighter = dfl.luma_thumbnail(levelled([a], [1.4], [10])[0])
    assert not dfl.is_cut(ta, brighter) and dfl.is_cut(ta, tb)
    black = np.zeros_like(ta)
    assert not dfl.is_cut(black, black + 2) and dfl.is_cut(black, ta) and dfl.is_cut(ta, black)
    assert dfl.is_cut(ta, ta[:-1])


def test_levels_math_and_the_identity():
    rgb = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, 2)
    assert dfl.apply_levels(rgb, 1.0, 0.2) is rgb and dfl.is_identity(1.001, 0.0) and not dfl.is_identity(1.0, 0.6)
    out = dfl.apply_levels(rgb, 1.2, -10)
    assert out.dtype == np.uint8 and out.shape == rgb.shape
    assert np.array_equal(out[..., 0].ravel(), np.clip(np.round(np.arange(256) * 1.2 - 10), 0, 255).astype(np.uint8))
    x = np.array([[10, 50, 90, 130], [0, 0, 1, 1]], np.float32)
    t = np.array([[15, 60, 105, 150], [5, 5, 6, 6]], np.float32)
    (g0, o0), (g1, o1) = dfl.level_corrections(x, t)
    assert g0 == pytest.approx(1.125) and o0 == pytest.approx(3.75)
    assert g1 == 1.0 and o1 == pytest.approx(5)                            # a black frame: offset only
    (g, o), = dfl.level_corrections(np.array([[0, 100]], np.float32), np.array([[0, 400]], np.float32))
    assert g == pytest.approx(1.5)                                         # clamped
    assert dfl.shot_bounds(np.array([True, False, True, False, False])) == [(0, 2), (2, 5)]
    assert dfl.shot_bounds(np.zeros(0, bool)) == []


# ------------------------------------------------------------------------------- the runner
class Recording(StageBase):
    name = "record"

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[np.ndarray] = []

    def __call__(self, frames):
        self.seen += [f.copy() for f in frames]
        return [f.copy() for f in frames]


def test_runner_steadies_what_the_stage_sees_and_resumes_with_the_same_table(tmp_path):
    clean = scene(7, 48)
    noisy = flickered(clean, seed=8)
    src = lossless_clip(tmp_path / "flicker.mkv", noisy, gop=6)
    stage = Recording()
    res = process_video(src, tmp_path / "out.mkv", stage, EncodeOptions(codec="ffv1"), tmp_path / "w",
                        deflicker=True, segment_seconds=0.5)
    assert len(stage.seen) == 48 and res.deflickered_frames > 24
    expected = deflickered(noisy)
    assert all(np.array_equal(s, e) for s, e in zip(stage.seen, expected))   # the table is the whole clip's
    out = decoded(res.output)
    assert flicker_index(out).L < 0.25 * flicker_index(noisy).L

    # An interrupted run keeps its table; the resumed one uses it and makes the same frames.
    class Failing(Recording):
        def __call__(self, frames):
            if len(self.seen) >= 30:
                raise RuntimeError("power cut")
            return super().__call__(frames)

    work = tmp_path / "w2"
    with pytest.raises(RuntimeError):
        process_video(src, tmp_path / "out2.mkv", Failing(), EncodeOptions(codec="ffv1"), work,
                      deflicker=True, segment_seconds=0.5, batch_size=2)
    assert (work / "deflicker.npz").exists()
    import oldfilm.video.runner as runner
    calls = []
    real = runner.clip_statistics
    runner.clip_statistics = lambda frames: calls.append(1) or real(frames)
    try:
        res2 = process_video(src, tmp_path / "out2.mkv", Recording(), EncodeOptions(codec="ffv1"), work,
                             deflicker=True, segment_seconds=0.5, batch_size=2)
    finally:
        runner.clip_statistics = real
    assert calls == [] and res2.resumed_segments > 0
    assert all(np.array_equal(a, b) for a, b in zip(decoded(res2.output), out))

    plain = Recording()
    process_video(src, tmp_path / "plain.mkv", plain, EncodeOptions(codec="ffv1"), tmp_path / "w3")
    assert all(np.array_equal(s, f) for s, f in zip(plain.seen, noisy))    # off by default


def test_cli_flag_reaches_the_report_and_the_done_line(tmp_path):
    from oldfilm.cli import build_parser, options_from_args
    from oldfilm.jobs import discover, run_batch

    src = lossless_clip(tmp_path / "flicker.mkv", flickered(scene(9, 24), seed=10))
    opts = options_from_args(build_parser().parse_args(["restore", str(src), "--deflicker"]))
    assert opts.run.deflicker is True
    assert options_from_args(build_parser().parse_args(["colorize", str(src)])).run.deflicker is False
    res = Pipeline(opts, stages=[Recording()]).run_video(src, tmp_path / "a.mkv")
    assert res.report["deflickered_frames"] > 0
    out = io.StringIO()
    run_batch(discover([src]), Pipeline(opts, stages=[Recording()]), progress=False, out=out, err=io.StringIO())
    assert "frames deflickered" in out.getvalue()
    res = Pipeline(stages=[Recording()]).run_video(src, tmp_path / "b.mkv")
    assert "deflickered_frames" not in res.report


def test_info_tells_whether_deflicker_is_worth_using(tmp_path):
    from oldfilm.video.info import describe, format_info

    clean = scene(11, 48)
    steady = describe(lossless_clip(tmp_path / "steady.mkv", clean))
    shaky = describe(lossless_clip(tmp_path / "shaky.mkv", flickered(clean, seed=12)))
    assert steady["flicker_levels"] < 1.0 <= shaky["flicker_levels"]
    assert "little to steady" in format_info(steady) and "worth using" in format_info(shaky)


def test_the_measuring_pass_shows_its_own_bar(tmp_path):
    from oldfilm.progress import Progress

    src = lossless_clip(tmp_path / "flicker.mkv", flickered(scene(13, 60), seed=14))
    calls = []
    process_video(src, tmp_path / "o.mkv", Recording(), EncodeOptions(codec="ffv1"), tmp_path / "w",
                  deflicker=True, on_scan=lambda done, total: calls.append((done, total)))
    assert calls[0] == (25, 60) and calls[-1] == (60, 60)
    buf = io.StringIO()
    bars = Progress(1, enabled=True, stream=buf, mininterval=0)
    bars.start_job("reel.mkv")
    for done, total in calls:
        bars.scan(done, total)
    bars.frames(60, 60)
    bars.end_job()
    bars.close()
    assert "measuring flicker" in buf.getvalue() and "60/60" in buf.getvalue()


def test_deflicker_alone_runs_on_video_and_says_why_not_on_photos(tmp_path, capsys):
    from PIL import Image

    from oldfilm.cli import main

    noisy = flickered(scene(15, 36), seed=16)
    src = lossless_clip(tmp_path / "reel.mkv", noisy)
    assert main(["restore", str(src), "--no-restore", "--no-faces", "--deflicker", "-q"]) == 0
    out = decoded(tmp_path / "reel_restored.mkv")
    assert len(out) == 36 and flicker_index(out).L < 0.25 * flicker_index(noisy).L
    photo = tmp_path / "p" / "a.png"
    photo.parent.mkdir()
    Image.fromarray(noisy[0]).save(photo)
    assert main(["restore", str(photo), "--no-restore", "--no-faces", "--deflicker", "-q"]) != 0
    assert "--deflicker is for video" in capsys.readouterr().err


def test_ten_bit_output_carries_the_deflicker(tmp_path):
    from video_clips import make_clip

    from oldfilm.video.probe import probe

    noisy = flickered(scene(17, 24), seed=18)
    frames16 = [f.astype(np.uint16) * 257 for f in noisy]
    src = make_clip(tmp_path / "in.mkv", pix_fmt="yuv420p10le", frames=frames16, audio=None,
                    pts=[i * 512 for i in range(24)])
    res = process_video(src, tmp_path / "out.mkv", Recording(), EncodeOptions(bit_depth=10, crf=0, preset="ultrafast"),
                        tmp_path / "w", deflicker=True)
    assert probe(res.output).bit_depth == 10 and res.deflickered_frames > 12
    assert flicker_index(decoded(res.output)).L < 0.35 * flicker_index(noisy).L

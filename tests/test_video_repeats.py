"""Repeated frames (film transferred with doubled frames): the test itself, and the runner giving a
repeat its key frame's output without running the stage on it."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from oldfilm.options import EncodeOptions
from oldfilm.pipeline import Pipeline
from oldfilm.stage import StageBase
from oldfilm.video.probe import probe
from oldfilm.video.repeats import repeats, reuse_plan
from oldfilm.video.runner import process_video
from oldfilm.video.segments import plan_segments

from video_clips import decoded, lossless_clip, make_clip

H, W = 48, 64


def picture(i: int) -> np.ndarray:
    """A textured uint8 RGB frame; each i a different picture (the texture moves 3 px)."""
    rng = np.random.default_rng(0)
    tex = rng.integers(0, 256, (H, W + 64, 3), dtype=np.uint8)
    return np.ascontiguousarray(tex[:, 3 * i: 3 * i + W])


def jpeg_noise(rgb: np.ndarray, q: int) -> np.ndarray:
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, "JPEG", quality=q)
    return np.asarray(Image.open(b).convert("RGB"))


def test_repeats_accepts_codec_noise_and_refuses_any_change():
    rng = np.random.default_rng(1)
    base = (np.indices((96, 128)).sum(0)[..., None] % 200 + rng.integers(0, 6, (96, 128, 3))).astype(np.uint8)
    assert repeats(base, base.copy())
    assert repeats(jpeg_noise(base, 95), jpeg_noise(base, 94))     # one picture, encoded twice
    moved = base.copy()
    moved[40:46, 60:66] = 255                                      # a 6 px object appears
    assert not repeats(moved, base)
    grain = np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)
    assert not repeats(grain, base)                                # fresh grain: a new film frame
    assert not repeats(np.clip(base.astype(int) + 1, 0, 255).astype(np.uint8), base)   # a fade step
    assert not repeats(base[:-1], base)
    tiny = np.zeros((4, 4, 3), np.uint8)
    assert repeats(tiny, tiny.copy()) and not repeats(tiny + 50, tiny)


def test_reuse_plan_runs_new_pictures_and_maps_every_repeat_to_its_key():
    a, b = picture(0), picture(1)
    assert reuse_plan([a, a.copy(), b, b.copy(), a], None) == ([0, 2, 4], [0, 0, 1, 1, 2])
    assert reuse_plan([a, b], a.copy()) == ([1], [-1, 0])          # the key came from the last batch
    assert reuse_plan([a, a], a) == ([], [-1, -1])
    assert reuse_plan([], None) == ([], [])


class Marking:
    """A stage that records what it sees and stamps each output with its call number, so that an
    output can be traced to the frame that made it."""

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def __call__(self, frames):
        outs = []
        for f in frames:
            self.seen.append(f.copy())
            out = f.copy()
            out[:8, :8] = 20 * len(self.seen)     # survives the encoder's RGB -> YUV -> RGB
            f[:] = 0                      # a stage may edit its input in place
            outs.append(out)
        return outs


@pytest.mark.parametrize("batch_size", [1, 3, 4])
def test_doubled_frames_run_once_and_share_the_output(tmp_path, batch_size):
    frames = [picture(i // 2) for i in range(12)]                  # each picture twice
    src = lossless_clip(tmp_path / "doubled.mkv", frames)
    stage = Marking()
    res = process_video(src, tmp_path / "out.mkv", stage, EncodeOptions(codec="ffv1"), tmp_path / "w",
                        batch_size=batch_size)
    assert len(stage.seen) == 6 and res.repeated_frames == 6 and res.frames == 12
    assert all(np.array_equal(s, frames[2 * k]) for k, s in enumerate(stage.seen))
    out = decoded(res.output)
    for k in range(6):
        assert abs(out[2 * k][:8, :8].mean() - 20 * (k + 1)) < 3
        assert np.array_equal(out[2 * k + 1], out[2 * k])          # the repeat got its key's output

    stage = Marking()
    res = process_video(src, tmp_path / "every.mkv", stage, EncodeOptions(codec="ffv1"), tmp_path / "w2",
                        batch_size=batch_size, reuse_repeats=False)
    assert len(stage.seen) == 12 and res.repeated_frames == 0


def test_doubled_frames_of_an_h264_clip_are_found(tmp_path):
    frames = [picture(i // 2) for i in range(12)]
    src = make_clip(tmp_path / "doubled.mp4", frames=frames, audio=None, w=W, h=H, gop=12,
                    pts=[i * 512 for i in range(12)])
    stage = Marking()
    res = process_video(src, tmp_path / "out.mp4", stage, EncodeOptions(preset="ultrafast"), tmp_path / "w")
    assert len(stage.seen) == 6 and res.repeated_frames == 6


def test_repeats_are_judged_against_the_key_frame_so_a_slow_fade_still_runs(tmp_path):
    # Frame k has k tenths of its pixels one level up: 0.1 level from its predecessor, so a
    # test against the predecessor would freeze the whole fade on frame 0.
    base = picture(0) // 2
    order = np.random.default_rng(2).permutation(H * W)
    frames = []
    for k in range(12):
        bump = np.zeros(H * W, np.uint8)
        bump[order[: min(H * W, k * H * W // 10)]] = 1
        frames.append(base + bump.reshape(H, W, 1))
    stage = Marking()
    res = process_video(lossless_clip(tmp_path / "fade.mkv", frames), tmp_path / "o.mkv", stage,
                        EncodeOptions(codec="ffv1"), tmp_path / "w", batch_size=4)
    assert [int((s.astype(int) - base).mean() * 10 + 0.5) for s in stage.seen] == [0, 6]
    assert res.repeated_frames == 10


def test_each_segment_runs_its_first_frame_even_when_it_repeats(tmp_path):
    frames = [picture(i // 2) for i in range(12)]
    src = lossless_clip(tmp_path / "doubled.mkv", frames, gop=3)     # segments can start at frames 3 and 9
    tb = probe(src).time_base
    starts = {0} | {round(float(seg.start_pts * tb) * 24) for seg in plan_segments(src, tb, 0.1).segments[1:]}
    assert any(s % 2 for s in starts)                               # some segment starts on a repeat
    stage = Marking()
    res = process_video(src, tmp_path / "out.mkv", stage, EncodeOptions(codec="ffv1"), tmp_path / "w",
                        segment_seconds=0.1, batch_size=4)
    expected = sorted({i for i in range(12) if i % 2 == 0 or i in starts})
    assert len(stage.seen) == len(expected) and res.repeated_frames == 12 - len(expected)
    assert all(np.array_equal(s, frames[i]) for s, i in zip(stage.seen, expected))


class Counting(StageBase):
    name = "count"

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0

    def __call__(self, frames):
        self.frames += len(frames)
        return [f.copy() for f in frames]


def test_pipeline_reports_the_repeats_and_every_frame_runs_them_all(tmp_path):
    from oldfilm.cli import build_parser, options_from_args
    from oldfilm.jobs import discover, run_batch

    src = lossless_clip(tmp_path / "doubled.mkv", [picture(i // 2) for i in range(8)])
    stage = Counting()
    res = Pipeline(stages=[stage]).run_video(src, tmp_path / "a.mkv")
    assert stage.frames == 4 and res.frames == 8 and res.report["repeated_frames"] == 4
    out = io.StringIO()
    run_batch(discover([src]), Pipeline(stages=[Counting()]), progress=False, out=out, err=io.StringIO())
    assert "8 frames" in out.getvalue() and "4 repeated frames reused" in out.getvalue()

    opts = options_from_args(build_parser().parse_args(["restore", str(src), "--every-frame"]))
    assert opts.run.reuse_repeats is False
    stage = Counting()
    res = Pipeline(opts, stages=[stage]).run_video(src, tmp_path / "b.mkv")
    assert stage.frames == 8 and "repeated_frames" not in res.report


def test_info_reports_the_share_of_repeats_and_the_pictures_a_second(tmp_path):
    from oldfilm.video.info import describe, format_info

    doubled = describe(lossless_clip(tmp_path / "doubled.mkv", [picture(i // 2) for i in range(24)]))
    assert doubled["repeated_share"] == 0.5                        # 12 pictures in 24 frames
    assert "50% of sampled frames repeat the one before: about 12.0 pictures a second" in format_info(doubled)
    every = describe(lossless_clip(tmp_path / "every.mkv", [picture(i) for i in range(24)]))
    assert every["repeated_share"] == 0 and "repeats    none" in format_info(every)

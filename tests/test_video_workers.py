"""--workers N (video/workers.py): several processes on the segments of one video give the
frames one process gives, keep the books in the parent, resume, and fail with one error."""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from oldfilm.options import EncodeOptions
from oldfilm.pipeline import StageChain
from oldfilm.stage import IdentityStage, StageBase
from oldfilm.video.runner import process_video
from oldfilm.video.segments import plan_segments

from video_clips import TB, decoded, frame_pts, frame_seconds, make_clip, video_packets


class Brighten(StageBase):
    """A stage with a per-segment counter; importable, so spawned workers can build it."""

    name = "brighten"

    def __init__(self, fail_after: int | None = None):
        super().__init__()
        self.fail_after, self.seen, self.total = fail_after, 0, 0

    def __call__(self, frames):
        self.seen += len(frames)
        self.total += len(frames)       # over this worker's segments: never reset
        if self.fail_after is not None and self.total > self.fail_after:
            raise ValueError("stage broke in a worker")
        return [np.clip(f.astype(np.int16) + 20, 0, 255).astype(np.uint8) for f in frames]

    def report(self) -> dict:
        return {"brightened_frames": self.seen}

    def reset(self) -> None:
        self.seen = 0


def brighten_chain(fail_after: int | None = None) -> StageChain:
    """What Pipeline.chain gives, around Brighten: the runner resets it at each segment and a
    worker sends its job_report (counters summed over its segments)."""
    return StageChain([Brighten(fail_after)])


def clip(tmp_path: Path) -> Path:
    pts = [i * 512 for i in range(36)]            # 1.5 s at 24 fps, a keyframe every 6 frames
    return make_clip(tmp_path / "in.mp4", pts=pts, gop=6)


def run(src, tmp_path, name, workers, factory=brighten_chain, **kw):
    return process_video(src, tmp_path / name, factory(), EncodeOptions(codec="ffv1"),
                         tmp_path / f".{name}.oldfilm", segment_seconds=0.25, workers=workers,
                         stage_factory=factory, **kw)


def test_two_workers_give_the_frames_of_one_process(tmp_path):
    src = clip(tmp_path)
    assert len(plan_segments(src, TB, 0.25).segments) == 6
    progress = []
    one = run(src, tmp_path, "one.mkv", 1)
    two = run(src, tmp_path, "two.mkv", 2, on_progress=lambda d, t: progress.append((d, t)))
    assert two.frames == one.frames == 36
    assert frame_pts(two.output) == frame_pts(one.output)
    assert np.allclose(np.diff(frame_seconds(two.output)), np.diff(frame_seconds(src)), atol=1.5e-3)
    assert all(np.array_equal(a, b) for a, b in zip(decoded(one.output), decoded(two.output)))
    assert [b for *_, b in video_packets(two.output, "audio")] == [b for *_, b in video_packets(src, "audio")]
    # The stage reports come back from the workers (one process reports through its own stage).
    assert sum(r.get("brightened_frames", 0) for r in two.stage_reports) == 36 and len(two.stage_reports) == 2
    assert progress[-1] == (36, 36) and [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert not (tmp_path / ".two.mkv.oldfilm").exists()


def test_a_worker_error_stops_the_run_and_the_finished_segments_resume(tmp_path):
    src = clip(tmp_path)
    with pytest.raises(ValueError, match="stage broke in a worker"):
        run(src, tmp_path, "out.mkv", 2, factory=partial(brighten_chain, fail_after=10))
    work = tmp_path / ".out.mkv.oldfilm"
    state = json.loads((work / "state.json").read_text())
    assert state["done"]            # each worker finished its first segments (6 frames) before breaking
    res = run(src, tmp_path, "out.mkv", 2)
    assert res.resumed_segments >= len(state["done"]) and res.frames == 36
    ref = run(src, tmp_path, "ref.mkv", 1)
    assert all(np.array_equal(a, b) for a, b in zip(decoded(ref.output), decoded(res.output)))


def test_more_workers_than_segments_and_no_factory(tmp_path):
    src = make_clip(tmp_path / "short.mp4")            # one segment at the default length
    res = process_video(src, tmp_path / "a.mkv", IdentityStage(), EncodeOptions(codec="ffv1"),
                        tmp_path / ".a", workers=4, stage_factory=IdentityStage)
    assert res.stage_reports == [] and res.frames == len(frame_pts(src))     # one segment: in process
    res = process_video(src, tmp_path / "b.mkv", IdentityStage(), EncodeOptions(codec="ffv1"),
                        tmp_path / ".b", workers=4, segment_seconds=0.2)
    assert res.stage_reports == []                                             # no factory: in process


def test_pipeline_with_workers_runs_the_bundled_models_in_them(tmp_path):
    """`oldfilm restore --workers 2`: the workers build the job's own stages (restorer, scratch
    detector) from its options; the report's counters add up over them."""
    from oldfilm.options import FaceOptions, PipelineOptions, RunOptions
    from oldfilm.pipeline import Pipeline

    src = clip(tmp_path)
    results = {}
    for n in (1, 2):
        opts = PipelineOptions(faces=FaceOptions(enabled=False), run=RunOptions(threads=2, workers=n),
                               encode=EncodeOptions(codec="ffv1"))
        results[n] = Pipeline(opts).run_video(src, tmp_path / f"w{n}.mkv", segment_seconds=0.25)
    one, two = results[1], results[2]
    assert two.frames == one.frames == 36 and two.stages == one.stages
    counters = {k: v for k, v in one.report.items() if isinstance(v, int) and not isinstance(v, bool)}
    assert counters and {k: two.report.get(k) for k in counters} == counters
    assert all(np.array_equal(a, b) for a, b in zip(decoded(one.output), decoded(two.output)))


def test_errors_cross_the_process_boundary_whole():
    """A worker's one-line error reaches the parent as itself (its type sets the exit code)."""
    from oldfilm.errors import BadInputError, OutputBusy
    from oldfilm.video.workers import _portable

    for e in (BadInputError(Path("/r/reel.mp4"), "decode error after frame 9"), OutputBusy(Path("/o.mp4"), "42"),
              ValueError("plain")):
        got = _portable(e)
        assert type(got) is type(e) and str(got) == str(e)

    class Local(Exception):        # not importable in another process: its text comes instead
        pass

    got = _portable(Local("odd"))
    assert isinstance(got, RuntimeError) and "Local: odd" in str(got)


def test_workers_flag(tmp_path):
    import subprocess
    import sys

    from oldfilm.errors import OldfilmError
    from oldfilm.options import PipelineOptions, RunOptions
    from oldfilm.pipeline import Pipeline

    r = subprocess.run([sys.executable, "-m", "oldfilm.cli", "restore", str(tmp_path), "--workers", "0"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--workers" in r.stderr
    with pytest.raises(OldfilmError, match="--workers 0"):
        Pipeline(PipelineOptions(run=RunOptions(workers=0)))
    # Threads are split: 2 workers of a 2-thread run get 1 each, and build 1-worker pipelines.
    n, opts = Pipeline(PipelineOptions(run=RunOptions(threads=2, workers=2))).worker_setup()
    assert n == 2 and (opts.run.threads, opts.run.workers) == (1, 1)

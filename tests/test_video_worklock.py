"""One run per video output: a second run on the same output is told so and skips it, instead of
writing the same segment files (or discarding the first run's segments as stale)."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from oldfilm.errors import OutputBusy
from oldfilm.jobs import discover, run_batch
from oldfilm.pipeline import Pipeline
from oldfilm.stage import IdentityStage
from oldfilm.video.worklock import LOCK_NAME, work_lock

from video_clips import decoded, make_clip


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    out = tmp_path / "o.mp4"
    with work_lock(tmp_path, out):
        with pytest.raises(OutputBusy) as e:
            with work_lock(tmp_path, out):
                pass
        assert str(os.getpid()) in str(e.value) and str(out) in str(e.value)
    with work_lock(tmp_path, out):      # released: free again
        pass


def test_a_busy_video_is_skipped_and_done_once_the_other_run_ends(tmp_path):
    clip = make_clip(tmp_path / "c.mp4", audio="aac")
    work = tmp_path / ".c_restored.mp4.oldfilm"
    work.mkdir()
    # The other run: a process holding the lock (an OS lock: it goes with its process).
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(work / LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, str(os.getpid()).encode())\n"
        "print('held', flush=True); time.sleep(60)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        out = io.StringIO()
        pipe = Pipeline(stages=[IdentityStage()])
        summary = run_batch(discover([str(clip)], suffix="_restored"), pipe, out=out, err=out)
        rec = summary.records[0]
        assert rec.status == "skipped" and rec.reason == f"another oldfilm run (pid {holder.pid}) is making it now"
        assert f"skipped: another oldfilm run (pid {holder.pid}) is making it now" in out.getvalue()
        assert summary.failed == 0 and not (tmp_path / "c_restored.mp4").exists() and work.is_dir()
    finally:
        holder.kill()      # as a crash would: no stale lock is left
        holder.wait()
        holder.stdout.close()
    summary = run_batch(discover([str(clip)], suffix="_restored"), Pipeline(stages=[IdentityStage()]),
                        out=io.StringIO(), err=io.StringIO())
    assert summary.records[0].status == "done" and not work.exists()
    got, want = decoded(tmp_path / "c_restored.mp4"), decoded(clip)
    assert len(got) == len(want) and max(np.abs(a.astype(int) - b).mean() for a, b in zip(got, want)) < 4

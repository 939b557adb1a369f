"""--workers N on a batch of photos (photo_workers.py): the records and outputs of one process,
in the batch's order, a bad file one failed line, and videos still in the parent."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from oldfilm.jobs import discover, run_batch
from oldfilm.options import FaceOptions, PipelineOptions, RunOptions
from oldfilm.pipeline import Pipeline

from video_clips import make_clip


def _photo(path: Path, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    base = np.kron(rng.integers(40, 220, (6, 8, 1)), np.ones((8, 8, 3)))      # gray blocks, 48x64
    Image.fromarray(np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)).save(path)
    return path


def _batch(root: Path, workers: int, out: Path):
    opts = PipelineOptions(faces=FaceOptions(enabled=False), run=RunOptions(threads=2, workers=workers))
    jobs = discover([root], output_dir=out)
    lines = io.StringIO()
    summary = run_batch(jobs, Pipeline(opts), progress=False, out=lines, err=lines)
    return summary, lines.getvalue()


def test_photos_in_two_processes_give_the_records_of_one(tmp_path):
    root = tmp_path / "box"
    root.mkdir()
    for i in range(5):
        _photo(root / f"p{i}.png", i)
    (root / "p2b_broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    make_clip(root / "reel.mp4", audio=None)                 # a video between the photos: the parent's
    _photo(root / "q.png", 9)
    one, text_one = _batch(root, 1, tmp_path / "one")
    two, text_two = _batch(root, 2, tmp_path / "two")
    rec1, rec2 = one.records, two.records
    assert [r.input for r in rec2] == [r.input for r in rec1]                  # the batch's order
    assert [r.status for r in rec2] == [r.status for r in rec1]
    assert sorted(r.status for r in rec2) == ["done"] * 7 + ["failed"]
    bad = [r for r in rec2 if r.status == "failed"][0]
    assert "p2b_broken.jpg" in bad.error and "\n" not in bad.error and bad.error in text_two
    for r1, r2 in zip(rec1, rec2):
        if r1.status == "done" and r1.output.endswith(".png"):
            a = np.asarray(Image.open(r1.output), np.int16)
            b = np.asarray(Image.open(r2.output), np.int16)
            assert a.shape == b.shape and np.abs(a - b).mean() < 1.0        # 1 or 2 threads: rounding
    # Finished outputs are skipped by the next run, in the workers as in the parent.
    again, _ = _batch(root, 2, tmp_path / "two")
    assert {r.status for r in again.records} == {"skipped", "failed"}

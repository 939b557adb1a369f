"""Job discovery, output naming, input protection and atomic writes (no torch, no stages)."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oldfilm.errors import BadInputError, OutputError
from oldfilm.jobs import atomic_output, discover, output_path, temp_path, video_work_dir


def _png(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = np.random.default_rng(seed).integers(0, 256, (8, 12, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def _touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _rel(jobs, base: Path) -> list[tuple[str, str]]:
    return [(str(j.src.relative_to(base)), str(j.dst.relative_to(base))) for j in jobs if j.error is None]


def test_folder_walk_is_recursive_and_skips_hidden_own_outputs_and_non_media(tmp_path):
    root = tmp_path / "reels"
    _png(root / "a.png")
    _touch(root / "sub" / "deep" / "clip.mp4")
    _png(root / ".ipynb_checkpoints" / "a-checkpoint.png")
    _png(root / ".hidden.png")
    _png(root / "a_restored.png")
    _png(root / "a_colorized.png")
    _png(root / "a_compare.png")
    _touch(root / ".clip_restored.mp4.oldfilm" / "seg0000.mkv")      # a video work dir
    _touch(root / ".b.oldfilm-tmp-123.png")                         # a temp file
    _touch(root / "notes.txt")
    _png(root / "UPPER.JPG")
    jobs = discover([root])
    assert _rel(jobs, tmp_path) == [
        ("reels/UPPER.JPG", "reels/UPPER_restored.JPG"),
        ("reels/a.png", "reels/a_restored.png"),
        ("reels/sub/deep/clip.mp4", "reels/sub/deep/clip_restored.mp4"),
    ]
    assert [j.kind for j in jobs] == ["photo", "photo", "video"]
    assert all(j.error is None for j in jobs)


def test_output_dir_mirrors_the_tree_below_each_input_argument(tmp_path):
    _png(tmp_path / "in1" / "x" / "p.png")
    _png(tmp_path / "in2" / "q.jpg")
    single = _png(tmp_path / "elsewhere" / "single.png")
    out = tmp_path / "out"
    jobs = discover([tmp_path / "in1", tmp_path / "in2", single], output_dir=out, suffix="_colorized")
    assert [str(j.dst.relative_to(out)) for j in jobs] == ["x/p_colorized.png", "q_colorized.jpg", "single_colorized.png"]


def test_explicit_non_media_file_is_a_job_that_the_reader_rejects(tmp_path):
    f = _touch(tmp_path / "notes.txt", b"hello")
    (job,) = discover([f])
    assert job.error is None and job.kind == "video"      # unknown extension: probing decides


def test_missing_path_and_broken_link_are_one_line_errors(tmp_path):
    link = tmp_path / "dangling.png"
    link.symlink_to(tmp_path / "gone.png")
    jobs = discover([tmp_path / "nope.png", link])
    assert [type(j.error) for j in jobs] == [BadInputError, BadInputError]
    assert "no such file" in str(jobs[0].error) and "nope.png" in str(jobs[0].error)
    assert "broken link" in str(jobs[1].error)


def test_unreadable_folder_is_reported_and_the_rest_is_found(tmp_path, monkeypatch):
    good = _png(tmp_path / "top" / "ok.png")
    locked = tmp_path / "top" / "locked"
    _png(locked / "secret.png")
    real_scandir = os.scandir

    def scandir(path="."):
        if isinstance(path, (str, os.PathLike)) and Path(path) == locked:   # rmtree passes fds too
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    jobs = discover([tmp_path / "top"])
    errors = [j for j in jobs if j.error is not None]
    assert [j.src for j in jobs if j.error is None] == [good]
    assert len(errors) == 1 and "cannot read folder" in str(errors[0].error)
    assert str(locked) in str(errors[0].error)


def test_output_equal_to_input_is_refused(tmp_path):
    a = _png(tmp_path / "a.png")
    (job,) = discover([a], suffix="")
    assert isinstance(job.error, OutputError) and "overwrite an input" in str(job.error)


def test_output_that_is_another_input_is_refused(tmp_path):
    a = _png(tmp_path / "a.png")
    b = _png(tmp_path / "a_restored.png", seed=1)
    ja, jb = discover([a, b])
    assert isinstance(ja.error, OutputError) and str(b) in str(ja.error)
    assert jb.error is None and jb.dst.name == "a_restored_restored.png"


def test_output_that_links_to_the_input_is_refused(tmp_path):
    a = _png(tmp_path / "a.png")
    os.link(a, tmp_path / "a_restored.png")         # a hard link: same file, other name
    (job,) = discover([a])
    assert isinstance(job.error, OutputError) and "input file itself" in str(job.error)


def test_two_inputs_with_the_same_output_are_refused(tmp_path):
    _png(tmp_path / "d1" / "p.png")
    _png(tmp_path / "d2" / "p.png")
    j1, j2 = discover([tmp_path / "d1", tmp_path / "d2"], output_dir=tmp_path / "out")
    assert j1.error is None
    assert isinstance(j2.error, OutputError) and "also the output of" in str(j2.error)


def test_the_same_file_named_twice_is_one_job(tmp_path):
    a = _png(tmp_path / "a.png")
    assert len(discover([a, tmp_path, a])) == 1


def test_video_existing_output_includes_mkv_fallback(tmp_path):
    clip = _touch(tmp_path / "c.mp4")
    (job,) = discover([clip])
    assert job.existing_output() is None
    _touch(tmp_path / "c_restored.mkv")
    assert job.existing_output() == tmp_path / "c_restored.mkv"
    assert video_work_dir(job.dst) == tmp_path / ".c_restored.mp4.oldfilm"


def test_output_path_naming():
    assert output_path(Path("/x/y/film.MOV"), None, "_restored", None) == Path("/x/y/film_restored.MOV")
    assert output_path(Path("/x/y/z/p.tif"), Path("/x"), "_restored", Path("/o")) == Path("/o/y/z/p_restored.tif")


def test_atomic_output_renames_only_when_complete(tmp_path):
    dst = tmp_path / "sub" / "out.png"
    with atomic_output(dst) as tmp:
        assert tmp.parent == dst.parent and tmp.suffix == ".png" and tmp.name.startswith(".")
        tmp.write_bytes(b"complete")
        assert not dst.exists()
    assert dst.read_bytes() == b"complete"
    assert list(dst.parent.iterdir()) == [dst]


def test_atomic_output_failure_leaves_old_output_and_no_temp(tmp_path):
    dst = _touch(tmp_path / "out.png", b"old")
    with pytest.raises(RuntimeError):
        with atomic_output(dst) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("stage crashed")
    assert dst.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    dst = tmp_path / "out.png"

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError) as ei:
        with atomic_output(dst) as tmp:
            tmp.write_bytes(b"data")
    assert "disk full" in str(ei.value) and str(dst) in str(ei.value)
    assert "\n" not in str(ei.value)
    assert list(tmp_path.iterdir()) == []


def test_writer_error_on_temp_names_the_real_output(tmp_path):
    dst = tmp_path / "out.png"
    with pytest.raises(OutputError) as ei:
        with atomic_output(dst) as tmp:
            raise OutputError(tmp, "disk full")
    assert str(ei.value) == f"{dst}: disk full"
    assert temp_path(dst).name.startswith(".out.oldfilm-tmp-")


def test_output_folder_that_cannot_be_made_is_one_line(tmp_path):
    blocker = _touch(tmp_path / "out")                    # a file where the output folder should go
    with pytest.raises(OutputError) as ei:
        with atomic_output(blocker / "a.png"):
            pass
    assert str(ei.value).startswith(f"{blocker}: cannot create the output folder")

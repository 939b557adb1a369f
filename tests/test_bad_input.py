"""Every kind of bad input in one batch: one line each, non-zero exit, the rest of the batch done."""
from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

import oldfilm.pipeline as pipeline_mod
from oldfilm.cli import main
from oldfilm.stage import IdentityStage

from test_pipeline import make_clip


@pytest.fixture(autouse=True)
def identity(monkeypatch):
    monkeypatch.setattr(pipeline_mod, "build_stages", lambda options, is_video: [IdentityStage()])


def _photo(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (8, 10, 3), dtype=np.uint8)).save(path)
    return path


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        a = out.add_stream("aac", rate=16000, layout="mono")
        for start in range(0, 8000, 1024):
            fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            fr.sample_rate = 16000
            for pkt in a.encode(fr):
                out.mux(pkt)
        for pkt in a.encode():
            out.mux(pkt)
    return path


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    return make_clip(tmp_path_factory.mktemp("clip") / "c.mp4", frames=8).read_bytes()


def _fail_for(monkeypatch, func_name: str, marker: str, wrap_path) -> None:
    """Make os.<func_name> raise ENOSPC when the file it touches has ``marker`` in its name."""
    real = getattr(os, func_name)

    def fake(*args, **kwargs):
        if marker in str(wrap_path(*args)):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(os, func_name, fake)


def test_every_bad_input_is_one_line_and_the_batch_completes(tmp_path, clip_bytes, monkeypatch, capsys):
    d = tmp_path / "batch"
    d.mkdir()
    good_photo = _photo(d / "a_good.png")
    (d / "b_good.mp4").write_bytes(clip_bytes)
    bad = {
        "c_zero.jpg": b"",
        "d_zero.mp4": b"",
        "e_truncated.mp4": clip_bytes[: len(clip_bytes) // 2],
        "f_notmedia.mp4": b"this is a text file, not a video\n" * 10,
        "g_notmedia.png": b"not a png either",
        "h_codec.mp4": clip_bytes.replace(b"avc1", b"zzzz"),      # a codec FFmpeg has no decoder for
    }
    for name, data in bad.items():
        (d / name).write_bytes(data)
    _audio_only(d / "i_audio_only.mp4")
    _photo(d / "locked" / "j_inside.png")
    _photo(d / "k_full_disk.png")                           # ENOSPC while writing the photo
    (d / "l_full_disk.mp4").write_bytes(clip_bytes)         # ENOSPC while placing the video
    same = _photo(d / "m_same.png")
    named_twice = _photo(d / "m_same_restored.png", 1)      # the output of m_same.png is an input
    other = tmp_path / "n_missing.png"                      # does not exist

    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda p=".": _locked(p, d / "locked", real_scandir))
    _fail_for(monkeypatch, "fsync", "k_full_disk", lambda fd: os.readlink(f"/proc/self/fd/{fd}"))
    _fail_for(monkeypatch, "replace", "l_full_disk", lambda src, dst: str(dst))

    code = main(["restore", str(d), str(named_twice), str(other), "--json", "-q", "--segment-seconds", "0.2"])
    cap = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in cap.err
    recs = {Path(r["input"]).name: r for r in map(json.loads, cap.out.splitlines())}
    errors = [ln for ln in cap.err.splitlines() if ln.startswith("error: ")]
    failed = {n for n, r in recs.items() if r["status"] == "failed"}
    assert failed == {*bad, "i_audio_only.mp4", "locked", "k_full_disk.png", "l_full_disk.mp4", "m_same.png",
                      "n_missing.png"}, cap.err
    assert len(errors) == len(failed)                       # one line per failure, nothing else
    for name in failed:
        assert any(name in ln for ln in errors), name
    why = {n: recs[n]["error"] for n in failed}
    assert "empty" in why["c_zero.jpg"] and "empty" in why["d_zero.mp4"]
    assert "truncated" in why["e_truncated.mp4"] or "FFmpeg" in why["e_truncated.mp4"]
    assert "not a media file" in why["f_notmedia.mp4"]
    assert "unsupported" in why["h_codec.mp4"]
    assert "no video stream" in why["i_audio_only.mp4"]
    assert "cannot read folder" in why["locked"]
    assert "disk full" in why["k_full_disk.png"] and "disk full" in why["l_full_disk.mp4"]
    assert "overwrite an input" in why["m_same.png"]
    assert "no such file" in why["n_missing.png"]
    assert cap.err.strip().splitlines()[-1] == "3 done, 0 skipped, 12 failed"
    # The good ones are done, the inputs are untouched and nothing half-written is left.
    assert np.array_equal(np.asarray(Image.open(d / "a_good_restored.png")), np.asarray(Image.open(good_photo)))
    with av.open(str(d / "b_good_restored.mp4")) as c:
        assert c.streams.video[0].frames == 8 or sum(1 for _ in c.decode(video=0)) == 8
    assert (d / "m_same_restored_restored.png").is_file()
    assert same.is_file() and (d / "m_same_restored.png").read_bytes() == named_twice.read_bytes()
    assert not (d / "k_full_disk_restored.png").exists() and not (d / "l_full_disk_restored.mp4").exists()
    leftovers = [p.name for p in d.iterdir() if p.name.startswith(".") and "oldfilm-tmp" in p.name]
    assert leftovers == []


def _locked(path, locked: Path, real_scandir):
    if isinstance(path, (str, os.PathLike)) and Path(path) == locked:   # rmtree passes fds too
        raise PermissionError(errno.EACCES, "Permission denied", str(path))
    return real_scandir(path)


def test_truncated_faststart_video_is_one_line(tmp_path, clip_bytes, capsys):
    """moov at the front, frames cut off: the container opens but the frames are not there."""
    src = tmp_path / "full.mp4"
    src.write_bytes(clip_bytes)
    fast = tmp_path / "fast.mp4"
    with av.open(str(src)) as i, av.open(str(fast), "w", options={"movflags": "faststart"}) as o:
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for pkt in i.demux():
            if pkt.dts is not None:
                pkt.stream = streams[pkt.stream.index]
                o.mux(pkt)
    data = fast.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    src.unlink()
    fast.unlink()
    assert main(["restore", str(cut), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {cut}") and "Traceback" not in err[0], err
    assert "truncated" in err[0]
    assert not (tmp_path / "cut_restored.mp4").exists()

"""probe()/is_video() on generated clips, and the one-line BadInputError cases."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from oldfilm.errors import BadInputError
from oldfilm.video.probe import is_video, probe
from oldfilm.video.segments import plan_segments

from video_clips import TB, VFR_PTS, make_clip


def test_probe_fields(tmp_path):
    src = make_clip(tmp_path / "in.mp4", w=64, h=48)
    info = probe(src)
    assert (info.width, info.height, info.rotation) == (64, 48, 0)
    assert info.time_base == TB and info.frame_count == len(VFR_PTS) and info.frame_count_exact
    assert info.pix_fmt == "yuv420p" and info.bit_depth == 8 and info.interlaced is False
    assert [s.type for s in info.streams] == ["video", "audio"]
    assert info.streams[1].codec == "aac" and "48000 Hz" in info.streams[1].detail
    assert abs(info.duration - float((VFR_PTS[-1] + 512) * TB)) < 0.01


def test_probe_rotated_reports_display_size(tmp_path):
    info = probe(make_clip(tmp_path / "r.mov", w=64, h=48, rotation=270, audio=None))
    assert info.rotation == 270 and (info.width, info.height) == (48, 64)
    assert (info.coded_width, info.coded_height) == (64, 48)


def test_is_video(tmp_path):
    assert is_video(make_clip(tmp_path / "a.mkv", audio=None))
    odd = tmp_path / "clip.bin"
    odd.write_bytes((tmp_path / "a.mkv").read_bytes())
    assert is_video(odd)                                     # sniffed, not by extension
    png = tmp_path / "p.png"
    from PIL import Image
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(png)
    assert not is_video(png)
    txt = tmp_path / "notes.txt"
    txt.write_text("hello")
    assert not is_video(txt)


def _one_line(e: BadInputError, path: Path) -> str:
    msg = str(e)
    assert msg.startswith(str(path)) and "\n" not in msg
    return msg


def test_zero_byte(tmp_path):
    p = tmp_path / "empty.mp4"
    p.write_bytes(b"")
    with pytest.raises(BadInputError) as e:
        probe(p)
    assert "0 bytes" in _one_line(e.value, p)


def test_non_media(tmp_path):
    p = tmp_path / "fake.mp4"
    p.write_bytes(b"this is not a video at all\n" * 100)
    with pytest.raises(BadInputError) as e:
        probe(p)
    assert "not a media file" in _one_line(e.value, p)


def test_no_video_stream(tmp_path):
    p = tmp_path / "sound.m4a"
    with av.open(str(p), "w") as c:
        a = c.add_stream("aac", rate=48000)
        a.layout = "mono"
        for k in range(0, 48000, 1024):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts, f.time_base = 48000, k, Fraction(1, 48000)
            c.mux(a.encode(f))
        c.mux(a.encode(None))
    with pytest.raises(BadInputError) as e:
        probe(p)
    assert "no video stream" in _one_line(e.value, p)


def test_truncated_mp4_is_bad_input(tmp_path):
    src = make_clip(tmp_path / "in.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[:300])
    with pytest.raises(BadInputError) as e:
        probe(cut)
    _one_line(e.value, cut)


def test_unsupported_codec(tmp_path):
    """An AVI whose video FourCC no FFmpeg decoder knows: demuxable, not decodable."""
    avi = make_clip(tmp_path / "v.avi", audio=None)
    data = avi.read_bytes()
    assert b"H264" in data
    p = tmp_path / "weird.avi"
    p.write_bytes(data.replace(b"H264", b"QQ9Z"))
    with pytest.raises(BadInputError) as e:
        probe(p)
    assert "unsupported video codec" in _one_line(e.value, p)


def test_segment_plan_cuts_at_keyframes(tmp_path):
    src = make_clip(tmp_path / "in.mp4", gop=6)
    plan = plan_segments(src, TB, 0.4)
    with av.open(str(src)) as c:
        keys = {p.pts for p in c.demux(video=0) if p.size and p.is_keyframe}
    assert len(plan.segments) >= 2
    assert all(s.start_pts in keys for s in plan.segments[1:])
    assert sum(s.frames for s in plan.segments) == plan.frame_count == len(VFR_PTS)
    assert all(plan.index_of(p) == i for i, s in enumerate(plan.segments)
               for p in VFR_PTS if (s.start_pts is None or p >= s.start_pts)
               and (s.end_pts is None or p < s.end_pts))
    assert len(plan_segments(src, TB, 30.0).segments) == 1

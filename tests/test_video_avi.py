"""AVI, the container of capture cards, DV and DivX home video: it stores no presentation times,
only a sequence in decoding order, and marks a dropped frame with an empty index entry."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from oldfilm.options import EncodeOptions
from oldfilm.stage import IdentityStage
from oldfilm.video.encode import encoder_options
from oldfilm.video.probe import probe
from oldfilm.video.runner import process_video

from video_clips import decoded, make_clip, pattern, video_packets

TB = Fraction(1, 24)


def _run(src: Path, tmp_path: Path, name: str):
    dst = tmp_path / name
    # veryfast: the fastest x264 preset that still uses B-frames (ultrafast has none)
    res = process_video(src, dst, IdentityStage(), EncodeOptions(preset="veryfast"), tmp_path / f".{name}.oldfilm")
    return res, dst


def _capture(path: Path, slots: list[int], w: int = 64, h: int = 48) -> Path:
    """An MJPEG + PCM AVI at 24 fps with a picture in each of ``slots`` (a gap: a dropped frame)."""
    with av.open(str(path), "w", format="avi") as c:
        vs = c.add_stream("mjpeg", rate=24)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuvj420p"
        vs.codec_context.time_base = TB
        a = c.add_stream("pcm_s16le", rate=48000, layout="mono")
        for i, t in enumerate(slots):
            f = av.VideoFrame.from_ndarray(pattern(i, w, h), format="rgb24")
            f.pts, f.time_base = t, TB
            c.mux(vs.encode(f))
        c.mux(vs.encode(None))
        n = 48000 * (slots[-1] + 1) // 24
        samples = (np.sin(np.arange(n) / 10.0) * 8000).astype(np.int16)[None, :]
        af = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        af.sample_rate, af.pts, af.time_base = 48000, 0, Fraction(1, 48000)
        c.mux(a.encode(af))
        c.mux(a.encode(None))
    return path


def _decode_order_times(path: Path) -> list[int]:
    """What an AVI stores per picture: its slot in the sequence (dts)."""
    with av.open(str(path)) as c:
        return [p.dts for p in c.demux(c.streams.video[0]) if p.size]


def _slots(path: Path) -> list[int]:
    """Stored picture times in frames at 24 fps (AVI: slots; ASF: milliseconds)."""
    with av.open(str(path)) as c:
        tb = c.streams.video[0].time_base
    return [round(float(t * tb) * 24) for t in _decode_order_times(path)]


def test_dropped_frames_are_not_truncation_and_keep_their_slots(tmp_path):
    """An AVI whose index lists 25 slots, one of them a dropped frame (no data): it used to fail
    as 'truncated: only 24 of 25 frames'. The 24 pictures keep their slots, the sound its length."""
    slots = [0, 1, 2, 4, *range(5, 26)]                      # slot 3 dropped: the picture before shows twice
    src = _capture(tmp_path / "capture.avi", slots)
    info = probe(src)
    assert info.frame_count_exact and info.frame_count == 26 and len(_decode_order_times(src)) == 25
    res, dst = _run(src, tmp_path, "capture.avi")
    assert res.frames == 25
    assert _decode_order_times(dst) == slots
    a_in, a_out = video_packets(src, "audio"), video_packets(dst, "audio")
    assert [p[2] for p in a_out] == [p[2] for p in a_in]


@pytest.mark.parametrize("name", ["dv.avi", "dv.wmv"])
def test_h264_in_avi_and_wmv_has_no_b_frames(tmp_path, name):
    """Reordered pictures in AVI or ASF come back with wrong, non-monotonic timestamps; without
    B-frames every picture's stored time is its display time."""
    src = _capture(tmp_path / "in.avi", list(range(30)))
    _, dst = _run(src, tmp_path, name)
    assert dst.exists()
    with av.open(str(dst)) as c:
        v = c.streams.video[0]
        assert v.codec_context.name == "h264"
        tb = v.time_base
        shown = [f.pts for f in c.decode(v)]
    assert shown == sorted(shown) and len(shown) == 30
    assert [round(float(t * tb) * 24) for t in _decode_order_times(dst)] == list(range(30))


def test_encoder_options_follow_reorder():
    assert "bf" not in encoder_options(EncodeOptions(), odd=False)
    assert encoder_options(EncodeOptions(reorder=False), odd=False)["bf"] == "0"
    assert "bframes=0" in encoder_options(EncodeOptions(codec="h265", reorder=False), odd=False)["x265-params"]


def test_mp4_output_keeps_b_frames(tmp_path):
    """Only AVI loses them: an MP4 (presentation times stored) is encoded as before."""
    src = make_clip(tmp_path / "in.mp4", pts=[i * 512 for i in range(24)], tb=Fraction(1, 12288), w=64, h=48)
    _, dst = _run(src, tmp_path, "out.mp4")
    with av.open(str(dst)) as c:
        packets = [(p.pts, p.dts) for p in c.demux(c.streams.video[0]) if p.size]
    assert any(p != d for p, d in packets)          # some picture decoded before it is shown


@pytest.mark.parametrize("ext", ["avi", "wmv"])
def test_h264_avi_keeps_its_slots_through_a_run(tmp_path, ext):
    """An H.264 AVI with B-frames (as FFmpeg writes them): FFmpeg reads its pictures one slot
    late (it guesses pts), so taking those times shifted the output a frame later than its sound
    on every pass. The slots (dts) are the times: the output holds the same ones, segment by segment."""
    src = make_clip(tmp_path / f"in.{ext}", audio="mp2", pts=list(range(24)), tb=TB)   # bf 2
    with av.open(str(src)) as c:
        assert any(p.pts != p.dts for p in c.demux(c.streams.video[0]) if p.size)   # reordered
    res, _ = _run(src, tmp_path, f"out.{ext}")
    assert res.frames == 24
    assert _slots(res.output) == _slots(src) == list(range(24))
    dst = tmp_path / f"seg.{ext}"
    process_video(src, dst, IdentityStage(), EncodeOptions(preset="veryfast"), tmp_path / ".seg.oldfilm",
                  segment_seconds=0.2)
    assert _slots(dst) == list(range(24))
    src_frames = decoded(src)
    for k, f in enumerate(decoded(dst)):     # each picture in its own slot, none lost or doubled at a cut
        diffs = [np.abs(f.astype(int) - g.astype(int)).mean() for g in src_frames]
        assert int(np.argmin(diffs)) == k


def test_trial_of_an_h264_avi_starts_at_the_asked_keyframe(tmp_path):
    """--trial on an H.264 AVI: the keyframe at 1 s is found by its slot (its guessed pts lies one
    slot later, which made the cut step back to the start of the file)."""
    from oldfilm.video.excerpt import Span, cut_excerpt

    src = make_clip(tmp_path / "in.avi", audio="mp2", pts=list(range(72)), tb=TB, gop=12)
    start, seconds = cut_excerpt(src, tmp_path / "e.avi", Span(1.0, 1.0))
    assert (start, seconds) == (1.0, 1.0)
    assert _decode_order_times(tmp_path / "e.avi") == list(range(24))

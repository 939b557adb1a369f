"""process_video on tiny generated clips: timestamps, audio bytes, containers, sizes, rotation,
10-bit, interlace, resume, error propagation."""
from __future__ import annotations

import hashlib
import json
import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from oldfilm.errors import BadInputError, OutputError
from oldfilm.options import EncodeOptions
from oldfilm.stage import IdentityStage
from oldfilm.video.probe import probe
from oldfilm.video.runner import process_video
from oldfilm.video.segments import plan_segments

from video_clips import TB, VFR_PTS, frame_pts, make_clip, pattern, video_packets


def identity(frames):
    return [f.copy() for f in frames]


def audio_digest(path: Path) -> list[tuple]:
    return [(pts, dts, hashlib.sha256(b).hexdigest()) for pts, dts, b in video_packets(path, "audio")]


def run(src: Path, tmp_path: Path, name: str, stage=identity, **kw):
    dst = tmp_path / name
    work = tmp_path / f".{name}.oldfilm"
    enc = kw.pop("encode", EncodeOptions(preset="ultrafast"))
    return process_video(src, dst, stage, enc, work, **kw), work


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.mark.parametrize("ext", ["mp4", "mkv", "mov"])
def test_vfr_aac_frames_pts_audio_and_duration_kept(tmp_path, ext):
    src = make_clip(tmp_path / f"in.{ext}")
    res, work = run(src, tmp_path, f"out.{ext}", segment_seconds=0.4)
    assert res.output == tmp_path / f"out.{ext}" and not res.container_changed
    assert res.frames == len(VFR_PTS) and not work.exists()
    assert frame_pts(res.output) == frame_pts(src)              # every pts, so VFR and count kept
    assert audio_digest(res.output) == audio_digest(src)        # audio bytes and timestamps untouched
    a, b = probe(src), probe(res.output)
    # Exact in mp4/mov; Matroska's muxer rounds the AAC-priming shift, so allow half a frame.
    assert abs(a.duration - b.duration) < 0.02 and (b.width, b.height) == (64, 48)
    # Identity stage: only the lossy re-encode differs.
    for x, y in zip(decoded(src), decoded(res.output)):
        assert np.abs(x.astype(int) - y.astype(int)).mean() < 4
    assert not list(tmp_path.glob(".*oldfilm-tmp*"))


def test_pts_exact_in_seconds_and_stage_sees_consecutive_batches(tmp_path):
    src = make_clip(tmp_path / "in.mp4")
    seen, resets = [], []

    def stage(frames):
        seen.append(len(frames))
        return identity(frames)

    res, _ = run(src, tmp_path, "out.mp4", stage=stage, batch_size=3, segment_seconds=0.4,
                 on_segment_start=lambda: resets.append(sum(seen)))
    assert sum(seen) == len(VFR_PTS) and max(seen) <= 3
    assert len(resets) >= 2 and resets[0] == 0             # one reset per segment, before its frames
    with av.open(str(res.output)) as c:
        s = c.streams.video[0]
        secs = [f.pts * s.time_base for f in c.decode(s)]
    assert secs == [Fraction(p) * TB for p in VFR_PTS]


def test_stage_changes_reach_the_output(tmp_path):
    src = make_clip(tmp_path / "in.mkv", audio=None)
    res, _ = run(src, tmp_path, "out.mkv", stage=lambda fr: [255 - f for f in fr])
    for x, y in zip(decoded(src), decoded(res.output)):
        assert np.abs((255 - x.astype(int)) - y.astype(int)).mean() < 4


def test_odd_size_and_pixel_aspect_kept(tmp_path):
    src = make_clip(tmp_path / "in.mp4", w=65, h=49, pix_fmt="yuv444p", sar=Fraction(16, 11))
    res, _ = run(src, tmp_path, "out.mp4")
    info = probe(res.output)
    assert (info.width, info.height) == (65, 49) and info.sar == Fraction(16, 11)
    assert info.pix_fmt == "yuv444p"          # 4:2:0 cannot hold odd sizes (see video/encode.py)
    assert frame_pts(res.output) == frame_pts(src)


def test_rotation_kept_and_stage_sees_upright(tmp_path):
    w, h = 64, 48
    frames = [pattern(i, w, h) for i in range(len(VFR_PTS))]
    for f in frames:
        f[:8, :8] = (255, 255, 255)                  # marker: stored top-left corner
    src = make_clip(tmp_path / "in.mp4", frames=frames, rotation=90)
    shapes = []

    def stage(fr):
        shapes.extend(f.shape for f in fr)
        # 90 degrees counter-clockwise: the stored top-left ends at the displayed bottom-left.
        assert fr[0][-8:, :8].mean() > 200 and fr[0][:8, -8:].mean() < 200
        return identity(fr)

    res, _ = run(src, tmp_path, "out.mp4", stage=stage)
    assert set(shapes) == {(w, h, 3)}                    # upright: 48 wide, 64 high
    info = probe(res.output)
    assert info.rotation == 90 and (info.width, info.height) == (h, w)
    with av.open(str(res.output)) as c:
        stored0 = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert stored0.shape == (h, w, 3) and stored0[:8, :8].mean() > 200   # pixels un-rotated back


def test_ten_bit_kept_and_identity_follows_the_16bit_source(tmp_path):
    rng = np.random.default_rng(0)
    # Fine luma detail below 8-bit resolution (same in R, G, B so 4:2:0 chroma keeps up).
    frames = [(pattern(i, 64, 48).astype(np.uint16) * 257 + rng.integers(0, 250, (48, 64, 1))
               ).astype(np.uint16) for i in range(6)]
    src = make_clip(tmp_path / "in.mkv", pix_fmt="yuv420p10le", pts=VFR_PTS[:6], frames=frames,
                    audio=None)
    assert probe(src).bit_depth == 10
    lossless10 = EncodeOptions(bit_depth=10, crf=0, preset="ultrafast")
    res, _ = run(src, tmp_path, "out.mkv", encode=lossless10)
    out = probe(res.output)
    assert out.bit_depth == 10 and out.pix_fmt == "yuv420p10le"
    res8, _ = run(src, tmp_path, "out8.mkv", encode=EncodeOptions(crf=0, preset="ultrafast"))
    assert probe(res8.output).bit_depth == 8

    def luma10(path):   # the Y plane on the 10-bit scale (8-bit limited range * 4 = 10-bit)
        with av.open(str(path)) as c:
            out = []
            for f in c.decode(video=0):
                ten = "10" in f.format.name
                y = np.frombuffer(f.planes[0], np.uint16 if ten else np.uint8)
                out.append(y.reshape(f.height, -1)[:, :f.width].astype(int) * (1 if ten else 4))
            return out

    xs, ys, zs = luma10(src), luma10(res.output), luma10(res8.output)
    err10 = np.mean([np.abs(x - y).mean() for x, y in zip(xs, ys)])
    err8 = np.mean([np.abs(x - z).mean() for x, z in zip(xs, zs)])
    # The 10-bit path carries the identity stage's (zero) change onto the 16-bit frame, so only
    # swscale's RGB<->YUV rounding remains (about 1 code); the 8-bit path loses the fine detail.
    assert err10 < 2 and err8 > 2 * err10

    def brighten_in_place(frames):          # stages may edit their input arrays
        for f in frames:
            np.minimum(f, 245, out=f)
            f += 10
        return frames

    res_b, _ = run(src, tmp_path, "bright.mkv", stage=brighten_in_place, encode=lossless10)
    lift = np.mean([(y - x).mean() for x, y in zip(xs, luma10(res_b.output))])
    # +10 in 8-bit RGB is +10*219/255*4 = 34 codes of limited-range 10-bit luma (a little less
    # where the pattern was above 245 and got clipped first).
    assert 30 < lift < 36


def test_interlaced_flagged_source_is_deinterlaced(tmp_path):
    src = make_clip(tmp_path / "in.mkv", interlaced=True, audio=None, pts=VFR_PTS[:8])
    assert probe(src).interlaced is True
    res, _ = run(src, tmp_path, "out.mkv")
    assert any("deinterlaced" in w for w in res.warnings)
    assert res.frames == 8 and frame_pts(res.output) == frame_pts(src)
    assert probe(res.output).interlaced is False


def test_hd_uses_bt709_and_tags_it(tmp_path):
    colour = (200, 60, 30)
    frames = [np.full((720, 1280, 3), colour, np.uint8)] * 2
    src = make_clip(tmp_path / "hd.mkv", w=1280, h=720, pts=[0, 512], frames=frames, audio=None,
                    matrix="itu709")           # untagged HD, encoded with BT.709 like cameras do
    seen = []
    res, _ = run(src, tmp_path, "out.mkv", stage=lambda fr: seen.extend(fr) or identity(fr))
    assert np.abs(seen[0].astype(int) - colour).mean() < 2
    with av.open(str(src)) as c:   # what swscale's BT.601 default would have given
        wrong = next(c.decode(video=0)).to_ndarray(format="rgb24", src_colorspace="itu601")
    assert np.abs(wrong.astype(int) - colour).mean() > 4
    assert probe(res.output).color_space == "bt709"
    with av.open(str(res.output)) as c:
        back = next(c.decode(video=0)).to_ndarray(format="rgb24")   # tag honoured by swscale
    assert np.abs(back.astype(int) - colour).mean() < 3      # two lossy generations


@pytest.mark.parametrize("codec,ext", [("h265", "mkv"), ("ffv1", "mkv"), ("prores", "mov"),
                                       ("ffv1", "mp4")])
def test_codecs_keep_every_timestamp(tmp_path, codec, ext):
    src = make_clip(tmp_path / f"in.{ext}", w=65, h=49, pix_fmt="yuv444p", pts=VFR_PTS[:12])
    res, _ = run(src, tmp_path, f"out.{ext}", segment_seconds=0.2,
                 encode=EncodeOptions(codec=codec, preset="ultrafast"))
    info = probe(res.output)
    assert info.streams[0].codec == {"h265": "hevc"}.get(codec, codec)
    assert (info.width, info.height) == (65, 49) and res.output.suffix == f".{ext}"
    assert frame_pts(res.output) == frame_pts(src)
    assert audio_digest(res.output) == audio_digest(src)


def test_container_fallback_to_mkv_with_warning(tmp_path):
    src = make_clip(tmp_path / "in.mkv", audio="libopus")
    res, _ = run(src, tmp_path, "out.mov")
    assert res.container_changed and res.output == tmp_path / "out.mkv"
    assert any("cannot hold" in w and "opus" in w and "MKV" in w for w in res.warnings)
    assert audio_digest(res.output) == audio_digest(src)
    assert not (tmp_path / "out.mov").exists()


def test_resume_after_crash_reuses_finished_segments(tmp_path):
    src = make_clip(tmp_path / "in.mp4", gop=6)
    plan = plan_segments(src, TB, 0.4)
    assert len(plan.segments) >= 2
    calls = {"n": 0}

    def crashing(frames):
        calls["n"] += len(frames)
        if calls["n"] > plan.segments[0].frames + 2:      # inside segment 1
            raise RuntimeError("simulated crash")
        return identity(frames)

    with pytest.raises(RuntimeError, match="simulated crash"):
        run(src, tmp_path, "out.mp4", stage=crashing, segment_seconds=0.4, batch_size=2)
    work = tmp_path / ".out.mp4.oldfilm"
    state = json.loads((work / "state.json").read_text())
    assert "0" in state["done"] and not (tmp_path / "out.mp4").exists()
    seg0 = work / state["done"]["0"]["file"]
    before = (seg0.read_bytes(), seg0.stat().st_mtime_ns)
    assert not list(work.glob("*.part.*"))                 # the interrupted segment was removed

    frames_seen = []
    seen_seg0 = {}

    def watching(frames):
        frames_seen.extend(frames)
        if seg0.exists():
            seen_seg0["bytes"] = (seg0.read_bytes(), seg0.stat().st_mtime_ns)
        return identity(frames)

    res, _ = run(src, tmp_path, "out.mp4", stage=watching, segment_seconds=0.4, batch_size=2)
    assert seen_seg0["bytes"] == before                    # reused untouched
    assert res.resumed_segments >= 1
    assert len(frames_seen) == len(VFR_PTS) - state["done"]["0"]["frames"]
    assert frame_pts(res.output) == frame_pts(src) and res.frames == len(VFR_PTS)
    assert audio_digest(res.output) == audio_digest(src)
    assert not work.exists()


def test_mismatching_state_is_discarded(tmp_path):
    src = make_clip(tmp_path / "in.mp4")
    with pytest.raises(RuntimeError):
        run(src, tmp_path, "out.mp4", stage=lambda fr: (_ for _ in ()).throw(RuntimeError("x")),
            segment_seconds=0.4)
    work = tmp_path / ".out.mp4.oldfilm"
    # Nothing was finished, so nothing is left behind (no folder holding just the lock).
    assert not work.exists() and not list(tmp_path.glob(".*"))
    work.mkdir()
    (work / "state.json").write_text(json.dumps({"version": 1, "fingerprint": "other", "done": {}}))
    (work / "seg_00000.mov").write_bytes(b"stale")
    res, _ = run(src, tmp_path, "out.mp4", segment_seconds=0.4, encode=EncodeOptions(crf=20, preset="ultrafast"))
    assert res.resumed_segments == 0 and frame_pts(res.output) == frame_pts(src)


@pytest.mark.parametrize("where", ["stage", "shape", "encoder", "decoder"])
def test_errors_propagate_and_threads_stop(tmp_path, where, monkeypatch):
    src = make_clip(tmp_path / "in.mp4")
    before = threading.active_count()
    if where == "stage":
        stage = lambda fr: (_ for _ in ()).throw(ValueError("stage broke"))
        with pytest.raises(ValueError, match="stage broke"):
            run(src, tmp_path, "out.mp4", stage=stage, queue_size=2)
    elif where == "shape":
        with pytest.raises(RuntimeError, match="expected uint8"):
            run(src, tmp_path, "out.mp4", stage=lambda fr: [f[:10] for f in fr])
    elif where == "encoder":   # fails inside the encode thread
        from oldfilm.video import encode as enc_mod

        def broken(self, *a):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(enc_mod.SegmentEncoder, "encode", broken)
        with pytest.raises(OutputError, match="out.mp4: disk full"):
            run(src, tmp_path, "out.mp4", queue_size=1)
    else:                      # fails inside the decode thread
        from oldfilm.video import runner as runner_mod

        def broken_decode(*a, **k):
            yield from ()
            raise BadInputError(src, "decode error after frame 0")
        monkeypatch.setattr(runner_mod, "decode_frames", broken_decode)
        with pytest.raises(BadInputError, match="decode error"):
            run(src, tmp_path, "out.mp4")
    assert threading.active_count() == before
    assert not (tmp_path / "out.mp4").exists()


def test_progress_reports_frames_and_total(tmp_path):
    src = make_clip(tmp_path / "in.mkv", audio=None)
    calls = []
    run(src, tmp_path, "out.mkv", on_progress=lambda d, t: calls.append((d, t)), stage=IdentityStage())
    assert calls[-1] == (len(VFR_PTS), len(VFR_PTS))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_truncated_video_is_one_line_bad_input(tmp_path):
    src = make_clip(tmp_path / "in.mkv", audio=None, w=320, h=240)
    data = src.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    try:
        res, _ = run(cut, tmp_path, "out.mkv")
    except BadInputError as e:
        assert str(e).startswith(str(cut)) and "\n" not in str(e)
    else:   # Matroska has no frame index: the readable prefix is a valid (shorter) video
        assert 0 < res.frames < len(VFR_PTS) and res.frames == len(frame_pts(res.output))


def test_truncated_faststart_mp4_is_bad_input(tmp_path):
    """moov at the front lists every frame, the data is cut: fail, naming where it ends."""
    src = make_clip(tmp_path / "full.mp4", w=320, h=240)
    fast = tmp_path / "fast.mp4"
    with av.open(str(src)) as i, av.open(str(fast), "w", options={"movflags": "faststart"}) as o:
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for pkt in i.demux():
            if pkt.size:
                pkt.stream = streams[pkt.stream.index]
                o.mux(pkt)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(fast.read_bytes()[: int(fast.stat().st_size * 0.6)])
    with pytest.raises(BadInputError, match=r"truncated: only \d+ of 24 frames .* ends near"):
        run(cut, tmp_path, "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_subtitles_copied(tmp_path):
    src = make_clip(tmp_path / "in.mkv", audio=None)
    with_subs = tmp_path / "subs.mkv"
    _add_subtitle_stream(src, with_subs)
    res, _ = run(with_subs, tmp_path, "out.mkv")
    assert video_packets(res.output, "subtitles") == video_packets(with_subs, "subtitles")


def _add_subtitle_stream(src: Path, dst: Path) -> None:
    """Remux src with a SubRip track demuxed from a tiny .srt file."""
    srt = dst.with_suffix(".srt")
    srt.write_text("1\n00:00:00,100 --> 00:00:00,500\nHello, reel.\n\n"
                   "2\n00:00:00,600 --> 00:00:01,000\nSecond line.\n")
    with av.open(str(src)) as c, av.open(str(srt)) as s, av.open(str(dst), "w") as out:
        ov = out.add_stream_from_template(c.streams.video[0])
        osub = out.add_stream_from_template(s.streams[0])
        for p in c.demux(video=0):
            if p.size:
                p.stream = ov
                out.mux(p)
        for p in s.demux():
            if p.size:
                p.stream = osub
                out.mux(p)


def test_avi_dts_only_timestamps_with_bframes(tmp_path):
    """AVI stores decode timestamps only; frames must still reach the encoder in order."""
    src = make_clip(tmp_path / "in.avi", audio="mp2", pts=list(range(24)), tb=Fraction(1, 24))
    res, _ = run(src, tmp_path, "out.avi", segment_seconds=0.4,
                 encode=EncodeOptions(preset="medium"))        # medium: B-frames in the output too
    assert res.output.suffix == ".avi" and res.frames == 24
    assert sorted(frame_pts(res.output)) == sorted(frame_pts(src))
    assert audio_digest(res.output) == audio_digest(src)


def test_ctrl_c_leaves_resumable_state(tmp_path):
    src = make_clip(tmp_path / "in.mkv", gop=6)
    seen = {"n": 0}

    def interrupted(frames):
        seen["n"] += len(frames)
        if seen["n"] > 14:
            raise KeyboardInterrupt
        return identity(frames)

    with pytest.raises(KeyboardInterrupt):
        run(src, tmp_path, "out.mkv", stage=interrupted, segment_seconds=0.4, batch_size=2)
    state = json.loads((tmp_path / ".out.mkv.oldfilm" / "state.json").read_text())
    assert state["done"]
    res, _ = run(src, tmp_path, "out.mkv", segment_seconds=0.4, batch_size=2)
    assert res.resumed_segments == len(state["done"]) and frame_pts(res.output) == frame_pts(src)


def test_decoder_never_runs_far_ahead(tmp_path, monkeypatch):
    """Bounded queues: frames in flight stay under queue_size + batch_size whatever the length."""
    from oldfilm.video import runner as runner_mod

    real = runner_mod.decode_frames
    produced = {"n": 0}

    def counting(*a, **k):
        for f in real(*a, **k):
            produced["n"] += 1
            yield f

    monkeypatch.setattr(runner_mod, "decode_frames", counting)
    src = make_clip(tmp_path / "in.mkv", audio=None)
    consumed = {"n": 0}
    ahead = []

    def slow(frames):
        consumed["n"] += len(frames)
        ahead.append(produced["n"] - consumed["n"])
        threading.Event().wait(0.01)
        return identity(frames)

    run(src, tmp_path, "out.mkv", stage=slow, queue_size=2, batch_size=2)
    assert consumed["n"] == len(VFR_PTS) and max(ahead) <= 2 + 2 + 1


def test_cover_art_is_copied_not_processed(tmp_path):
    import io

    from PIL import Image

    plain = make_clip(tmp_path / "plain.mp4", audio=None)
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(buf, format="PNG")
    src = tmp_path / "cover.mp4"
    with av.open(str(plain)) as c, av.open(str(src), "w") as o:
        art = o.add_stream("png")
        art.width, art.height, art.pix_fmt = 16, 16, "rgb24"
        art.disposition = av.stream.Disposition.attached_pic
        ov = o.add_stream_from_template(c.streams.video[0])
        pkt = av.Packet(buf.getvalue())
        pkt.stream, pkt.pts, pkt.dts, pkt.time_base = art, 0, 0, Fraction(1, 90000)
        o.mux(pkt)
        for p in c.demux(video=0):
            if p.size:
                p.stream = ov
                o.mux(p)
    sizes = []
    res, _ = run(src, tmp_path, "out.mp4", stage=lambda fr: sizes.extend(f.shape for f in fr) or fr)
    assert set(sizes) == {(48, 64, 3)} and res.frames == len(VFR_PTS) and not res.warnings
    with av.open(str(res.output)) as c:
        arts = [s for s in c.streams.video if int(s.disposition) & int(av.stream.Disposition.attached_pic)]
        assert len(arts) == 1
        assert [bytes(p) for p in c.demux(arts[0]) if p.size] == [buf.getvalue()]


def test_lead_in_warms_each_segment_with_the_last_frames_of_the_one_before(tmp_path):
    from video_clips import lossless_clip

    frames = [np.full((32, 48, 3), 10 * t, np.uint8) for t in range(20)]
    src = lossless_clip(tmp_path / "in.mkv", frames, gop=5)
    plan = plan_segments(src, probe(src).time_base, 0.15)

    class Recording:
        def __init__(self, crash_after: int | None = None):
            self.calls: list[tuple[str, list[int]]] = []
            self.crash_after = crash_after

        def __call__(self, batch):
            if self.crash_after is not None and sum(len(c[1]) for c in self.calls if c[0] == "run") >= self.crash_after:
                raise RuntimeError("simulated crash")
            self.calls.append(("run", [round(int(f[0, 0, 0]) / 10) for f in batch]))
            return [f.copy() for f in batch]

        def warm_up(self, batch):
            self.calls.append(("warm", [round(int(f[0, 0, 0]) / 10) for f in batch]))

        def reset(self):
            self.calls.append(("reset", []))

    rec = Recording()
    res, _ = run(src, tmp_path, "out.mkv", stage=rec, segment_seconds=0.15, batch_size=2, reuse_repeats=False,
                 on_segment_start=rec.reset, lead_in=3, encode=EncodeOptions(codec="ffv1"))
    assert len(plan.segments) == 4 and res.frames == 20
    assert [c for c in rec.calls if c[0] == "warm"] == [("warm", [2, 3, 4]), ("warm", [7, 8, 9]), ("warm", [12, 13, 14])]
    after_reset = [rec.calls[i + 1][0] for i, c in enumerate(rec.calls[:-1]) if c[0] == "reset"]
    assert after_reset == ["run", "warm", "warm", "warm"]    # right after the segment's reset
    assert sum(len(c[1]) for c in rec.calls if c[0] == "run") == 20
    assert abs(int(decoded(res.output)[7][0, 0, 0]) - 70) <= 1    # outputs are the frames', not the warm-up's

    crashing = Recording(crash_after=12)                      # inside the third segment
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(src, tmp_path, "again.mkv", stage=crashing, segment_seconds=0.15, batch_size=2, reuse_repeats=False,
            on_segment_start=crashing.reset, lead_in=3, encode=EncodeOptions(codec="ffv1"))
    resumed = Recording()
    run(src, tmp_path, "again.mkv", stage=resumed, segment_seconds=0.15, batch_size=2, reuse_repeats=False,
        on_segment_start=resumed.reset, lead_in=3, encode=EncodeOptions(codec="ffv1"))
    # segment 2 starts over with the same lead-in, taken from segment 1, which is not run again
    assert resumed.calls[:3] == [("reset", []), ("warm", [7, 8, 9]), ("run", [10, 11])]


def test_a_failure_keeps_the_work_dir_only_when_it_holds_work(tmp_path):
    """The deflicker's scan of the whole video is kept for the next run even when no segment
    was finished; without it, a failed first segment leaves no hidden folder."""
    src = make_clip(tmp_path / "in.mp4")

    def failing(frames):
        raise RuntimeError("stage broke")

    for deflicker, kept in ((False, False), (True, True)):
        with pytest.raises(RuntimeError, match="stage broke"):
            run(src, tmp_path, "out.mp4", stage=failing, deflicker=deflicker)
        work = tmp_path / ".out.mp4.oldfilm"
        assert work.exists() == kept
        if kept:
            assert (work / "deflicker.npz").is_file()

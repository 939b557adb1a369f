"""--trial: a span of a video copied packet for packet (keyframe-aligned, sound kept, starting at
0), and the batch running on it into a trial-named output."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest

from oldfilm.cli import main
from oldfilm.errors import BadInputError
from oldfilm.jobs import discover, is_own_output, run_batch, trial_suffix
from oldfilm.pipeline import Pipeline
from oldfilm.stage import IdentityStage
from oldfilm.video.excerpt import Span, cut_excerpt, parse_span

from video_clips import decoded, frame_seconds, make_clip, video_packets

PTS = [512 * i for i in range(48)]      # 24 fps for 2 s (TB 1/12288)


@pytest.mark.parametrize("text, start, seconds, label", [
    ("90", 90.0, 10.0, "1m30s-10s"),
    ("1:30+20", 90.0, 20.0, "1m30s-20s"),
    ("1:02:03.5+2.5", 3723.5, 2.5, "1h02m03.5s-2.5s"),
    ("65.25+0.4", 65.25, 0.4, "1m05.2s-0.4s"),
    ("0", 0.0, 10.0, "0s-10s"),
])
def test_parse_span(text, start, seconds, label):
    s = parse_span(text)
    assert (s.start, s.seconds, s.label) == (start, seconds, label)


@pytest.mark.parametrize("text", ["soon", "1:30+", "1:30+0", "1:30+-4", "-5", "1::2"])
def test_bad_spans_are_refused(text):
    with pytest.raises(ValueError):
        parse_span(text)


def test_trial_outputs_are_our_own():
    from pathlib import Path

    assert is_own_output(Path(f"reel_restored{trial_suffix(Span(90, 10))}.mp4"))
    assert is_own_output(Path("reel_colorized_trial-1h02m03.5s-2.5s.mkv"))
    assert not is_own_output(Path("reel_trial-1m30s-10s.mp4"))


def test_excerpt_copies_whole_gops_with_sound_from_zero(tmp_path):
    src = make_clip(tmp_path / "c.mp4", pts=PTS, gop=6, audio="aac")
    dst = tmp_path / "e.mp4"
    start, seconds = cut_excerpt(src, dst, Span(0.6, 0.5))
    # Keyframes every 6 frames (0.25 s): the span 0.6-1.1 s starts at the keyframe at 0.5 s and
    # ends at 1.1 s (frame 26 the last asked for); with B-frames a few more come along, contiguous.
    got, want = decoded(dst), decoded(src)
    assert start == pytest.approx(0.5) and seconds == pytest.approx(len(got) / 24)
    assert 15 <= len(got) <= 20 and all(np.array_equal(a, b) for a, b in zip(got, want[12:]))
    assert frame_seconds(dst)[0] == pytest.approx(0.0, abs=1e-3)
    # The sound of the same span, packet for packet, shifted to start with the picture.
    src_audio = {bytes_ for _, _, bytes_ in video_packets(src)}
    audio = video_packets(dst)
    assert audio and all(b in src_audio for _, _, b in audio)
    audio_seconds = sum(1024 for _ in audio) / 48000
    assert abs(audio_seconds - seconds) < 0.1
    assert os.stat(dst).st_mtime_ns == os.stat(src).st_mtime_ns     # a stable resume fingerprint


@pytest.mark.parametrize("ext", ["mkv", "ts", "avi"])
def test_excerpt_holds_the_asked_start_in_other_containers(tmp_path, ext):
    """MPEG-TS seeks land after the asked time: the cut steps back until the start is inside."""
    codec, audio = ("mpeg4", None) if ext == "avi" else ("libx264", "aac")
    src = make_clip(tmp_path / f"c.{ext}", pts=PTS, gop=6, audio=audio, codec=codec)
    cut_excerpt(src, tmp_path / f"e.{ext}", Span(0.6, 0.5))
    got, want = decoded(tmp_path / f"e.{ext}"), decoded(src)
    first = next(j for j, w in enumerate(want) if np.array_equal(got[0], w))
    assert first <= 14 and all(np.array_equal(a, b) for a, b in zip(got, want[first:]))   # 0.6 s = frame 14.4
    assert first + len(got) - 1 >= 26                                                    # 1.1 s = frame 26.4


def test_excerpt_past_the_end_is_one_line(tmp_path):
    src = make_clip(tmp_path / "c.mp4", pts=PTS, audio=None)
    with pytest.raises(BadInputError, match="after the end"):
        cut_excerpt(src, tmp_path / "e.mp4", Span(30, 5))
    assert not (tmp_path / "e.mp4").exists()


def test_a_trial_batch_writes_the_trial_output_and_skips_photos(tmp_path):
    from PIL import Image

    src = make_clip(tmp_path / "c.mp4", pts=PTS, gop=6, audio="aac")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "p.png")
    span = Span(1.0, 0.4)
    jobs = discover([str(tmp_path)], suffix="_restored" + trial_suffix(span))
    out = io.StringIO()
    summary = run_batch(jobs, Pipeline(stages=[IdentityStage()]), trial=span, out=out, err=out)
    by = {r.input.rsplit("/", 1)[-1]: r for r in summary.records}
    assert by["p.png"].status == "skipped" and by["p.png"].reason == "a trial is for video"
    rec = by["c.mp4"]
    assert rec.status == "done" and rec.output.endswith("c_restored_trial-1s-0.4s.mp4")
    assert 10 <= rec.frames <= 15 and f"trial: {rec.frames / 24:.1f} s from 1.00 s" in rec.warnings[0]
    assert len(video_packets(tmp_path / "c_restored_trial-1s-0.4s.mp4")) > 0      # sound kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4", "c_restored_trial-1s-0.4s.mp4", "p.png"]
    # The trial output is never taken as an input, and the full run is not blocked by it.
    jobs = discover([str(tmp_path)], suffix="_restored")
    assert sorted(j.src.name for j in jobs) == ["c.mp4", "p.png"] and all(j.existing_output() is None for j in jobs)


def test_a_trial_compare_shows_the_same_span_on_both_sides(tmp_path):
    src = make_clip(tmp_path / "c.mp4", pts=PTS, gop=6, audio="aac")
    span = Span(1.0, 0.4)
    out = io.StringIO()
    summary = run_batch(discover([str(src)], suffix="_restored" + trial_suffix(span)),
                        Pipeline(stages=[IdentityStage()]), trial=span, compare=True, out=out, err=out)
    rec = summary.records[0]
    assert rec.status == "done" and not any("compare" in w for w in rec.warnings), rec.warnings
    cmp = tmp_path / "c_restored_trial-1s-0.4s_compare.mp4"
    frames = decoded(cmp)
    assert len(frames) == rec.frames
    # Both sides of the wipe show the span (identity stage): the source's frame at 1.0 s, not at 0.
    src_frames = decoded(src)
    near = [np.abs(frames[0].astype(int) - f.astype(int)).mean() for f in src_frames]
    assert int(np.argmin(near)) == 24 and near[24] < 12
    assert is_own_output(cmp)


def test_trial_flag_errors(tmp_path, capsys):
    src = make_clip(tmp_path / "c.mp4", pts=PTS, audio=None)
    with pytest.raises(SystemExit) as e:
        main(["colorize", str(src), "--trial", "later"])
    assert e.value.code == 2 and "--trial" in capsys.readouterr().err


def test_a_trial_into_a_new_output_folder(tmp_path):
    """-o to a folder that does not exist yet: the excerpt is written there first, so the folder
    must be made before it (it failed with 'No such file or directory')."""
    src = make_clip(tmp_path / "c.mp4", pts=PTS, gop=6, audio="aac")
    out_dir = tmp_path / "new" / "trials"
    span = Span(1.0, 0.4)
    out = io.StringIO()
    jobs = discover([str(src)], suffix="_restored" + trial_suffix(span), output_dir=out_dir)
    summary = run_batch(jobs, Pipeline(stages=[IdentityStage()]), trial=span, out=out, err=out)
    rec = summary.records[0]
    assert rec.status == "done", rec.error
    assert sorted(p.name for p in out_dir.iterdir()) == ["c_restored_trial-1s-0.4s.mp4"]

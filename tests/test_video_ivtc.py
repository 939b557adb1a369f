"""Inverse telecine (--deinterlace ivtc, video/ivtc.py): film telecined to 29.97 fps comes back
as its own frames at 23.976 fps, with its sound, the same from a resume; `auto` says when a
video looks telecined."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from oldfilm.errors import OldfilmError
from oldfilm.options import EncodeOptions
from oldfilm.video import ivtc
from oldfilm.video.colour import plan_for
from oldfilm.video.decode import DecodedFrame
from oldfilm.video.probe import probe
from oldfilm.video.runner import process_video

from video_clips import NTSC_TB, decoded, film_frames, frame_pts, make_clip, telecined_clip, video_packets

FILM = 40          # film frames -> 50 telecined video frames


@pytest.fixture(scope="module")
def film():
    return film_frames(FILM)


@pytest.fixture(scope="module")
def telecined(tmp_path_factory, film):
    return telecined_clip(tmp_path_factory.mktemp("tc") / "tc.mp4", film)


def identity(frames):
    return [f.copy() for f in frames]


def run(src, tmp_path, name, stage=identity, deinterlace="ivtc", **kw):
    enc = EncodeOptions(preset="ultrafast", deinterlace=deinterlace)
    res = process_video(src, tmp_path / name, stage, enc, tmp_path / f".{name}.oldfilm",
                         segment_seconds=kw.pop("segment_seconds", 0.4), **kw)
    return res, tmp_path / f".{name}.oldfilm"


def nearest(frames, film):
    """For each frame: (index of the film frame it is closest to, mean abs difference)."""
    ref = [f.astype(np.float32) for f in film]
    out = []
    for a in frames:
        d = [float(np.abs(a.astype(np.float32) - r).mean()) for r in ref]
        out.append((int(np.argmin(d)), min(d)))
    return out


def audio_digest(path: Path) -> list[tuple]:
    return [(p, d, hashlib.sha256(b).hexdigest()) for p, d, b in video_packets(path, "audio")]


# --- decimate and looks_telecined, on made-up frames -------------------------------------------

def fake_frames(values: list[int], step: int = 1001) -> list[DecodedFrame]:
    """Flat 8x8 frames of the given gray levels, one frame step apart."""
    return [DecodedFrame(pts=i * step, duration=step, rgb=np.full((8, 8, 3), v, np.uint8), rgb16=None)
            for i, v in enumerate(values)]


def pulldown_levels(groups: int, repeat_at: list[int]) -> list[int]:
    """Gray levels of field-matched 3:2 video: 4 new film frames and one repeat per group of 5;
    repeat_at[g] is where group g's repeat is (1..4: it repeats the frame before it)."""
    levels, film_level = [], 0
    for g in range(groups):
        for k in range(5):
            if k == repeat_at[g]:
                levels.append(levels[-1])
            else:
                film_level += 10
                levels.append(film_level)
    return levels


def test_decimate_drops_the_repeat_of_each_group_and_spaces_the_rest_evenly():
    at = [3, 4, 1, 2, 3, 4]
    levels = pulldown_levels(len(at), at) + [250, 251]      # a partial group at the end
    frames = fake_frames(levels)
    ts = [f.pts for f in frames]
    kept = list(ivtc.decimate(frames, ts, 1001))
    assert len(kept) == ivtc.output_count(len(frames)) == 6 * 4 + 2
    film_levels = [int(f.rgb[0, 0, 0]) for f in kept]
    assert film_levels[:24] == list(range(10, 250, 10))      # each film frame once, in order
    # Full groups: 4 frames spread evenly over 5 frame steps, in ticks of time_base / 4.
    assert [f.out_pts for f in kept[:24]] == [k * 5005 for k in range(24)]
    assert {f.out_duration for f in kept[:24]} == {5005}
    # The partial group keeps its own times; ownership (pts) is never changed.
    assert [f.out_pts for f in kept[24:]] == [ts[30] * 4, ts[31] * 4]
    assert [f.pts for f in kept] == [f.pts for f in frames if f.pts in {k.pts for k in kept}]


def test_decimate_from_mid_stream_keeps_the_same_frames_after_the_first_group():
    frames = fake_frames(pulldown_levels(5, [2, 3, 4, 1, 2]))
    ts = [f.pts for f in frames]
    whole = {f.pts: f.out_pts for f in ivtc.decimate(frames, ts, 1001)}
    part = list(ivtc.decimate(frames[7:], ts, 1001))       # decoding began inside group 1
    later = [f for f in part if f.pts >= ts[10]]
    assert later and {f.pts: f.out_pts for f in later} == {p: o for p, o in whole.items() if p >= ts[10]}
    # The partial first group is kept whole, at its own times.
    assert [f.pts for f in part if f.pts < ts[10]] == ts[7:10]


def test_telecine_makes_5_frames_of_4(film):
    frames = list(ivtc.telecine(film[:8]))
    assert len(frames) == 10 and {f.format.name for f in frames} == {"yuv420p"}


def test_looks_telecined_wants_one_repeat_in_five():
    def diffs(levels):
        return [float("inf")] + [abs(b - a) + 0.0 for a, b in zip(levels, levels[1:])]

    pulldown = pulldown_levels(8, [3, 4, 3, 3, 2, 3, 4, 3])
    assert ivtc.looks_telecined(diffs(pulldown))
    assert not ivtc.looks_telecined(diffs(list(range(0, 400, 10))))                 # no repeats
    assert not ivtc.looks_telecined(diffs([v for k in range(20) for v in (k * 10, k * 10)]))  # doubled
    assert not ivtc.looks_telecined(diffs([7] * 40))                                # a still
    assert not ivtc.looks_telecined(diffs(pulldown[:15]))                           # too short to say
    # Old film with frames of its own shown twice, then telecined: some groups hold two repeats.
    own = [v for k, v in enumerate(pulldown) if k % 7 != 6]
    own = [x for k, v in enumerate(own) for x in ((v, v) if k % 6 == 0 else (v,))][:len(pulldown)]
    assert ivtc.looks_telecined(diffs(own))


# --- whole videos -------------------------------------------------------------------------------

def test_ivtc_gives_back_each_film_frame_once_at_23976(tmp_path, telecined, film):
    res, _ = run(telecined, tmp_path, "out.mp4")
    assert res.frames == FILM and not res.warnings
    frames = decoded(res.output)
    matches = nearest(frames, film)
    assert [k for k, _ in matches] == list(range(FILM))
    info = probe(res.output)
    assert info.fps == Fraction(24000, 1001)
    secs = [float(p * info.time_base) for p in frame_pts(res.output)]
    assert np.allclose(np.diff(secs), 1001 / 24000, atol=1e-4)
    src = probe(telecined)
    assert abs((secs[-1] + 1001 / 24000) - 50 * 1001 / 30000) < 1e-3      # same running time
    assert audio_digest(res.output) == audio_digest(telecined)


def test_ivtc_is_closer_to_the_film_than_deinterlacing(tmp_path, telecined, film):
    """bwdif (what `auto` does with an interlaced source) halves the combed frames' lines and
    keeps the repeats; field matching rebuilds whole frames."""
    res_ivtc, _ = run(telecined, tmp_path, "ivtc.mp4")
    res_bwdif, _ = run(telecined, tmp_path, "bwdif.mp4", deinterlace="auto")
    err_ivtc = np.mean([e for _, e in nearest(decoded(res_ivtc.output), film)])
    err_bwdif = np.mean([e for _, e in nearest(decoded(res_bwdif.output), film)])
    assert res_bwdif.frames == 50 and err_ivtc < 0.92 * err_bwdif, (err_ivtc, err_bwdif)


@pytest.mark.parametrize("mode, frames", [("ivtc", FILM), ("match", 50)])
def test_resume_gives_the_frames_of_one_pass(tmp_path, film, mode, frames):
    """Keyframes every 12 frames: segments begin inside groups of 5, and the resume decodes
    from the segment before the first one to do."""
    src = telecined_clip(tmp_path / "tc12.mp4", film, gop=12)
    one, _ = run(src, tmp_path, "one.mp4", deinterlace=mode)
    calls = {"n": 0}

    def crashing(frames):
        calls["n"] += len(frames)
        if calls["n"] > 22:                 # inside the third segment
            raise RuntimeError("simulated crash")
        return identity(frames)

    with pytest.raises(RuntimeError, match="simulated crash"):
        run(src, tmp_path, "two.mp4", stage=crashing, batch_size=2, deinterlace=mode)
    state = json.loads((tmp_path / ".two.mp4.oldfilm" / "state.json").read_text())
    assert sorted(state["done"]) == ["0", "1"]
    seen = []

    def watching(frames):
        seen.extend(frames)
        return identity(frames)

    res, _ = run(src, tmp_path, "two.mp4", stage=watching, deinterlace=mode)
    assert res.resumed_segments == 2 and res.frames == frames
    assert len(seen) + res.repeated_frames == frames - sum(v["frames"] for v in state["done"].values())
    assert frame_pts(res.output) == frame_pts(one.output)
    a, b = decoded(one.output), decoded(res.output)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_ivtc_with_deflicker_sees_the_same_frames(tmp_path, telecined):
    res, _ = run(telecined, tmp_path, "out.mp4", deflicker=True)
    assert res.frames == FILM


def test_auto_says_when_a_video_looks_telecined(tmp_path, telecined):
    info = probe(telecined)
    assert info.interlaced and ivtc.sniff(info, plan_for(info))
    res, _ = run(telecined, tmp_path, "auto.mp4", deinterlace="auto")
    assert res.frames == 50
    assert any("telecined" in w and "--deinterlace ivtc" in w for w in res.warnings)


def test_info_says_when_a_video_is_telecined(tmp_path, telecined):
    from oldfilm.video.info import describe, format_info

    d = describe(telecined)
    assert d["telecined"] is True and "--deinterlace ivtc" in format_info(d)
    other = describe(make_clip(tmp_path / "24.mp4", audio=None))          # 24 fps: not looked for
    assert other["telecined"] is None and "pulldown   not looked for" in format_info(other)


def test_no_telecine_hint_for_video_shot_as_video(tmp_path, film):
    pts = [i * 1001 for i in range(40)]
    interlaced = make_clip(tmp_path / "int.mp4", pts=pts, tb=NTSC_TB, interlaced=True, audio=None)
    doubled = make_clip(tmp_path / "dbl.mp4", pts=pts, tb=NTSC_TB, audio=None, w=96, h=64,
                        frames=[f for f in film[:20] for _ in (0, 1)])
    for src in (interlaced, doubled):
        info = probe(src)
        assert not ivtc.sniff(info, plan_for(info)), src.name


def test_deinterlace_option_is_checked(tmp_path):
    with pytest.raises(OldfilmError, match="--deinterlace weave"):
        EncodeOptions(deinterlace="weave")
    r = subprocess.run([sys.executable, "-m", "oldfilm.cli", "restore", str(tmp_path), "--deinterlace", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--deinterlace" in r.stderr


def test_a_preview_frame_is_field_matched_with_ivtc(telecined, film):
    """`oldfilm gui` shows a video's frame as the job decodes it: with ivtc, the frames that
    weave two film frames come out whole."""
    from oldfilm.video.still import frame_at

    frames = decoded(telecined)
    woven = [i for i in range(10) if nearest([frames[i]], film)[0][1] > 15]
    assert woven, "the clip should hold combed frames"
    for i in woven:
        t = i * 1001 / 30000 + 1e-4
        _, matched = frame_at(telecined, t, deinterlace="ivtc")
        _, raw = frame_at(telecined, t, deinterlace="off")
        assert nearest([matched], film)[0][1] < 0.4 * nearest([raw], film)[0][1]


def test_gui_preview_follows_the_fields_setting(telecined, film):
    """The preview's `before` frame is decoded as the job would, and a change of the setting
    restores again rather than reusing the frame restored from the other decoding."""
    from oldfilm.gui.preview import Previewer
    from oldfilm.gui.settings import options_from_form
    from oldfilm.pipeline import Pipeline
    from oldfilm.stage import IdentityStage

    def pipeline(options):
        return Pipeline(options, stages=[IdentityStage()])

    pv = Previewer(pipeline, max_side=256)
    t = 3 * 1001 / 30000 + 1e-4           # a frame that weaves two film frames
    off = pv.render(telecined, options_from_form({"deinterlace": "off", "faces": False})[0], seconds=t)
    ivtc_ = pv.render(telecined, options_from_form({"deinterlace": "ivtc", "faces": False})[0], seconds=t)
    assert nearest([ivtc_.after], film)[0][1] < 0.4 * nearest([off.after], film)[0][1]


def test_match_gives_whole_frames_and_keeps_the_timing(tmp_path, telecined, film):
    """Field matching without decimation: every frame is a whole film frame, the frame count
    and timestamps are the input's, and the pulldown's repeats are restored once."""
    res, _ = run(telecined, tmp_path, "match.mp4", deinterlace="match")
    assert res.frames == 50 and frame_pts(res.output) == frame_pts(telecined)
    matches = nearest(decoded(res.output), film)
    assert max(e for _, e in matches) < 12                  # woven frames are ~27 levels off
    assert sorted({k for k, _ in matches}) == list(range(FILM))
    assert res.repeated_frames >= 8                         # one in 5: the pulldown's repeats


def test_ivtc_on_a_video_that_is_not_ntsc_only_field_matches(tmp_path, film):
    """3:2 pulldown exists only at 29.97/30 fps. A 25 fps (PAL) video given --deinterlace ivtc
    used to lose one frame in five; it is field-matched only now, every frame kept, and says so."""
    src = make_clip(tmp_path / "pal.mp4", frames=film[:30], w=film[0].shape[1], h=film[0].shape[0],
                    pts=[i * 512 for i in range(30)], tb=Fraction(1, 12800))       # 25 fps
    res, _ = run(src, tmp_path, "out.mp4")
    assert res.frames == 30
    assert any("field-matched only" in w and "25 fps" in w for w in res.warnings)
    assert len(decoded(res.output)) == 30

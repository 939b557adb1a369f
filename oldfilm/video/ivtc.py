"""Inverse telecine: the film's own frames back from film transferred to 29.97 fps video.

An NTSC transfer (3:2 pulldown) shows film's 24 frames a second as 30 interlaced ones: film
frames go out as 2 and 3 fields in turn, so 2 video frames in every 5 weave the fields of two
film frames (combing), and one film frame is shown twice. Deinterlacing each frame (bwdif)
throws away half the lines of the combed frames and keeps the repeat. Field matching
(decode.IVTC_CHAIN, FFmpeg's fieldmatch) rebuilds every frame from fields of one film frame;
`decimate` here then drops, in each group of 5 frames, the one most like the frame before it
(the repeat) and spaces the 4 it keeps evenly over the group's time: 23.976 fps from 29.97, the
same duration, the sound untouched (in step to within a frame).

Groups are counted from the stream's first frame (its index among the packet timestamps), not
from where decoding began, so a segment decoded on its own for a resume drops the same frames
as one pass, provided decoding begins in the segment before it (the runner does that).
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

import numpy as np

from .decode import DecodedFrame, decode_frames
from .deflicker import luma_thumbnail

CYCLE = 5           # 3:2 pulldown: 5 video frames carry 4 film frames
TB_DIVISOR = 4      # output ticks are time_base / 4: 4 frames spread over a 5-frame group fall on whole ticks

# looks_telecined: a group moves when its middle difference is above MOTION (8-bit levels),
# and shows a repeat when its smallest is below REPEAT times that.
MOTION = 1.0
REPEAT = 0.35


def output_count(frames: int) -> int:
    """Frames left after decimation of `frames` input frames: one fewer in each full group."""
    return frames - frames // CYCLE


THUMB_SIDE = 160    # px: enough to tell a repeated frame from the next one, while codec noise averages out


def thumb(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB HxWx3 -> float32 luma (0..255), area-averaged to THUMB_SIDE px on the long side."""
    return luma_thumbnail(rgb, THUMB_SIDE)


def difference(a: np.ndarray | None, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbs (8-bit levels); infinite without a frame before."""
    return float("inf") if a is None or a.shape != b.shape else float(np.abs(a - b).mean())


def decimate(frames: Iterable[DecodedFrame], timestamps: Sequence[int], step: int) -> Iterator[DecodedFrame]:
    """Field-matched frames -> the film frames: one frame dropped in each full group of CYCLE.

    frames: in display order, with pts in the stream's time_base (decode_frames output).
    timestamps: every packet pts of the stream, sorted (segments.SegmentPlan.timestamps); a
    frame's group is its index there // CYCLE.
    step: one input frame's duration in time_base ticks (decode.frame_step).
    The frames kept carry out_pts / out_duration in time_base / TB_DIVISOR: a full group's four
    are spread evenly from its first timestamp to the next group's. A group seen only in part
    (the end of the stream, or where decoding began) keeps every frame at its own time. A group
    without a repeat (a cut in the cadence) still loses its most similar frame, as FFmpeg's
    decimate does."""
    n = len(timestamps)
    group: list[tuple[DecodedFrame, float]] = []
    gid = None
    prev = None

    def flush() -> Iterator[DecodedFrame]:
        lo = gid * CYCLE
        if len(group) < CYCLE or lo + CYCLE > n:
            for f, _ in group:
                yield replace(f, out_pts=f.pts * TB_DIVISOR,
                              out_duration=f.duration * TB_DIVISOR if f.duration else None)
            return
        drop = min(range(CYCLE), key=lambda k: group[k][1])
        t0 = timestamps[lo]
        t1 = timestamps[lo + CYCLE] if lo + CYCLE < n else timestamps[n - 1] + step
        span = max(t1 - t0, CYCLE - 1)
        kept = [f for k, (f, _) in enumerate(group) if k != drop]
        for j, f in enumerate(kept):
            yield replace(f, out_pts=t0 * TB_DIVISOR + j * span, out_duration=span)

    for f in frames:
        t = thumb(f.rgb)
        d = difference(prev, t)
        prev = t
        g = bisect.bisect_left(timestamps, f.pts) // CYCLE
        if g != gid:
            if group:
                yield from flush()
            group, gid = [], g
        group.append((f, d))
    if group:
        yield from flush()


def looks_telecined(diffs: Sequence[float]) -> bool:
    """Whether field-matched frames repeat a frame in every group of 5.

    diffs: each frame's difference to the one before (`difference`), from any frame on. A
    repeat is a difference below REPEAT times its group's middle one. True when at least 4
    groups move, 80 % of them hold a repeat and 40 % exactly one. Old film often shows some
    frames twice itself, which adds repeats to some groups; video shot as video has none;
    video with every frame doubled (15 fps in 30) has two or three in each group."""
    counts = []
    for lo in range(0, len(diffs) - CYCLE + 1, CYCLE):
        g = list(diffs[lo:lo + CYCLE])
        if not all(np.isfinite(g)):
            continue
        middle = sorted(g)[CYCLE // 2]
        if middle < MOTION:
            continue          # a still: every frame looks repeated
        counts.append(sum(d < REPEAT * middle for d in g))
    if len(counts) < 4:
        return False
    return sum(c >= 1 for c in counts) >= 0.8 * len(counts) and sum(c == 1 for c in counts) >= 0.4 * len(counts)


def telecine(film: Iterable[np.ndarray]) -> Iterator:
    """The forward operation, to make test and benchmark clips: uint8 RGB HxWx3 film frames at
    23.976 fps -> PyAV yuv420p frames at 29.97 fps by 3:2 pulldown (FFmpeg's telecine filter,
    top field first), each field with its own chroma lines, as a telecine transfer has them.
    The frames come without timestamps: the caller numbers them."""
    import av

    graph = None
    for i, img in enumerate(film):
        if graph is None:
            h, w = img.shape[:2]
            graph = av.filter.Graph()
            src = graph.add("buffer", f"video_size={w}x{h}:pix_fmt=yuv420p:time_base=1001/24000:"
                                      f"frame_rate=24000/1001:pixel_aspect=1/1")
            tc = graph.add("telecine", "first_field=top:pattern=23")
            sink = graph.add("buffersink")
            src.link_to(tc)
            tc.link_to(sink)
            graph.configure()
        f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        f.pts = i
        graph.push(f)
        yield from _pull_all(graph)
    if graph is not None:
        graph.push(None)
        yield from _pull_all(graph)


def _pull_all(graph) -> Iterator:
    while True:
        try:
            yield graph.pull()
        except (BlockingIOError, EOFError):
            return


def is_ntsc_rate(fps: float | None) -> bool:
    """29.97 or 30 frames a second: the rates film is telecined to."""
    return fps is not None and 29.9 <= fps <= 30.05


def sniff(info, plan, frames: int = 150) -> bool:
    """Whether `frames` frames of a video look like telecined film (looks_telecined on
    field-matched frames). They are taken a third of the way in, past titles and black leader
    (any 5 frames in a row hold one repeat, so where they start does not matter), or from the
    start of a short video. Decodes those frames once: about a second for SD video."""
    start = None
    if info.duration and info.duration > 10:
        start = info.start_pts + int(info.duration / 3 / info.time_base)
    diffs, prev = [], None
    for i, f in enumerate(decode_frames(info, plan, deinterlace="ivtc", start_pts=start)):
        t = thumb(f.rgb)
        diffs.append(difference(prev, t))
        prev = t
        if i + 1 >= frames:
            break
    return looks_telecined(diffs)

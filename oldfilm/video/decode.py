"""Decode a video into upright RGB frames with their exact timestamps.

Frames come out of FFmpeg as stored (a phone clip's display matrix is not applied), so they are
turned upright here with np.rot90, which is lossless and undone exactly before encoding.
Interlaced frames go through bwdif (one frame out per frame in, timestamps kept). With
deinterlace "match" or "ivtc", frames go through field matching first (video/ivtc.py: film
telecined to video gets its whole frames back; with "ivtc" the runner then drops the repeats).
"""
from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from ..errors import BadInputError
from ..images import to_uint8
from .colour import ColourPlan
from .probe import VideoInfo
from .segments import dts_only


@dataclass
class DecodedFrame:
    pts: int                       # in the input stream's time_base, exactly as decoded
    duration: int | None           # same time_base; None when the container does not say
    rgb: np.ndarray                # uint8 RGB HxWx3, upright
    rgb16: np.ndarray | None       # uint16 RGB HxWx3, upright; only when 16-bit output is wanted
    # Where the frame goes in the output when that is not `pts` (inverse telecine retimes the
    # film frames it keeps): in the stream's time_base / ivtc.TB_DIVISOR.
    out_pts: int | None = None
    out_duration: int | None = None


def upright(stored: np.ndarray, rotation: int) -> np.ndarray:
    """Stored pixels -> display orientation. `rotation` is counter-clockwise degrees, the
    display-matrix convention (np.rot90 with positive k also turns counter-clockwise)."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(stored, k)) if k else stored


def stored(upright_rgb: np.ndarray, rotation: int) -> np.ndarray:
    """Inverse of upright(): display orientation -> stored pixels."""
    k = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(upright_rgb, -k)) if k else upright_rgb


# FFmpeg filter chains for interlaced input; each gives one frame out per frame in.
def bwdif_chain(deint: str) -> list[tuple[str, str]]:
    """bwdif in send_frame mode; deint "all" or "interlaced" (only frames flagged interlaced)."""
    return [("bwdif", f"mode=send_frame:parity=auto:deint={deint}")]


# Field matching (film telecined to video): each frame is rebuilt from the fields of its
# neighbours that belong to the same film frame; a frame still combed after that (a cut, true
# interlaced video) is flagged interlaced and deinterlaced by bwdif.
IVTC_CHAIN = [("fieldmatch", "order=auto:combmatch=full"), *bwdif_chain("interlaced")]


class _Deinterlacer:
    """A frame-rate preserving filter chain (bwdif, or fieldmatch + bwdif) fed one frame at a
    time; a frame or two of latency (flush at the end); timestamps kept in the input's time_base."""

    def __init__(self, stream, chain: list[tuple[str, str]]):
        self.time_base = stream.time_base
        self.graph = av.filter.Graph()
        prev = self.graph.add_buffer(template=stream)
        for name, args in chain:
            node = self.graph.add(name, args)
            prev.link_to(node)
            prev = node
        sink = self.graph.add("buffersink")
        prev.link_to(sink)
        self.graph.configure()

    def push(self, frame) -> list:
        self.graph.push(frame)
        return self._drain()

    def flush(self) -> list:
        self.graph.push(None)
        return self._drain()

    def _drain(self) -> list:
        out = []
        while True:
            try:
                f = self.graph.pull()
            except (BlockingIOError, EOFError):
                return out
            # bwdif halves its output time_base (it can emit fields); map back to the input's.
            if f.time_base and f.time_base != self.time_base and f.pts is not None:
                scale = f.time_base / self.time_base
                f.pts = int(round(f.pts * scale))
                if f.duration:
                    f.duration = int(round(f.duration * scale))
                f.time_base = self.time_base
            out.append(f)


def frame_step(info: VideoInfo) -> int:
    """One frame's duration in the stream's time_base ticks (at least 1; 1 when the rate is unknown)."""
    rate = info.base_fps or info.fps
    return max(1, int(round(1 / (rate * info.time_base)))) if rate else 1


def decode_frames(info: VideoInfo, plan: ColourPlan, *, want16: bool = False,
                  deinterlace: str = "auto", start_pts: int | None = None,
                  stop=None, timestamps: list[int] | None = None) -> Iterator[DecodedFrame]:
    """Yield every frame of the first video stream, upright, with pts.

    start_pts: seek to the keyframe at or before it and drop earlier frames (segment resume).
    stop: a threading.Event checked between frames, so a failing pipeline ends the decoder quickly.
    timestamps: every packet pts, sorted (segments.SegmentPlan.timestamps); used as display
    timestamps for DTS-only containers (AVI).
    Raises BadInputError naming the frame and time when decoding fails part way (truncated file)."""
    path = info.path
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as e:
        raise BadInputError(path, f"cannot open: {e}") from None
    n = 0
    last_pts = None
    by_order = timestamps is not None and dts_only(info.container)
    ts_index = 0
    if by_order:
        ts_index = bisect.bisect_left(timestamps, start_pts) if start_pts is not None else 0
    step = frame_step(info)
    try:
        vs = container.streams[info.video_index]
        vs.thread_type = "AUTO"
        if start_pts is not None:
            container.seek(start_pts, stream=vs, backward=True, any_frame=False)
        deint = None
        if deinterlace in ("match", "ivtc"):
            deint = _Deinterlacer(vs, IVTC_CHAIN)
        elif deinterlace == "on" or (deinterlace == "auto" and info.interlaced):
            deint = _Deinterlacer(vs, bwdif_chain("all" if deinterlace == "on" else "interlaced"))
        fmt = "rgb48le" if want16 else "rgb24"

        def fix_pts(frame) -> None:
            nonlocal ts_index
            if by_order:
                if ts_index < len(timestamps):
                    frame.pts = timestamps[ts_index]
                    ts_index += 1
                else:
                    frame.pts = None

        def convert(frame) -> DecodedFrame:
            nonlocal last_pts
            pts = frame.pts
            if pts is None or (last_pts is not None and pts <= last_pts):
                # No timestamp (raw streams) or out of order: continue evenly so the encoder
                # always gets increasing timestamps.
                pts = 0 if last_pts is None else last_pts + step
            last_pts = pts
            a = frame.to_ndarray(format=fmt, src_colorspace=plan.matrix, src_color_range=plan.range)
            if want16:
                a16 = upright(a, info.rotation)
                return DecodedFrame(pts, frame.duration or None, to_uint8(a16), a16)
            return DecodedFrame(pts, frame.duration or None, upright(a, info.rotation), None)

        try:
            for frame in container.decode(vs):
                if stop is not None and stop.is_set():
                    return
                fix_pts(frame)
                frames = deint.push(frame) if deint else [frame]
                for f in frames:
                    if start_pts is not None and f.pts is not None and f.pts < start_pts:
                        continue
                    out = convert(f)
                    n += 1
                    yield out
            for f in (deint.flush() if deint else []):
                if start_pts is not None and f.pts is not None and f.pts < start_pts:
                    continue
                n += 1
                yield convert(f)
        except av.FFmpegError as e:
            at = f"{float(last_pts * info.time_base):.2f}s" if last_pts is not None else "the start"
            raise BadInputError(path, f"decode error after frame {n} (at {at}): truncated or corrupt "
                                      f"({getattr(e, 'strerror', None) or e})") from None
    finally:
        container.close()


def timed_frames(path) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds, upright uint8 RGB HxWx3) for every frame of a file's first video stream.

    For readers that only look at frames (compare, eval): the same probe, colour matrix and
    rotation handling as the runner. Raises BadInputError for unreadable or truncated files."""
    from .colour import plan_for
    from .probe import probe

    info = probe(path)
    for f in decode_frames(info, plan_for(info)):
        yield float(f.pts * info.time_base), f.rgb

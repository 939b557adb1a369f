"""One frame of a video at a given time, for previews (the GUI), without decoding the whole file."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from ..errors import BadInputError
from .colour import plan_colour
from .decode import decode_frames
from .probe import VideoInfo, probe


def _start_pts(info: VideoInfo) -> int:
    """The video stream's first timestamp (time_base units); 0 when the container does not say."""
    try:
        with av.open(str(info.path), metadata_errors="ignore") as c:
            start = c.streams[info.video_index].start_time
    except (av.FFmpegError, OSError):
        return 0
    return int(start) if start is not None else 0


def frame_at(path: str | Path, seconds: float, info: VideoInfo | None = None) -> tuple[float, np.ndarray]:
    """(time of the frame shown at ``seconds`` from the start, upright uint8 RGB HxWx3).

    Seeks to the keyframe before the time and decodes from there, so a frame an hour in costs
    a keyframe interval, not an hour. A time past the end gives the last frame.
    Raises BadInputError for unreadable files."""
    info = info or probe(path)
    space, rng, prim, trc = info.colour_tags
    plan = plan_colour(info.coded_width, info.coded_height, space, rng, prim, trc, info.pix_fmt)
    start = _start_pts(info)
    seconds = max(0.0, float(seconds))
    if info.duration:
        seconds = min(seconds, info.duration)
    target = start + int(round(seconds / info.time_base))
    last = None
    for tries in range(2):
        # A frame shows from its pts until the next one: the first frame at or after the target
        # is the one that starts there, unless the target falls within the previous frame.
        for f in decode_frames(info, plan, start_pts=max(start, target - _frame_step(info)) if tries == 0 else None):
            if last is not None and f.pts > target:
                break
            last = f
            if f.pts >= target:
                break
        if last is not None:
            return float((last.pts - start) * info.time_base), last.rgb
    raise BadInputError(path, "no video frames could be decoded")


def _frame_step(info: VideoInfo) -> int:
    rate = info.base_fps or info.fps
    return max(1, int(round(1 / (rate * info.time_base)))) if rate else 1

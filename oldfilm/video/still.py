"""One frame of a video at a given time, for previews (the GUI), without decoding the whole file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import BadInputError
from .colour import plan_for
from .decode import decode_frames, frame_step
from .probe import VideoInfo, probe


def frame_at(path: str | Path, seconds: float, info: VideoInfo | None = None,
             deinterlace: str = "auto") -> tuple[float, np.ndarray]:
    """(time of the frame shown at ``seconds`` from the start, upright uint8 RGB HxWx3).

    ``deinterlace`` as the job's (EncodeOptions): "ivtc" shows the field-matched frame (the
    film frame a job keeps there, or the one it drops as a repeat).

    Seeks to the keyframe before the time and decodes from there, so a frame an hour in costs
    a keyframe interval, not an hour. A time past the end gives the last frame.
    Raises BadInputError for unreadable files."""
    info = info or probe(path)
    plan = plan_for(info)
    start = info.start_pts
    seconds = max(0.0, float(seconds))
    if info.duration:
        seconds = min(seconds, info.duration)
    target = start + int(round(seconds / info.time_base))
    # A frame shows from its pts until the next one's: the shown frame is the last one at or
    # before the target (the first one when none is). A seek past the last frame decodes
    # nothing; the second pass then decodes from the start.
    for seek in (max(start, target - frame_step(info)), None):
        shown = None
        for f in decode_frames(info, plan, start_pts=seek, deinterlace=deinterlace):
            if shown is not None and f.pts > target:
                break
            shown = f
            if f.pts >= target:
                break
        if shown is not None:
            return float((shown.pts - start) * info.time_base), shown.rgb
    raise BadInputError(path, "no video frames could be decoded")

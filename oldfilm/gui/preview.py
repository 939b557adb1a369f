"""Before/after of one frame (a photo, or a video's frame at a time) with the page's settings.

The frame is scaled down first (``PREVIEW_SIDE``), so a setting can be tried in a second or two
on a CPU; the colorizer works at its render factor whatever the size, so its colours are those
of the full job. Loaded networks are kept per settings (a few). The restoration part (restore,
faces) and the colour part run as two pipelines, and the restored frame is kept: a change to
the colour settings (saturation, colour maps, render factor, references) runs the colorizer
alone, not the face detector again. The chain is restore -> faces -> colorize either way, so the
result is the same as one pipeline's."""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import BadInputError, OldfilmError
from ..jobs import ALREADY_IN_COLOUR
from ..options import PipelineOptions
from ..pipeline import NOT_COLORIZED, Pipeline, _photo_is_colour, _video_is_colour
from .settings import preview_key, split_options

PREVIEW_SIDE = 720      # px on the long side
KEEP_PIPELINES = 4      # loaded settings kept (restoration and colour parts apart); each holds networks
KEEP_RESTORED = 4       # restored preview frames kept, so a colour change does not restore again


def fit_within(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """uint8 or uint16 RGB HxWx3 -> the same, scaled down (area filter) so the long side is at most
    ``max_side`` px; returned unchanged when it already fits."""
    h, w = rgb.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def crop_around(rgb: np.ndarray, cx: float, cy: float, side: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A window of at most side x side px at full resolution, centred on (cx, cy) given as
    fractions of the width and height and moved inside the image; returns it (a view of the
    same dtype) and its box (x0, y0, x1, y1) in pixels."""
    h, w = rgb.shape[:2]
    cw, ch = min(w, side), min(h, side)
    x0 = int(round(min(max(cx * w - cw / 2, 0), w - cw)))
    y0 = int(round(min(max(cy * h - ch / 2, 0), h - ch)))
    return rgb[y0:y0 + ch, x0:x0 + cw], (x0, y0, x0 + cw, y0 + ch)


@dataclass
class Preview:
    before: np.ndarray              # uint8 RGB HxWx3, the frame as read (scaled)
    after: np.ndarray               # uint8 RGB HxWx3
    is_video: bool
    seconds: float | None           # video: the time of the frame shown
    duration: float | None          # video: the file's duration
    size: tuple[int, int]           # the file's full (width, height)
    stages: list[str]               # what ran
    warnings: list[str] = field(default_factory=list)
    elapsed: float = 0.0            # s, stages only
    box: tuple[int, int, int, int] | None = None    # a 1:1 crop's place in the full frame


def read_still(path: Path, seconds: float, deinterlace: str = "auto"):
    """(uint8 RGB HxWx3 at full size, is_video, time shown, duration, is_colour thunk). The
    colour test is that of the job: the photo's own, or frames sampled over the video. A video's
    frame is decoded as the job's `deinterlace` setting decodes it."""
    from ..images import read_image, to_uint8
    from ..video.probe import is_video, probe

    if not path.is_file():
        raise BadInputError(path, "no such file")
    if not is_video(path):
        rgb, _ = read_image(path)
        return (to_uint8(rgb) if rgb.dtype != np.uint8 else rgb), False, None, None, lambda: _photo_is_colour(rgb)
    from ..video.still import frame_at

    info = probe(path)
    shown, rgb = frame_at(path, seconds, info, deinterlace=deinterlace)
    return rgb, True, shown, info.duration, lambda: _video_is_colour(path)


class Previewer:
    """Makes previews; thread-safe (one at a time: the CPU has no room for two)."""

    def __init__(self, make_pipeline=None, max_side: int = PREVIEW_SIDE):
        self._make = make_pipeline or Pipeline
        self.max_side = max_side
        self._pipelines: OrderedDict[str, object] = OrderedDict()
        self._colour: dict[tuple[str, float], bool] = {}     # (path, mtime) -> the file is in colour
        self._restored: OrderedDict[tuple, tuple] = OrderedDict()   # frame and settings -> restore's result
        self._lock = threading.Lock()

    def _pipeline(self, options: PipelineOptions):
        key = preview_key(options)
        if key in self._pipelines:
            self._pipelines.move_to_end(key)
            return self._pipelines[key]
        while len(self._pipelines) >= KEEP_PIPELINES:
            self._pipelines.popitem(last=False)
        pipe = self._make(options)
        self._pipelines[key] = pipe
        return pipe

    def render(self, path: str | Path, options: PipelineOptions, seconds: float = 0.0,
               crop: tuple[float, float] | None = None) -> Preview:
        """``crop``: (cx, cy) in fractions of the frame: a 1:1 window there instead of the whole
        frame scaled down, to judge grain, scratches and faces at the job's own resolution."""
        path = Path(path)
        with self._lock:
            fields = options.encode.deinterlace
            rgb, video, shown, duration, colour_test = read_still(path, seconds, fields)
            full = (rgb.shape[1], rgb.shape[0])
            box = None
            if crop is not None:
                small, box = crop_around(rgb, crop[0], crop[1], self.max_side)
                small = np.ascontiguousarray(small)
            else:
                small = fit_within(rgb, self.max_side)
            stamp = (str(path.resolve()), path.stat().st_mtime)

            def is_colour() -> bool:      # the video test samples the file: once per file
                if stamp not in self._colour:
                    self._colour[stamp] = bool(colour_test())
                return self._colour[stamp]

            upstream, colour = split_options(options)
            t0 = time.perf_counter()
            out, warnings, stages = small, [], []
            if upstream is not None:
                key = (stamp, shown, box, video, fields, preview_key(upstream))
                if key not in self._restored:
                    try:
                        self._restored[key] = self._pipeline(upstream).run_still(small, is_video=video,
                                                                                 is_colour=is_colour)
                    except OldfilmError as e:
                        # No restoration stage is on (--no-restore, no face model): colour alone.
                        if colour is None or "nothing to do" not in str(e):
                            raise
                        self._restored[key] = (small, [], [])
                    while len(self._restored) > KEEP_RESTORED:
                        self._restored.popitem(last=False)
                self._restored.move_to_end(key)
                out, warnings, stages = self._restored[key]
            if colour is not None:
                out, notes, more = self._pipeline(colour).run_still(out, is_video=video, is_colour=is_colour)
                if not more:     # a colour file: what the job would say (run_still is silent when nothing runs)
                    notes = [NOT_COLORIZED if stages else f"{ALREADY_IN_COLOUR}: a job skips this file "
                                                          "(recolor replaces its colours with the colorizer's)"]
                warnings, stages = warnings + [n for n in notes if n not in warnings], stages + more
            return Preview(small, out, video, shown, duration, full, stages, warnings, time.perf_counter() - t0, box)


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """uint8 RGB HxWx3 -> JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()

"""Encode RGB frames to one video file (a segment) with the input's timestamps.

The encoder's time_base is the input stream's and every frame keeps its pts, so variable frame
rate and the frame count survive exactly. Frames are converted to YUV here (not by PyAV's
implicit reformatter) so the BT.601/BT.709 matrix matches the one used for decoding.

Odd frame sizes: 4:2:0 needs even sizes (libx264 refuses odd ones, and x264's crop-rect is not
accepted by the wheel's libx264). Padding would change the display size, so odd-sized video is
encoded as 4:4:4 instead (H.264 High 4:4:4, H.265 RExt, FFV1, ProRes 4444): the exact size is
kept at the cost of some hardware-player compatibility.
"""
from __future__ import annotations

import errno
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import OutputError
from ..options import EncodeOptions
from .colour import ColourPlan

ENCODERS = {"h264": "libx264", "h265": "libx265", "ffv1": "ffv1", "prores": "prores_ks"}
# Segment containers: mov keeps the input time_base exactly (or an integer multiple of it) and
# negative dts; it refuses FFV1, which goes to NUT (also an exact time base). Both may shift the
# start, which the join undoes (mux.join re-anchors on the recorded first pts).
SEGMENT_FORMATS = {"h264": "mov", "h265": "mov", "prores": "mov", "ffv1": "nut"}


def segment_suffix(codec: str) -> str:
    return "." + SEGMENT_FORMATS[codec]


def pix_fmt_for(codec: str, ten_bit: bool, odd: bool) -> str:
    if codec == "prores":
        return "yuv444p10le" if odd else "yuv422p10le"
    chroma = "444" if odd else "420"
    return f"yuv{chroma}p10le" if ten_bit else f"yuv{chroma}p"


def encoder_options(opts: EncodeOptions, odd: bool) -> dict[str, str]:
    if opts.codec == "h264":
        return {"crf": str(opts.crf), "preset": opts.preset, **({} if opts.reorder else {"bf": "0"})}
    if opts.codec == "h265":
        return {"crf": str(opts.crf), "preset": opts.preset,
                "x265-params": "log-level=error" + ("" if opts.reorder else ":bframes=0")}
    if opts.codec == "ffv1":
        return {"level": "3", "slicecrc": "1", "g": "1"}
    return {"profile": "4" if odd else "3"}     # prores_ks: 3 = HQ 4:2:2, 4 = 4444


class SegmentEncoder:
    """One output video file holding only the encoded video stream.

    Frames are given in stored orientation (the runner un-rotates); the display matrix is written
    to the stream so players show them upright, as the input was shown."""

    def __init__(self, path: Path, opts: EncodeOptions, *, width: int, height: int,
                 time_base: Fraction, rate: Fraction | None, sar: Fraction, rotation: int,
                 plan: ColourPlan, ten_bit: bool):
        self.path = Path(path)
        self.ten_bit = ten_bit
        self.plan = plan
        odd = width % 2 == 1 or height % 2 == 1
        self.pix_fmt = pix_fmt_for(opts.codec, ten_bit, odd)
        try:
            fmt = SEGMENT_FORMATS[opts.codec]
            self.container = av.open(str(self.path), "w", format=fmt,
                                     options={"use_editlist": "0"} if fmt == "mov" else {})
            # The codec rate only sets the last packet's duration (x264 derives it from 1/rate),
            # so the base rate (finest regular step), not the VFR average, keeps the duration.
            s = self.container.add_stream(ENCODERS[opts.codec], rate=rate or Fraction(25))
            s.width, s.height, s.pix_fmt = width, height, self.pix_fmt
            cc = s.codec_context
            cc.time_base = time_base
            s.time_base = time_base
            if sar and sar != 1:
                cc.sample_aspect_ratio = sar
            cc.colorspace = plan.colorspace_tag
            cc.color_range = plan.range_tag
            cc.color_primaries = plan.primaries_tag
            cc.color_trc = plan.trc_tag
            if opts.codec == "h265":
                cc.codec_tag = "hvc1"   # what Apple players require; the mov/mp4 default is hev1
            s.options = encoder_options(opts, odd)
            if rotation:
                s.set_display_rotation(rotation)
            self.stream = s
        except (OSError, av.FFmpegError) as e:
            raise _output_error(self.path, e) from None
        self.frames = 0

    def encode(self, rgb: np.ndarray, pts: int, duration: int | None) -> None:
        """rgb: uint8 (8-bit output) or uint16 (10-bit output) RGB HxWx3, stored orientation."""
        if rgb.dtype == np.uint16:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le")
        else:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame = frame.reformat(format=self.pix_fmt, dst_colorspace=self.plan.matrix,
                               dst_color_range=self.plan.range)
        frame.pts = pts
        frame.time_base = self.stream.codec_context.time_base
        if duration:
            frame.duration = duration
        self._mux(self.stream.encode(frame))
        self.frames += 1

    def close(self) -> None:
        try:
            self._mux(self.stream.encode(None))
            self.container.close()
        except (OSError, av.FFmpegError) as e:
            raise _output_error(self.path, e) from None

    def abort(self) -> None:
        try:
            self.container.close()
        except (OSError, av.FFmpegError):
            pass

    def _mux(self, packets) -> None:
        try:
            self.container.mux(packets)
        except (OSError, av.FFmpegError) as e:
            raise _output_error(self.path, e) from None


def _output_error(path: Path, e: Exception) -> OutputError:
    if getattr(e, 'errno', None) == errno.ENOSPC:
        return OutputError(path, "disk full")
    return OutputError(path, f"cannot write video: {getattr(e, 'strerror', None) or e}")

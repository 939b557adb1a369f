"""Side-by-side before/after output: `oldfilm compare A B -o OUT` and restore/colorize --compare.

Photos: both images next to each other at the "after" image's size, each labelled.
Video: one frame size, the left part from "before" and the right part from "after" with a divider
(``split``), or a divider that sweeps across and back (``wipe``); labelled, encoded H.264, with the
"after" file's audio and subtitle packets copied untouched. Frames are paired by time, so a
before clip at another frame rate still lines up.
"""
from __future__ import annotations

import argparse
import sys
import math
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Literal

import av
import cv2
import numpy as np
from PIL import Image

from .contact_sheet import label_bar, side_by_side
from .errors import BadInputError, OutputError

from .images import IMAGE_EXTENSIONS

# Containers we write a compare video in; anything else becomes .mkv (it holds any audio codec).
_VIDEO_OUT = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".m4v": "mp4"}
COMPARE_SUFFIX = "_compare"
Mode = Literal["split", "wipe"]


# ---------------------------------------------------------------- photos
def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def read_rgb8(path: str | Path) -> np.ndarray:
    """Any photo oldfilm reads -> uint8 RGB HxWx3, upright (16-bit scans scaled to 8-bit)."""
    from .images import read_image, to_uint8

    rgb, _ = read_image(path)
    return to_uint8(rgb) if rgb.dtype == np.uint16 else rgb


def write_rgb8(path: str | Path, rgb: np.ndarray) -> None:
    """Write uint8 RGB in the format the extension names (JPEG at quality 95)."""
    path = Path(path)
    kwargs = {"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg", ".webp") else {}
    try:
        Image.fromarray(rgb).save(path, **kwargs)
    except (OSError, ValueError, KeyError) as e:
        raise OutputError(path, f"cannot write ({e})") from None


def write_compare_image(before: np.ndarray, after: np.ndarray, path: str | Path,
                        labels: tuple[str, str] = ("before", "after")) -> Path:
    """Write ``before`` | ``after`` (uint8 RGB HxWx3, before resized to after's size), labelled."""
    path = Path(path)
    write_rgb8(path, side_by_side(before, after, labels))
    return path


# ---------------------------------------------------------------- video
def split_frame(before: np.ndarray, after: np.ndarray, position: float,
                labels: tuple[str, str] = ("before", "after")) -> np.ndarray:
    """One compare frame: columns left of ``position`` (0..1 of the width) from ``before``, the
    rest from ``after``, a 2 px divider, and a label bar over each side. Same size as ``after``."""
    h, w = after.shape[:2]
    if before.shape[:2] != (h, w):
        before = cv2.resize(before, (w, h), interpolation=cv2.INTER_AREA)
    x = int(round(min(max(position, 0.0), 1.0) * w))
    out = after.copy()
    out[:, :x] = before[:, :x]
    out[:, max(0, x - 1):x + 1] = 255
    bar = max(14, min(48, h // 18))
    for text, x0, x1 in ((labels[0], 0, x), (labels[1], x, w)):
        if x1 - x0 >= 4 * bar:   # no label on a sliver: it would cover the picture
            lab = label_bar(min(x1 - x0, 12 * bar), text, bar)
            cx = x0 + (x1 - x0 - lab.shape[1]) // 2
            out[:bar, cx:cx + lab.shape[1]] = lab
    return out


def wipe_position(t: float, period: float = 4.0) -> float:
    """Divider position (0..1) at ``t`` seconds: a triangle wave, left to right and back in ``period``."""
    phase = (t / period) % 1.0
    return 0.05 + 0.9 * (2 * phase if phase < 0.5 else 2 - 2 * phase)


def _open(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as e:
        raise BadInputError(path, f"not a readable media file ({e.__class__.__name__})") from None


class _TimePairer:
    """For each time t, the latest frame of a clip whose time is <= t (the first before that)."""

    def __init__(self, frames: Iterator[tuple[float, np.ndarray]]):
        self._it = frames
        self._cur = next(frames, None)
        self._next = next(frames, None)
        if self._cur is None:
            raise ValueError("empty clip")

    def at(self, t: float) -> np.ndarray:
        while self._next is not None and not math.isnan(t) and self._next[0] <= t + 1e-6:
            self._cur, self._next = self._next, next(self._it, None)
        return self._cur[1]


def compare_video(src_before: str | Path, src_after: str | Path, out: str | Path, *,
                  labels: tuple[str, str] = ("before", "after"), mode: Mode = "split", crf: int = 18) -> Path:
    """Write a split (or wipe) compare video of two clips; returns the path written.

    The video follows ``src_after``'s timestamps and size; its audio and subtitle packets are
    copied unchanged. An output extension that is not .mp4/.mov/.mkv/.m4v becomes .mkv.
    """
    before_path, after_path, out = Path(src_before), Path(src_after), Path(out)
    if out.suffix.lower() not in _VIDEO_OUT:
        out = out.with_suffix(".mkv")
    if out.resolve() in (before_path.resolve(), after_path.resolve()):
        raise OutputError(out, "the compare output would overwrite an input")
    from .video.decode import timed_frames, upright
    from .video.probe import probe

    # probe() says in one line what is wrong with a bad file, and gives the display rotation.
    after_info = probe(after_path)   # before_path is probed by timed_frames
    try:
        pair = _TimePairer(timed_frames(before_path))
    except ValueError:
        raise BadInputError(before_path, "has no video frames") from None
    src = _open(after_path)
    tmp = out.with_name(f".{out.name}.oldfilm-tmp{out.suffix}")
    try:
        try:
            dst = av.open(str(tmp), "w", format=_VIDEO_OUT[out.suffix.lower()])
        except (av.FFmpegError, OSError) as e:
            raise OutputError(out, f"cannot write ({e.__class__.__name__})") from None
        with dst:
            vin = src.streams.video[0]
            vin.thread_type = "AUTO"
            w, h = after_info.width, after_info.height      # upright: we write display orientation
            rate = vin.average_rate or Fraction(25)
            vout = dst.add_stream("libx264", rate=rate)
            vout.width, vout.height = w - w % 2, h - h % 2   # yuv420p needs even sides
            vout.pix_fmt = "yuv420p"
            vout.time_base = vin.time_base
            vout.codec_context.time_base = vin.time_base
            vout.options = {"crf": str(crf), "preset": "veryfast"}
            copies = {}
            for s in list(src.streams.audio) + list(src.streams.subtitles):
                try:
                    copies[s.index] = dst.add_stream_from_template(s)
                except (av.FFmpegError, ValueError):
                    pass   # a codec this container cannot hold: the compare video goes without it
            streams = [vin, *[s for s in src.streams if s.index in copies]]
            t0 = None
            for packet in src.demux(streams):
                if packet.stream.index in copies:
                    if packet.dts is None:
                        continue
                    packet.stream = copies[packet.stream.index]
                    dst.mux(packet)
                    continue
                for frame in packet.decode():
                    t = float(frame.pts * frame.time_base) if frame.pts is not None else math.nan
                    t0 = t if t0 is None else t0
                    rgb = upright(frame.to_ndarray(format="rgb24"), after_info.rotation)
                    pos = 0.5 if mode == "split" else wipe_position(t - t0 if not math.isnan(t) else 0.0)
                    img = split_frame(pair.at(t), rgb, pos, labels)[: vout.height, : vout.width]
                    vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
                    vf.pts, vf.time_base = frame.pts, frame.time_base
                    dst.mux(vout.encode(vf))
            dst.mux(vout.encode(None))
        tmp.replace(out)
    except av.FFmpegError as e:
        # Decoding AFTER or writing OUT failed midway; FFmpeg's own words say which.
        raise OutputError(out, f"cannot make the compare video of {after_path.name}: "
                               f"{' '.join(str(e).split())}") from None
    finally:
        src.close()
        tmp.unlink(missing_ok=True)
    return out


# ---------------------------------------------------------------- glue for jobs and the CLI
def compare_path(output_path: str | Path) -> Path:
    """``<stem>_compare.<ext>`` next to an output."""
    p = Path(output_path)
    return p.with_name(f"{p.stem}{COMPARE_SUFFIX}{p.suffix}")


def compare_files(before: str | Path, after: str | Path, out: str | Path, *,
                  labels: tuple[str, str] | None = None, mode: Mode = "split") -> Path:
    """A compare image (two photos) or video (two clips) of any two files; returns the path written."""
    before, after, out = Path(before), Path(after), Path(out)
    labels = labels or (before.name, after.name)
    if is_image_path(before) != is_image_path(after):
        raise BadInputError(after, f"cannot compare a {'photo' if is_image_path(before) else 'video'} "
                                   f"({before.name}) with a {'photo' if is_image_path(after) else 'video'}")
    if is_image_path(after):
        if not is_image_path(out):
            raise OutputError(out, f"a photo comparison needs an image extension ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        return write_compare_image(read_rgb8(before), read_rgb8(after), out, labels)
    return compare_video(before, after, out, labels=labels, mode=mode)


def write_compare(input_path: str | Path, output_path: str | Path) -> Path:
    """For --compare: ``<stem>_compare.<ext>`` beside ``output_path``, input vs output, labelled
    "original" / "oldfilm". Returns the path written (a video may become .mkv)."""
    return compare_files(input_path, output_path, compare_path(output_path), labels=("original", "oldfilm"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("before", type=Path, help="the original photo or clip (left side)")
    parser.add_argument("after", type=Path, help="the processed photo or clip (right side; its audio is kept)")
    parser.add_argument("-o", "--output", type=Path, default=None,
                        help="output file (default: <after stem>_compare.<ext> beside AFTER)")
    parser.add_argument("--mode", choices=("split", "wipe"), default="split",
                        help="video only: fixed split at the middle, or a divider sweeping across (default split)")
    parser.add_argument("--labels", nargs=2, metavar=("LEFT", "RIGHT"), default=None,
                        help="label texts (default: the file names)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")


def run(args: argparse.Namespace) -> int:
    out = args.output or compare_path(args.after)
    if out.exists() and not args.overwrite:
        raise OutputError(out, "exists (use --overwrite to replace it)")
    written = compare_files(args.before, args.after, out, labels=tuple(args.labels) if args.labels else None,
                            mode=args.mode)
    print(written)
    return 0



if __name__ == "__main__":  # same parsing and one-line errors as `oldfilm`
    from oldfilm.cli import main

    sys.exit(main(['compare', *sys.argv[1:]]))

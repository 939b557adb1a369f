"""`oldfilm info FILE`: what a video or photo holds, and whether it is black-and-white.

Black-and-white test: ~10 frames spread over the file are decoded (seeking, so a long reel costs
the same as a short one) and judged by oldfilm.monochrome: grey, sepia, toned and dye-tinted
frames are black-and-white; a frame with a colour that does not follow its luminance is colour.

Repeated frames: two runs of ~2 s of consecutive frames are judged as the runner judges them
(video/repeats.py). Their share tells how many distinct pictures a second the film holds: film
shot at 16-20 fps and transferred at 25 fps repeats a quarter to a third of its frames.

Flicker: on the same runs, the mean exposure correction `--deflicker` (video/deflicker.py) would
make, in levels at mid-grey; from FLICKER_HINT on the line says it is worth using.
"""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from ..errors import BadInputError
from ..monochrome import is_monochrome
from .. import provenance
from .probe import VideoInfo, is_video, probe
from . import ivtc
from .colour import plan_for
from .deflicker import frames_correction_table
from .repeats import reuse_plan

SAMPLES = 10
REPEAT_WINDOWS, REPEAT_SECONDS = 2, 2.0


def _decoded_size(info: VideoInfo, max_side: int) -> tuple[int, int]:
    """Even width and height of the coded frame scaled down to at most `max_side`."""
    scale = min(1.0, max_side / max(info.coded_width, info.coded_height, 1))
    return max(2, int(info.coded_width * scale) // 2 * 2), max(2, int(info.coded_height * scale) // 2 * 2)


def _decode_runs(info: VideoInfo, positions: list[float | None], length: int,
                 max_side: int) -> list[list[np.ndarray]]:
    """For each position (a fraction of the duration; None: the first frame), up to `length`
    consecutive uint8 RGB frames from there, downscaled to at most `max_side`. Seeks, so a long
    reel costs the same as a short one; a position that cannot be decoded gives what it got."""
    runs: list[list[np.ndarray]] = []
    with av.open(str(info.path), metadata_errors="ignore") as c:
        vs = c.streams[info.video_index]
        vs.thread_type = "AUTO"
        w, h = _decoded_size(info, max_side)
        start = float(vs.start_time * vs.time_base) if vs.start_time is not None else 0.0
        for pos in positions:
            t = None if pos is None else start + (info.duration or 0.0) * pos
            run: list[np.ndarray] = []
            try:
                if t is not None:
                    c.seek(int(t / vs.time_base), stream=vs, backward=True)
                for f in c.decode(vs):
                    if t is None or f.pts is None or f.pts * vs.time_base >= t - 1e-6:
                        run.append(f.to_ndarray(format="rgb24", width=w, height=h))
                        if len(run) >= length:
                            break
            except av.FFmpegError:
                pass
            runs.append(run)
    return runs


def sample_frames(info: VideoInfo, count: int = SAMPLES, max_side: int = 320) -> list[np.ndarray]:
    """Up to `count` uint8 RGB frames spread evenly over the video, downscaled (cheap)."""
    positions = [(i + 0.5) / count for i in range(count)] if info.duration else [None]
    return [run[0] for run in _decode_runs(info, positions, 1, max_side) if run]


def sample_runs(info: VideoInfo, windows: int = REPEAT_WINDOWS, seconds: float = REPEAT_SECONDS,
                max_side: int = 640) -> list[list[np.ndarray]]:
    """`windows` runs of `seconds` of consecutive uint8 RGB frames spread through the video (one
    run from the start for a short clip); runs of fewer than two frames are left out."""
    fps = float(info.fps or info.base_fps or 0) or 24.0
    short = (info.duration or 0.0) < windows * seconds * 1.5
    positions = [None] if short else [(i + 1) / (windows + 1) for i in range(windows)]
    return [r for r in _decode_runs(info, positions, max(2, round(seconds * fps)), max_side) if len(r) >= 2]


def repeat_share(runs: list[list[np.ndarray]]) -> float | None:
    """Share of the runs' frames that repeat the last distinct one; None without runs."""
    if not runs:
        return None
    repeated = sum(len(r) - len(reuse_plan(r, None)[0]) for r in runs)
    return repeated / sum(len(r) for r in runs)


def flicker_levels(runs: list[list[np.ndarray]], fps: float) -> float | None:
    """How much `--deflicker` would move mid-grey (8-bit level 128) on the runs' frames, on
    average, in levels (video/deflicker.py); None without runs. About 0.1-0.5 on steady footage."""
    moves = []
    for r in runs:
        table = frames_correction_table(r, fps)
        moves += np.abs(table[:, 0] * 128 + table[:, 1] - 128).tolist()
    return float(np.mean(moves)) if moves else None


def describe(path: str | Path) -> dict:
    """A JSON-able description of a video or photo file."""
    p = Path(path)
    if not is_video(p):
        from ..images import read_image, to_uint8

        rgb, meta = read_image(p)
        rgb8 = to_uint8(rgb) if rgb.dtype == np.uint16 else rgb
        return {
            "path": str(p), "kind": "image", "format": meta.format, "width": rgb.shape[1],
            "height": rgb.shape[0], "bit_depth": meta.bit_depth, "mode": meta.mode,
            "exif_orientation": meta.orientation, "icc_profile": meta.icc is not None,
            "black_and_white": is_monochrome([rgb8]), "made_by": provenance.read_exif(meta.exif),
            "dpi": list(meta.dpi) if meta.dpi else None, "pages": meta.pages,
        }
    info = probe(p)
    try:
        bw = is_monochrome(sample_frames(info))
        runs = sample_runs(info)
        repeats = repeat_share(runs)
        flicker = flicker_levels(runs, float(info.fps or info.base_fps or 0) or 24.0)
        telecined = ivtc.sniff(info, plan_for(info)) if ivtc.is_ntsc_rate(info.base_fps or info.fps) else None
    except av.FFmpegError as e:
        raise BadInputError(p, f"cannot decode frames ({e})") from None
    return {
        "path": str(p), "kind": "video", "container": info.container,
        "width": info.width, "height": info.height, "rotation": info.rotation,
        "sample_aspect_ratio": str(info.sar),
        "fps": float(info.fps) if info.fps else None, "duration": info.duration,
        # average rate below the base (finest) rate: frames are unevenly spaced
        "variable_frame_rate": bool(info.fps and info.base_fps and info.fps != info.base_fps),
        "frames": info.frame_count, "frames_exact": info.frame_count_exact,
        "pix_fmt": info.pix_fmt, "bit_depth": info.bit_depth, "interlaced": info.interlaced,
        "color_space": info.color_space, "color_range": info.color_range,
        "black_and_white": bw,
        "repeated_share": None if repeats is None else round(repeats, 3),
        "flicker_levels": None if flicker is None else round(flicker, 2),
        "telecined": telecined,
        "made_by": video_made_by(p),
        "streams": [{"index": s.index, "type": s.type, "codec": s.codec, "detail": s.detail}
                    for s in info.streams],
    }


def video_made_by(path: str | Path) -> str | None:
    """The oldfilm line in a video's container comment (provenance.py), or None, also when the
    file cannot be opened (the caller's own reading says why, in one line)."""
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            return provenance.read_comment(c.metadata)
    except (OSError, av.FFmpegError):
        return None


def format_info(d: dict) -> str:
    """Human-readable lines for describe()'s dict."""
    bw = {True: "yes", False: "no (colour)", None: "unknown"}[d.get("black_and_white")]
    if d["kind"] == "image":
        return "\n".join([
            f"{d['path']}",
            f"  image      {d['format']}, {d['width']}x{d['height']}, {d['bit_depth']}-bit {d['mode']}",
            f"  EXIF orientation {d['exif_orientation']}" + (", ICC profile" if d["icc_profile"] else "")
            + (f", {d['dpi'][0]:g} dpi" if d.get("dpi") else "") + (f", {d['pages']} pages" if d.get("pages", 1) > 1 else ""),
            f"  black-and-white: {bw}",
            *([f"  made by    {d['made_by']}"] if d.get("made_by") else []),
        ])
    dur = f"{d['duration']:.3f} s" if d.get("duration") is not None else "unknown"
    fps = f"{d['fps']:.3f} fps" if d.get("fps") else "unknown fps"
    if d.get("variable_frame_rate"):
        fps += " average (variable frame rate)"
    frames = f"{d['frames']}" + ("" if d.get("frames_exact") else " (estimate)") if d.get("frames") else "unknown"
    lines = [
        f"{d['path']}",
        f"  container  {d['container']}",
        f"  size       {d['width']}x{d['height']} (display)" + (f", rotated {d['rotation']}°" if d["rotation"] else "")
        + (f", SAR {d['sample_aspect_ratio']}" if d["sample_aspect_ratio"] not in ("1", "1/1") else ""),
        f"  timing     {fps}, {dur}, {frames} frames",
        f"  pixels     {d['pix_fmt']}, {d['bit_depth']}-bit"
        + (", interlaced" if d.get("interlaced") else "")
        + (f", {d['color_space']}" if d.get("color_space") else "")
        + (f" {d['color_range']}" if d.get("color_range") else ""),
        f"  black-and-white: {bw}",
        f"  repeats    {_repeats_text(d)}",
        f"  flicker    {_flicker_text(d)}",
        f"  pulldown   {_pulldown_text(d)}",
        *([f"  made by    {d['made_by']}"] if d.get("made_by") else []),
        "  streams:",
    ]
    for s in d["streams"]:
        lines.append(f"    #{s['index']} {s['type']:<8} {s['codec']:<10} {s['detail']}".rstrip())
    return "\n".join(lines)


FLICKER_HINT = 1.0   # levels at mid-grey from which `oldfilm info` suggests --deflicker


def _flicker_text(d: dict) -> str:
    level = d.get("flicker_levels")
    if level is None:
        return "unknown"
    text = f"{level:.1f} levels (the mean exposure correction --deflicker would make at mid-grey)"
    return text + (": worth using" if level >= FLICKER_HINT else ": little to steady")


def _pulldown_text(d: dict) -> str:
    t = d.get("telecined")
    if t is None:
        return "not looked for (film is telecined to 29.97 fps)"
    if t:
        return ("3:2 (film telecined to 29.97 fps): --deinterlace ivtc gives back the film's own "
                "frames at 23.976 fps")
    return "none found"


def _repeats_text(d: dict) -> str:
    share = d.get("repeated_share")
    if share is None:
        return "unknown"
    if share == 0:
        return "none (every sampled frame is a new picture)"
    text = f"{share:.0%} of sampled frames repeat the one before"
    if d.get("fps"):
        text += f": about {d['fps'] * (1 - share):.1f} pictures a second (each is restored once)"
    return text

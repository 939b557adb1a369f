"""What a media file holds: streams, size, rotation, timing, pixel format. Never decodes more than
one frame, so probing a two-hour reel is instant.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from ..errors import BadInputError
from .colour import range_name, space_name

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".m2v", ".ts", ".mts",
    ".m2ts", ".vob", ".wmv", ".asf", ".flv", ".ogv", ".3gp", ".3g2", ".dv", ".mxf", ".nut", ".y4m",
})
# Containers that also hold single pictures; is_video() must never claim a photo.
_IMAGE_DEMUXERS = ("image2", "_pipe", "png", "jpeg", "webp", "tiff", "bmp", "gif")


@dataclass
class StreamInfo:
    index: int
    type: str            # 'video' | 'audio' | 'subtitle' | 'data' | 'attachment'
    codec: str
    detail: str          # human summary: "1920x1080 yuv420p 24 fps", "aac 48000 Hz stereo"


@dataclass
class VideoInfo:
    path: Path
    container: str                   # FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    width: int                       # upright display size: coded size with rotation applied
    height: int
    rotation: int                    # counter-clockwise display rotation, 0/90/180/270
    sar: Fraction
    fps: Fraction | None             # average rate; VFR files keep their own timestamps anyway
    time_base: Fraction
    duration: float | None           # seconds
    frame_count: int | None
    frame_count_exact: bool
    pix_fmt: str
    bit_depth: int
    interlaced: bool | None          # first frame's flag
    color_space: str | None          # e.g. "bt709"; None when untagged
    color_range: str | None          # "tv" | "pc" | None
    streams: list[StreamInfo] = field(default_factory=list)
    is_bw: bool | None = None        # filled by info.describe (needs sampling)
    coded_width: int = 0             # stored (pre-rotation) size
    coded_height: int = 0
    video_index: int = 0
    base_fps: Fraction | None = None   # FFmpeg's guessed (base) rate: the finest regular frame step
    colour_tags: tuple[int, int, int, int] = (2, 0, 2, 2)   # raw AVColorSpace, range, primaries, trc
    start_pts: int = 0               # the video stream's first timestamp (time_base), 0 when unknown


def is_video(path: str | Path) -> bool:
    """Cheap test: a known video extension, or a container FFmpeg opens with a video stream that
    is not a still-image demuxer. Photos are never videos."""
    p = Path(path)
    if p.suffix.lower() in VIDEO_EXTENSIONS:
        return True
    from ..images import IMAGE_EXTENSIONS

    if p.suffix.lower() in IMAGE_EXTENSIONS or not p.is_file():
        return False
    try:
        with av.open(str(p), metadata_errors="ignore") as c:
            name = c.format.name
            # Cover art alone (a music file) is not a video.
            return main_video_stream(c) is not None and not any(k in name for k in _IMAGE_DEMUXERS)
    except (av.FFmpegError, OSError, ValueError):
        return False


def main_video_stream(container):
    """The picture stream: the first video stream that is not cover art (attached_pic)."""
    for s in container.streams.video:
        if not (int(s.disposition) & int(av.stream.Disposition.attached_pic)):
            return s
    return None


def _bit_depth(pix_fmt: str) -> int:
    try:
        fmt = av.VideoFormat(pix_fmt)
        return max(c.bits for c in fmt.components) if fmt.components else 8
    except (ValueError, TypeError):
        return 8


def _stream_info(s) -> StreamInfo:
    cc = s.codec_context
    codec = cc.name if cc is not None else (s.codec.name if getattr(s, "codec", None) else "unknown")
    if s.type == "video" and cc is not None:
        rate = s.average_rate or s.guessed_rate
        detail = f"{cc.width}x{cc.height} {cc.pix_fmt or '?'}" + (f" {float(rate):.3f} fps" if rate else "")
    elif s.type == "audio" and cc is not None:
        layout = getattr(getattr(cc, "layout", None), "name", "") or ""
        detail = f"{cc.sample_rate} Hz {layout}".strip()
    else:
        detail = ""
    lang = s.metadata.get("language")
    if lang:
        detail = f"{detail} [{lang}]".strip()
    return StreamInfo(index=s.index, type=s.type, codec=codec, detail=detail)


def probe(path: str | Path) -> VideoInfo:
    """Describe a video file. Raises BadInputError (one line naming the file) for a zero-byte
    file, a non-media file, a file with no video stream, or a video codec FFmpeg cannot decode."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise BadInputError(p, f"cannot read: {e.strerror or e}") from None
    if size == 0:
        raise BadInputError(p, "empty file (0 bytes)")
    try:
        c = av.open(str(p), metadata_errors="ignore")
    except av.FFmpegError as e:
        raise BadInputError(p, f"not a media file FFmpeg can read, or truncated ({_short(e)})") from None
    with c:
        vs = main_video_stream(c)
        if vs is None:
            kinds = sorted({s.type for s in c.streams})
            raise BadInputError(p, "no video stream" + (f" (only {', '.join(kinds)})" if kinds else ""))
        cc = vs.codec_context
        if cc is None or not cc.codec or not cc.codec.is_decoder:
            raise BadInputError(p, f"unsupported video codec ({_codec_name(vs)})")
        first = None
        try:
            for first in c.decode(vs):
                break
        except av.FFmpegError as e:
            raise BadInputError(p, f"cannot decode the first video frame ({_short(e)})") from None
        if first is None:
            raise BadInputError(p, "the video stream holds no decodable frame (zero frames or truncated)")
        rotation = int(round(first.rotation or 0)) % 360
        rotation = (rotation + 45) // 90 * 90 % 360
        cw, ch = first.width, first.height
        w, h = (ch, cw) if rotation in (90, 270) else (cw, ch)
        tb = vs.time_base or Fraction(1, 90000)
        rate = vs.average_rate or vs.guessed_rate
        # The container's duration (longest stream) is what players show; a video stream's
        # own duration is unreliable with B-frames and edit lists.
        duration = None
        if c.duration is not None:
            duration = c.duration / av.time_base
        elif vs.duration is not None:
            duration = float(vs.duration * tb)
        frames = vs.frames or 0
        exact = frames > 0
        if not exact:
            frames = int(round(duration * float(rate))) if duration and rate else 0
        pix_fmt = first.format.name
        return VideoInfo(
            path=p, container=c.format.name, width=w, height=h, rotation=rotation,
            sar=Fraction(vs.sample_aspect_ratio or cc.sample_aspect_ratio or 1) or Fraction(1),
            fps=Fraction(rate) if rate else None, time_base=Fraction(tb), duration=duration,
            frame_count=frames or None, frame_count_exact=exact, pix_fmt=pix_fmt,
            bit_depth=_bit_depth(pix_fmt), interlaced=bool(first.interlaced_frame),
            color_space=space_name(first.colorspace) or space_name(cc.colorspace),
            color_range=range_name(first.color_range) or range_name(cc.color_range),
            streams=[_stream_info(s) for s in c.streams], coded_width=cw, coded_height=ch,
            video_index=vs.index,
            base_fps=Fraction(vs.guessed_rate) if vs.guessed_rate else (Fraction(rate) if rate else None),
            colour_tags=(int(first.colorspace), int(first.color_range), int(first.color_primaries),
                         int(first.color_trc)),
            start_pts=int(vs.start_time) if vs.start_time is not None else 0,
        )


def _codec_name(stream) -> str:
    try:
        return stream.codec_context.name
    except (AttributeError, av.FFmpegError):
        return "unknown"


def _short(e: BaseException) -> str:
    text = str(e).split(":")[0] if isinstance(e, av.FFmpegError) else str(e)
    return getattr(e, "strerror", None) or text

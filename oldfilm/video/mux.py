"""Join encoded segments and the source's audio/subtitle packets into the final file.

Nothing is re-encoded here: video packets are copied from the segment files, audio and subtitle
packets from the source (bytes and timestamps untouched). The output keeps the source's container
when it can hold every copied stream; otherwise it is Matroska, which holds nearly anything.
"""
from __future__ import annotations

import errno
import heapq
import io
from fractions import Fraction
from pathlib import Path

import av
import av.bitstream

from ..errors import BadInputError, OutputError
from ..provenance import stamp_comment

COPIED_TYPES = ("audio", "subtitle")
_ATTACHED_PIC = int(av.stream.Disposition.attached_pic)


def is_copied(stream) -> bool:
    """Streams carried packet for packet: audio, subtitles, and cover art (attached pictures)."""
    return stream.type in COPIED_TYPES or (
        stream.type == "video" and bool(int(stream.disposition) & _ATTACHED_PIC))
# Muxers that want H.264/H.265 in Annex B (start codes) but, unlike mpegts, do not insert the
# conversion themselves; segments hold the mp4-style (length-prefixed) form.
ANNEXB_MUXERS = ("avi", "mpeg", "vob", "dvd", "svcd", "vcd", "h264", "hevc")
ANNEXB_FILTERS = {"h264": "h264_mp4toannexb", "hevc": "hevc_mp4toannexb"}


def format_for(path: Path) -> str | None:
    """FFmpeg muxer name for a file name, None when FFmpeg has no muxer for its extension."""
    ext = path.suffix.lower().lstrip(".")
    alias = {"mkv": "matroska", "m4v": "mp4", "mts": "mpegts", "m2ts": "mpegts", "ts": "mpegts",
             "mpg": "mpeg", "ogv": "ogg", "wmv": "asf", "qt": "mov"}
    for name in (alias.get(ext, ext), ext):
        try:
            av.format.ContainerFormat(name, "w")
            return name
        except (ValueError, av.FFmpegError):
            continue
    return None


def cannot_hold(fmt: str, streams) -> list[str]:
    """The streams (as 'h264 video', 'opus audio') that the muxer `fmt` refuses."""
    bad = []
    for s in streams:
        buf = io.BytesIO()
        out = av.open(buf, "w", format=fmt)
        try:
            out.add_stream_from_template(s)
            out.start_encoding()
        except (ValueError, av.FFmpegError, NotImplementedError):
            bad.append(f"{s.codec_context.name if s.codec_context else '?'} {s.type}")
        finally:
            try:
                out.close()
            except (av.FFmpegError, ValueError, OSError):
                pass
    return bad


def join(segments: list[tuple[Path, int, Fraction]], src_path: Path, out_path: Path, fmt: str,
         stop=None, video_index: int = 0, video_time_base: Fraction | None = None,
         provenance: str | None = None) -> None:
    """Write `out_path` (muxer `fmt`): video packets from `segments` [(file, first_pts, time_base
    of first_pts)], audio/subtitle packets from the source. The video's time_base is the
    source's unless `video_time_base` (the segments' own: inverse telecine retimes frames on a
    finer one). `provenance`: a line added to the container's comment (oldfilm/provenance.py).
    Raises OutputError on write failure."""
    src = av.open(str(src_path), metadata_errors="ignore")
    first = av.open(str(segments[0][0]))
    try:
        out = av.open(str(out_path), "w", format=fmt)
    except (OSError, av.FFmpegError) as e:
        src.close()
        first.close()
        raise _output_error(out_path, e) from None
    try:
        ov = out.add_stream_from_template(first.streams.video[0])
        ov.time_base = video_time_base or src.streams[video_index].time_base   # a request: Matroska still uses 1/1000
        seg_codec = first.streams.video[0].codec_context.name
        bsf = None
        if fmt in ANNEXB_MUXERS and seg_codec in ANNEXB_FILTERS:
            bsf = av.bitstream.BitStreamFilterContext(ANNEXB_FILTERS[seg_codec],
                                                      in_stream=first.streams.video[0], out_stream=ov)
        ov.metadata.update({k: v for k, v in src.streams[video_index].metadata.items()
                            if k.lower() in ("language", "title", "handler_name")})
        first.close()
        copied = {}
        for s in src.streams:
            if s.index != video_index and is_copied(s):
                o = out.add_stream_from_template(s)
                o.metadata.update(s.metadata)
                o.disposition = s.disposition
                copied[s.index] = o
        meta = {k: v for k, v in src.metadata.items() if k.lower() != "encoder"}
        if provenance:
            comment = next((v for k, v in meta.items() if k.lower() == "comment"), None)
            meta = {k: v for k, v in meta.items() if k.lower() != "comment"}
            meta["comment"] = stamp_comment(comment, provenance)
        out.metadata.update(meta)
        streams = [src.streams[i] for i in copied]

        def video_iter():
            for path, first_pts, first_tb in segments:
                # Two demux passes (cheap) keep memory flat: the first finds the start.
                with av.open(str(path)) as c:
                    min_pts = min((p.pts for p in c.demux(c.streams.video[0])
                                   if p.size and p.pts is not None), default=None)
                if min_pts is None:
                    continue
                with av.open(str(path)) as c:
                    vs = c.streams.video[0]
                    tb = vs.time_base
                    delta = _to_tb(first_pts, first_tb, tb) - min_pts
                    for p in c.demux(vs):
                        if not p.size:
                            continue
                        if p.pts is not None:
                            p.pts += delta
                        if p.dts is not None:
                            p.dts += delta
                        yield _key(p, tb), 0, p

        def other_iter():
            if not streams:
                return
            try:
                for p in src.demux(*streams):
                    if p.size == 0:
                        continue
                    yield _key(p, p.time_base), 1, p
            except av.FFmpegError as e:
                raise BadInputError(src_path, f"cannot read audio/subtitle packets ({e})") from None

        for _, kind, p in heapq.merge(video_iter(), other_iter(), key=lambda t: (t[0], t[1])):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt
            if kind == 0:
                if bsf is not None:
                    for q in bsf.filter(p):
                        q.stream = ov
                        out.mux(q)
                    continue
                p.stream = ov
            else:
                p.stream = copied[p.stream.index]
            out.mux(p)
        out.close()
    except (OSError, av.FFmpegError) as e:
        _close_quietly(out)
        raise _output_error(out_path, e) from None
    except BaseException:
        _close_quietly(out)
        raise
    finally:
        src.close()


def _key(p, tb) -> Fraction:
    t = p.dts if p.dts is not None else p.pts
    return Fraction(t or 0) * tb


def _to_tb(value: int, src_tb: Fraction, dst_tb: Fraction) -> int:
    return int(round(Fraction(value) * src_tb / dst_tb))


def _close_quietly(c) -> None:
    try:
        c.close()
    except (OSError, av.FFmpegError, ValueError):
        pass


def _output_error(path: Path, e: Exception) -> OutputError:
    if getattr(e, "errno", None) == errno.ENOSPC:
        return OutputError(path, "disk full")
    return OutputError(path, f"cannot write: {getattr(e, 'strerror', None) or e}")

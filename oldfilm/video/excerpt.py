"""A few seconds of a video, copied packet for packet (no re-encoding), for trial runs: try the
settings on ten seconds of a reel, with its sound and the temporal filters working, before
committing hours to the whole of it.

The excerpt starts at the keyframe at or before the asked start, so every copied frame decodes,
and ends at the asked end: video packets are copied in decoding order until one is decoded at or
after the end (a reference always comes before the frames that use it in that order, so nothing
copied lacks one). With B-frames a few pictures past the end come along (those decoded before
it, and the ones that fill the gaps up to them, so that the pictures stay contiguous). Audio and
subtitles are copied for the same span as the pictures, and all timestamps are shifted so the excerpt starts at 0.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..errors import BadInputError, OutputError
from .decode import frame_step
from .mux import format_for, is_copied
from .probe import probe
from .segments import picture_time, times_are_slots

TRIAL_SECONDS = 10.0
SLACK = Fraction(2)     # s: how far past the end to read for audio/subtitle packets interleaved late
_CLOCK = re.compile(r"^(?:(?:(\d+):)?(\d+):)?(\d+(?:\.\d*)?)$")


@dataclass(frozen=True)
class Span:
    start: float                 # s from the start of the video
    seconds: float = TRIAL_SECONDS

    @property
    def label(self) -> str:
        """For output names: 1m30s-10s, 0s-5s, 1h02m03.5s-2.5s."""
        return f"{clock_label(self.start)}-{clock_label(self.seconds)}"


def clock_label(t: float) -> str:
    """1h02m03.5s, 1m30s, 0.4s: tenths of a second when not whole."""
    tenths = int(round(t * 10))
    h, m, s10 = tenths // 36000, tenths % 36000 // 600, tenths % 600
    sec = f"{s10 // 10}" if s10 % 10 == 0 else f"{s10 // 10}.{s10 % 10}"
    if h:
        return f"{h}h{m:02d}m{sec.zfill(2) if '.' not in sec else sec.zfill(4)}s"
    return f"{m}m{sec.zfill(2) if '.' not in sec else sec.zfill(4)}s" if m else f"{sec}s"


def parse_span(text: str) -> Span:
    """'90', '1:30', '1:02:03.5', each optionally '+SECONDS' (default 10): a Span.
    Raises ValueError with the problem."""
    start_text, plus, length_text = text.strip().partition("+")
    m = _CLOCK.match(start_text.strip())
    if not m:
        raise ValueError(f"expected START[+SECONDS], START as seconds or [h:]m:s, got {text!r}")
    h, mi, s = m.groups()
    start = int(h or 0) * 3600 + int(mi or 0) * 60 + float(s)
    seconds = TRIAL_SECONDS
    if plus:
        try:
            seconds = float(length_text)
        except ValueError:
            raise ValueError(f"expected SECONDS after '+', got {length_text!r}") from None
        if not seconds > 0:
            raise ValueError(f"expected a positive length, got {length_text!r}")
    return Span(start, seconds)


def cut_excerpt(src: str | Path, dst: str | Path, span: Span) -> tuple[float, float]:
    """Copy ``span`` of ``src`` (every stream it carries) into ``dst`` (same container family).
    Returns (start, seconds) actually copied (the start keyframe-aligned). The file gets ``src``'s mtime, so
    the same span of the same file makes a video job with the same resume fingerprint.
    Raises BadInputError (unreadable, span past the end) or OutputError (cannot write)."""
    src, dst = Path(src), Path(dst)
    info = probe(src)
    if info.duration is not None and span.start >= info.duration:
        raise BadInputError(src, f"the trial starts at {span.start:g} s, after the end ({info.duration:.2f} s)")
    fmt = format_for(dst) or "matroska"
    try:
        c = av.open(str(src), metadata_errors="ignore")
    except av.FFmpegError as e:
        raise BadInputError(src, f"cannot open: {e}") from None
    try:
        vs = c.streams[info.video_index]
        origin = info.start_pts
        tb = vs.time_base
        want_start = origin + int(span.start / tb)
        end_time = Fraction(origin) * tb + Fraction(span.start + span.seconds).limit_denominator(10**6)
        slots = times_are_slots(c.format.name, vs.codec_context.name)    # H.264 in AVI: pts are guesses
        _seek_before(c, vs, want_start, origin, slots)
        others = [s for s in c.streams if s.index != vs.index and is_copied(s)]
        try:
            out = av.open(str(dst), "w", format=fmt)
        except (OSError, av.FFmpegError) as e:
            raise OutputError(dst, f"cannot write: {getattr(e, 'strerror', None) or e}") from None
        try:
            ov = out.add_stream_from_template(vs)
            omap = {vs.index: ov}
            for s in others:
                omap[s.index] = out.add_stream_from_template(s)
            for s in (vs, *others):       # titles, languages, dispositions: as the full run keeps them
                omap[s.index].metadata.update(s.metadata)
                omap[s.index].disposition = s.disposition
            out.metadata.update({k: v for k, v in c.metadata.items() if k.lower() != "encoder"})
            t0 = None                 # Fraction seconds: the first keyframe copied
            k0_pts = None             # its pts as demuxed: display order, even where its times are slots
            limit = end_time          # video packets decoded before this are copied
            last = None               # the latest picture time copied
            video_done = False
            pending: list = []        # audio packets seen before the first keyframe
            late: list = []           # audio packets past the asked end: kept up to the last picture's end
            for p in c.demux(vs, *others):
                stamp = picture_time(p, slots and p.stream.index == vs.index)
                if p.size == 0 or stamp is None:
                    continue
                t = Fraction(stamp) * p.time_base
                if video_done and t >= end_time + SLACK:
                    break             # the other streams are past the end too (interleaving slack)
                if p.stream.index != vs.index:
                    if t0 is None:
                        pending.append(p)
                    elif t0 <= t < end_time:
                        _copy(out, omap, p, t0)
                    elif t >= end_time:
                        late.append(p)
                    continue
                if video_done:
                    continue
                if t0 is None:
                    if not p.is_keyframe:
                        continue
                    t0, k0_pts = t, p.pts
                    for q in pending:
                        if t0 <= Fraction(q.pts) * q.time_base < end_time:
                            _copy(out, omap, q, t0)
                    pending = []
                decoded_at = Fraction(p.dts if p.dts is not None else p.pts) * p.time_base
                if decoded_at >= limit:
                    # A reordered stream may have brought a picture past the end already (the
                    # anchor that B-frames before the end refer to): copy up to it, so that the
                    # pictures stay contiguous, then stop.
                    if limit == end_time and last is not None and last > end_time and decoded_at < last:
                        limit = last
                    else:
                        video_done = True
                        if not others:
                            break
                        continue
                if p.pts is not None and k0_pts is not None and p.pts < k0_pts:
                    continue            # an open GOP's leading B-frames reference the GOP before
                _copy(out, omap, p, t0)
                last = t if last is None else max(last, t)
            if t0 is None:
                raise BadInputError(src, "no keyframe found to start the trial")
            picture_end = last + frame_step(info) * tb
            for q in late:
                if Fraction(q.pts) * q.time_base < picture_end:
                    _copy(out, omap, q, t0)
            out.close()
        except BaseException:
            try:
                out.close()
            except (OSError, av.FFmpegError, ValueError):
                pass
            dst.unlink(missing_ok=True)
            raise
    except av.FFmpegError as e:
        raise BadInputError(src, f"cannot copy the trial span: {e}") from None
    finally:
        c.close()
    st = src.stat()
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
    return float(t0 - Fraction(origin) * tb), float(picture_end - t0)


def _first_keyframe(c, vs, slots: bool = False) -> int | None:
    for p in c.demux(vs):
        t = picture_time(p, slots)
        if p.size and t is not None and p.is_keyframe:
            return t
    return None


def _seek_before(c, vs, want: int, origin: int, slots: bool = False) -> None:
    """Seek so that the next video keyframe is at or before ``want`` (pts). Some demuxers (MPEG-TS)
    land after it: step back further, to the start at worst."""
    step = int(round(2 / vs.time_base))
    target = want
    while True:
        c.seek(target, stream=vs, backward=True, any_frame=False)
        if target <= origin:
            return
        pts = _first_keyframe(c, vs, slots)
        if pts is not None and pts <= want:
            c.seek(target, stream=vs, backward=True, any_frame=False)
            return
        target = max(origin, target - step)
        step *= 4


def _copy(out, omap, p, t0: Fraction) -> None:
    shift = int(round(t0 / p.time_base))
    p.pts -= shift
    if p.dts is not None:
        p.dts -= shift
    p.stream = omap[p.stream.index]
    out.mux(p)

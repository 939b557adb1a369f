"""Resumable segments: where a video is cut, and which pieces are already done.

A video is cut at input keyframes into pieces of about `segment_seconds`. Each piece is decoded
from its keyframe and encoded to its own file, so a run killed part way resumes at the first
missing piece. Frame ownership is by pts: segment i holds every frame with
starts[i] <= pts < starts[i+1] (segment 0 also holds anything before the first keyframe), so
open-GOP leading pictures end up in exactly one piece.

The plan comes from demuxing packets only (no decoding): fast even for a long reel.
"""
from __future__ import annotations

import bisect
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from ..errors import BadInputError

STATE_VERSION = 1
# Containers that store one time per picture, in decoding order (AVI: a slot in a constant-rate
# sequence; ASF: a presentation time). Read: frames reordered by B-frames come out of FFmpeg with
# shuffled "pts", so their display timestamps are the sorted packet timestamps, assigned in output
# order (what FFmpeg's best-effort timestamp does; video/decode.py). Written: they cannot keep
# pictures reordered, so the runner encodes them without B-frames (EncodeOptions.reorder).
DTS_ONLY_CONTAINERS = ("avi", "asf")
# Codecs whose packet pts FFmpeg can only guess in those containers: for H.264/H.265 it gives each
# packet the next one's time, so their times are taken from what is stored (dts) instead. (MPEG-4
# Part 2 and the intra codecs carry their own timing, which the parser reads.)
GUESSED_PTS_CODECS = ("h264", "hevc")


def dts_only(container_format: str) -> bool:
    """Whether FFmpeg's container (format) name is one of DTS_ONLY_CONTAINERS."""
    return any(k in container_format.split(",") for k in DTS_ONLY_CONTAINERS)


def times_are_slots(container_format: str, codec: str) -> bool:
    """Whether a video stream's picture times are its packets' dts (see GUESSED_PTS_CODECS)."""
    return codec in GUESSED_PTS_CODECS and dts_only(container_format)


def picture_time(packet, slots: bool) -> int | None:
    """A video packet's picture time: its dts where the times are slots (times_are_slots), else its pts."""
    return packet.dts if slots and packet.dts is not None else packet.pts


@dataclass
class Segment:
    index: int
    start_pts: int | None      # None for segment 0: from the very first frame
    end_pts: int | None        # exclusive; None for the last segment
    frames: int                # packets (= frames) in [start, end)
    seek_pts: int | None       # keyframe pts to seek to when resuming here (None: from the start)


@dataclass
class SegmentPlan:
    segments: list[Segment]
    frame_count: int
    timestamps: list[int] = field(default_factory=list)   # every video packet pts, sorted

    def index_of(self, pts: int) -> int:
        """The segment that owns a frame with this pts."""
        if not hasattr(self, "_starts"):
            self._starts = [s.start_pts for s in self.segments[1:]]
        return bisect.bisect_right(self._starts, pts)


def plan_segments(path: Path, time_base: Fraction, segment_seconds: float,
                  video_index: int = 0) -> SegmentPlan:
    """Cut points from the video stream's keyframes (packet flags), at least segment_seconds apart."""
    pts_list: list[int] = []
    keys: list[int] = []
    try:
        with av.open(str(path), metadata_errors="ignore") as c:
            vs = c.streams[video_index]
            slots = times_are_slots(c.format.name, vs.codec_context.name)
            for pkt in c.demux(vs):
                t = picture_time(pkt, slots)
                if pkt.size == 0 or t is None:
                    continue
                pts_list.append(t)
                if pkt.is_keyframe:
                    keys.append(t)
    except av.FFmpegError as e:
        raise BadInputError(path, f"cannot read packets ({e}); truncated or corrupt") from None
    pts_list.sort()
    keys = sorted(set(keys))
    span = int(segment_seconds / time_base) if segment_seconds > 0 else 0
    starts: list[int] = []
    if pts_list and span > 0:
        last = pts_list[0]
        for k in keys:
            if k - last >= span:
                starts.append(k)
                last = k
    segments = []
    bounds = [None, *starts, None]
    for i in range(len(bounds) - 1):
        lo, hi = bounds[i], bounds[i + 1]
        a = 0 if lo is None else bisect.bisect_left(pts_list, lo)
        b = len(pts_list) if hi is None else bisect.bisect_left(pts_list, hi)
        segments.append(Segment(index=i, start_pts=lo, end_pts=hi, frames=b - a, seek_pts=lo))
    return SegmentPlan(segments=segments, frame_count=len(pts_list), timestamps=pts_list)


@dataclass
class SegmentState:
    """What work_dir/state.json holds. A mismatching fingerprint discards the old pieces."""

    fingerprint: str
    done: dict[str, dict] = field(default_factory=dict)     # str(index) -> {"file", "frames", "bytes"}
    version: int = STATE_VERSION

    @staticmethod
    def load(work_dir: Path, fingerprint: str) -> "SegmentState":
        f = work_dir / "state.json"
        try:
            d = json.loads(f.read_text())
            if d.get("version") == STATE_VERSION and d.get("fingerprint") == fingerprint:
                st = SegmentState(fingerprint=fingerprint, done=dict(d.get("done", {})))
                # Keep only pieces whose file is still there with the recorded size.
                st.done = {k: v for k, v in st.done.items()
                           if (work_dir / v["file"]).is_file()
                           and (work_dir / v["file"]).stat().st_size == v["bytes"]}
                return st
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        # Missing, corrupt or stale: start over, removing stale pieces.
        if work_dir.is_dir():
            for p in work_dir.glob("seg_*"):
                p.unlink(missing_ok=True)
        return SegmentState(fingerprint=fingerprint)

    def mark_done(self, work_dir: Path, index: int, file: Path, frames: int, first_pts: int,
                  time_base: Fraction) -> None:
        """Record a finished piece. first_pts (in time_base) re-anchors its packets at the join."""
        self.done[str(index)] = done_entry(file, frames, first_pts, time_base)
        self.save(work_dir)

    def save(self, work_dir: Path) -> None:
        tmp = work_dir / "state.json.tmp"
        tmp.write_text(json.dumps(asdict(self), indent=1))
        os.replace(tmp, work_dir / "state.json")


def done_entry(file: Path, frames: int, first_pts: int, time_base: Fraction) -> dict:
    """state.json's record of a finished piece."""
    return {"file": file.name, "frames": frames, "bytes": file.stat().st_size,
            "first_pts": first_pts, "time_base": str(time_base)}


def fingerprint(src: Path, options: dict) -> str:
    """Input identity (size + mtime) and every option that changes the encoded pixels."""
    st = src.stat()
    blob = json.dumps({"size": st.st_size, "mtime_ns": st.st_mtime_ns, "opts": options},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def segment_file(work_dir: Path, index: int, suffix: str = ".mov") -> Path:
    return work_dir / f"seg_{index:05d}{suffix}"

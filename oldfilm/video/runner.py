"""The streaming video runner: decode thread -> bounded queue -> stage on batches (calling thread)
-> bounded queue -> encode thread, one resumable segment file at a time, then a lossless join.

Memory is bounded by the two queues (queue_size frames each) plus one batch, whatever the length.
Any exception (decoder, stage, encoder, Ctrl-C) sets a stop flag, both worker threads end, and
the first error is re-raised in the caller. Completed segments and work_dir/state.json stay, so
the next run with the same input and options resumes at the first missing segment.
"""
from __future__ import annotations

import bisect
import collections
import errno
import os
import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import BadInputError, OutputError
from ..images import apply_residual, to_uint8
from ..options import EncodeOptions
from .deflicker import VERSION as DEFLICKER_VERSION
from .deflicker import apply_levels, clip_statistics, corrections_for
from .colour import plan_for
from . import ivtc
from .decode import DecodedFrame, decode_frames, frame_step, stored
from .encode import SegmentEncoder, segment_suffix
from .mux import cannot_hold, format_for, is_copied, join
from .probe import VideoInfo, probe
from .repeats import reuse_plan
from .segments import SegmentState, dts_only, fingerprint, plan_segments, segment_file
from .worklock import work_lock

_END = ("end-of-stream",)
_POLL = 0.1   # seconds between checks of the stop flag while blocked on a queue


@dataclass
class VideoResult:
    frames: int                      # frames in the output (all segments, resumed ones included)
    seconds: float                   # wall time of this call
    warnings: list[str] = field(default_factory=list)
    output: Path = Path()            # the path written: dst, or dst with .mkv when the container changed
    container_changed: bool = False
    resumed_segments: int = 0        # segments reused from an earlier interrupted run
    repeated_frames: int = 0         # frames of this call that repeated a processed one and reused its output
    deflickered_frames: int = 0      # frames of this call the stage ran on whose levels the deflicker changed
    stage_reports: list[dict] = field(default_factory=list)   # with workers: each worker's stage counters
    stage_warnings: list[str] = field(default_factory=list)   # with workers: their stage warnings


class _Pipe:
    """Shared stop flag and first-error slot for the three threads."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.lock = threading.Lock()

    def fail(self, e: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = e
        self.stop.set()

    def put(self, q: queue.Queue, item) -> bool:
        """Blocking put that gives up when the pipeline stops (never deadlocks on a full queue)."""
        while not self.stop.is_set():
            try:
                q.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False


class _Stopped(Exception):
    """Internal: the pipeline stopped because another thread failed."""


def _encode_options_dict(encode: EncodeOptions) -> dict:
    d = asdict(encode)
    if d.get("reorder", True):
        del d["reorder"]        # the default: work dirs from before the field resume as they were
    return d


def process_video(src: Path, dst: Path, stage: Callable[[list[np.ndarray]], list[np.ndarray]],
                  encode: EncodeOptions, work_dir: Path, *, segment_seconds: float = 30.0,
                  batch_size: int = 4, on_progress: Callable[[int, int | None], None] | None = None,
                  on_segment_start: Callable[[], None] | None = None, queue_size: int = 8,
                  fingerprint_extra: str = "", reuse_repeats: bool = True,
                  deflicker: bool = False, on_scan: Callable[[int, int], None] | None = None,
                  lead_in: int = 0, workers: int = 1, stage_factory: Callable[[], object] | None = None,
                  provenance: str | None = None) -> VideoResult:
    """Run `stage` over every frame of `src` and write `dst` (or dst.mkv, see VideoResult.output).

    The stage sees uint8 RGB HxWx3 frames, upright, in batches of up to batch_size consecutive
    frames that never span two segments; on_segment_start() is called before each segment's first
    batch. `fingerprint_extra` (e.g. model names) is part of the resume fingerprint, so changing
    the stage invalidates old segments. With `reuse_repeats`, a frame that repeats the last frame
    the stage ran on (video/repeats.py) is not given to the stage: it gets that frame's output.
    Segments stay independent: a segment's first frame always runs. With `deflicker`, one
    decoding pass first measures every frame's levels (video/deflicker.py; kept in work_dir
    for a resume; on_scan(done, total) reports it) and each frame the stage sees has its exposure
    flicker taken out. With `lead_in` N > 0, each segment after the first starts with the last N
    frames of the segment before it given to the stage's ``warm_up(frames)`` (or to the stage,
    outputs dropped) right after on_segment_start(): its temporal state (the colour filter) then
    enters the segment as it would in one pass, and still depends only on the
    source, so a resume gives the same frames. With `workers` N > 1 and a picklable
    `stage_factory` (which builds a stage like `stage` in another process), N processes run the
    segments to do (video/workers.py); `stage` then runs nothing, the workers' stage reports come
    back in VideoResult.stage_reports, and on_segment_start is each worker stage's own reset().
    `provenance`: a line for the output's container comment (oldfilm/provenance.py)."""
    try:
        return _process_video(Path(src), Path(dst), stage, encode, Path(work_dir), segment_seconds,
                              batch_size, on_progress, on_segment_start, queue_size, fingerprint_extra,
                              reuse_repeats, deflicker, on_scan, lead_in, workers, stage_factory, provenance)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise OutputError(Path(dst), "disk full") from None
        raise


def _frames_spanned(plan, info) -> int:
    """Frame slots from the first picture to the last, at the stream's frame rate."""
    if not plan.timestamps:
        return 0
    return int(round((plan.timestamps[-1] - plan.timestamps[0]) / frame_step(info))) + 1


def _process_video(src: Path, dst: Path, stage, encode: EncodeOptions, work_dir: Path,
                   segment_seconds: float, batch_size: int, on_progress, on_segment_start,
                   queue_size: int, fingerprint_extra: str, reuse_repeats: bool, deflicker: bool,
                   on_scan, lead_in: int, workers: int = 1, stage_factory=None,
                   provenance: str | None = None) -> VideoResult:
    t0 = time.monotonic()
    info = probe(src)
    warnings: list[str] = []
    if encode.reorder and dts_only(format_for(dst) or ""):
        encode = replace(encode, reorder=False)
    rate = info.base_fps or info.fps
    if encode.deinterlace == "ivtc" and not ivtc.is_ntsc_rate(float(rate) if rate else None):
        # 3:2 pulldown exists only at 29.97/30 fps: decimating anything else drops real frames
        encode = replace(encode, deinterlace="match")
        warnings.append(f"--deinterlace ivtc undoes 3:2 pulldown of 29.97/30 fps video; this one runs at "
                        f"{float(rate):.3g} fps, so its frames were field-matched only (as --deinterlace match)"
                        if rate else "--deinterlace ivtc needs a known frame rate of 29.97/30 fps: field-matched "
                                     "only (as --deinterlace match)")
    plan = plan_segments(src, info.time_base, segment_seconds, info.video_index)
    if plan.frame_count == 0:
        raise BadInputError(src, "the video stream holds no frames")
    if info.frame_count_exact and info.frame_count and _frames_spanned(plan, info) < info.frame_count:
        # The index (mp4 moov, ...) lists frames whose data is not in the file: cut short. An
        # index entry without data inside the span is not missing: an AVI's dropped frame (a
        # capture card's, or a packed-bitstream N-VOP) shows the picture before for one more slot.
        end = float(plan.timestamps[-1] * info.time_base)
        raise BadInputError(src, f"truncated: only {plan.frame_count} of {info.frame_count} frames "
                                 f"are in the file (data ends near {end:.2f}s)")
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(work_dir, f"cannot create the work folder: {e.strerror or e}") from None
    with work_lock(work_dir, dst):     # one run per output: another gets OutputBusy
        try:
            opts_fp = {"encode": _encode_options_dict(encode), "segment_seconds": segment_seconds,
                       "extra": fingerprint_extra, "reuse_repeats": reuse_repeats}
            if deflicker:   # only when on, so that the fingerprints of runs without it stay as they were
                opts_fp["deflicker"] = DEFLICKER_VERSION
            if lead_in > 0:  # likewise
                opts_fp["lead_in"] = int(lead_in)
            key = fingerprint(src, opts_fp)
            state = SegmentState.load(work_dir, key)
            resumed = len(state.done)
            todo = [s for s in plan.segments if str(s.index) not in state.done]
            done_frames = sum(v["frames"] for v in state.done.values())
            expected = _expected_frames(plan, encode)
            if on_progress:
                on_progress(done_frames, expected)

            repeated = deflickered = 0
            parallel = None
            if todo:
                warnings += _field_notes(info, encode)
                levels = _deflicker_table(info, plan, encode, work_dir, key, on_scan) if deflicker else None
                n = min(workers, len(todo)) if stage_factory is not None else 1
                if n > 1:
                    from .workers import run_parallel

                    parallel = run_parallel(n, stage_factory, info, plan, todo, state, encode, work_dir,
                                            batch_size, queue_size, on_progress, done_frames, expected,
                                            reuse_repeats, levels, lead_in)
                    repeated, deflickered = parallel.repeated, parallel.deflickered
                else:
                    repeated, deflickered = _run_segments(info, plan, todo, state, stage, encode, work_dir,
                                                          batch_size, queue_size, on_progress, on_segment_start,
                                                          done_frames, reuse_repeats, levels, lead_in)

            missing = [s.index for s in plan.segments if str(s.index) not in state.done]
            if missing:   # the decoder ended early without an error: a truncated file
                raise BadInputError(src, f"truncated: no frames decoded for segment(s) {missing}")
            total = sum(v["frames"] for v in state.done.values())
            if total != expected:
                warnings.append(f"decoded {total} frames where the container lists {plan.frame_count}"
                                + (f" (less 1 in {ivtc.CYCLE} for ivtc: {expected})" if expected != plan.frame_count else ""))

            output, changed = _join_all(src, dst, info, plan, state, work_dir, warnings, provenance)
            shutil.rmtree(work_dir, ignore_errors=True)
        except BaseException:
            # A run that fails before finishing a segment (or the deflicker scan) leaves nothing
            # to resume from: no hidden folder holding just a lock file.
            if not _resumable(work_dir):
                shutil.rmtree(work_dir, ignore_errors=True)
            raise
    if work_dir.exists():    # Windows cannot remove the open lock file inside the lock
        shutil.rmtree(work_dir, ignore_errors=True)
    return VideoResult(frames=total, seconds=time.monotonic() - t0, warnings=warnings,
                       output=output, container_changed=changed, resumed_segments=resumed,
                       repeated_frames=repeated, deflickered_frames=deflickered,
                       stage_reports=parallel.reports if parallel else [],
                       stage_warnings=parallel.warnings if parallel else [])


def _run_segments(info: VideoInfo, plan, todo, state: SegmentState, stage, encode: EncodeOptions,
                  work_dir: Path, batch_size: int, queue_size: int, on_progress, on_segment_start,
                  done_frames: int, reuse_repeats: bool,
                  levels: dict[int, tuple[float, float]] | None, lead_in: int = 0) -> tuple[int, int]:
    """Process the `todo` segments; returns how many frames reused a repeated frame's output and
    on how many of the others the deflicker changed the levels.
    `levels`: pts -> (gain, offset) of the deflicker, applied to each frame the stage runs on.
    `lead_in`: frames of the previous segment to warm the stage with (process_video)."""
    pipe = _Pipe()
    decoded: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
    processed: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
    ten_bit_out = encode.bit_depth == 10
    want16 = ten_bit_out and info.bit_depth > 8
    colour = plan_for(info)
    todo_ids = {s.index for s in todo}
    first, last = todo[0].index, max(todo_ids)
    # A lead-in needs the segment before the first one to do: decode from its keyframe. So does
    # field matching (a segment's first frame may take a field of the frame before it), and
    # inverse telecine (the first group of frames to do may begin in that segment).
    before = lead_in > 0 or encode.deinterlace in ("match", "ivtc")
    start_pts = plan.segments[first - 1].seek_pts if before and first > 0 else todo[0].seek_pts
    suffix = segment_suffix(encode.codec)
    time_base, rate = _output_timing(info, encode)

    def decode_worker() -> None:
        current = None
        tail: collections.deque = collections.deque(maxlen=max(1, lead_in))   # (pts, rgb) last of `seen`
        # index in plan.timestamps just past each segment's frames (ownership is by pts)
        seg_end = [len(plan.timestamps) if sg.end_pts is None else bisect.bisect_left(plan.timestamps, sg.end_pts)
                   for sg in plan.segments]
        seen = None       # the segment the last decoded frame belongs to, done or not
        try:
            for f in _frames(info, plan, encode, colour, want16=want16, start_pts=start_pts, stop=pipe.stop):
                seg = plan.index_of(f.pts)
                if seg > last:
                    break         # nothing after this is to do (a worker's one segment, a resume's gap)
                # Only the segment right before gives a lead-in, so it is the same on a resume.
                lead = list(tail) if lead_in > 0 and seg != seen and seen == seg - 1 else []
                if seg != seen:
                    tail.clear()
                    seen = seg
                # Only a segment's last frames can lead into the next; a copy, since the stage may
                # edit the frames it is given in place.
                if lead_in > 0 and seg_end[seg] - bisect.bisect_left(plan.timestamps, f.pts) <= lead_in:
                    tail.append((f.pts, f.rgb.copy()))
                if seg not in todo_ids:
                    continue      # a segment finished by an earlier run
                if seg != current:
                    if current is not None and not pipe.put(decoded, ("end", current)):
                        return
                    if not pipe.put(decoded, ("start", seg)):
                        return
                    if lead and not pipe.put(decoded, ("lead", lead)):
                        return
                    current = seg
                if not pipe.put(decoded, ("frame", f)):
                    return
            if current is not None:
                pipe.put(decoded, ("end", current))
            pipe.put(decoded, _END)
        except BaseException as e:   # noqa: BLE001 - handed to the caller's thread
            pipe.fail(e)

    def encode_worker() -> None:
        enc: SegmentEncoder | None = None
        part: Path | None = None
        first_pts = None
        try:
            while True:
                item = _get_plain(pipe, processed)
                if item is None or item is _END:
                    return
                kind = item[0]
                if kind == "start":
                    seg = item[1]
                    part = work_dir / f"seg_{seg:05d}.part{suffix}"
                    part.unlink(missing_ok=True)
                    enc = SegmentEncoder(part, encode, width=info.coded_width, height=info.coded_height,
                                         time_base=time_base, rate=rate, sar=info.sar,
                                         rotation=info.rotation, plan=colour, ten_bit=ten_bit_out)
                    first_pts = None
                elif kind == "frame":
                    _, pts, duration, pixels = item
                    first_pts = pts if first_pts is None else min(first_pts, pts)
                    enc.encode(pixels, pts, duration)
                elif kind == "end":
                    seg = item[1]
                    enc.close()
                    final = segment_file(work_dir, seg, suffix)
                    os.replace(part, final)
                    state.mark_done(work_dir, seg, final, enc.frames, first_pts, time_base)
                    enc, part = None, None
        except BaseException as e:   # noqa: BLE001
            pipe.fail(e)
        finally:
            if enc is not None:
                enc.abort()
            if part is not None:
                part.unlink(missing_ok=True)

    dec_t = threading.Thread(target=decode_worker, name="oldfilm-decode", daemon=True)
    enc_t = threading.Thread(target=encode_worker, name="oldfilm-encode", daemon=True)
    dec_t.start()
    enc_t.start()
    frames_done = done_frames
    batch: list[DecodedFrame] = []
    # The last frame the stage ran on, as decoded (a copy: a stage may edit its input in place),
    # and its output. Cleared at each segment start, so that segments stay independent.
    key_in: np.ndarray | None = None
    key_out: np.ndarray | None = None
    repeated = deflickered = 0
    expected = _expected_frames(plan, encode)

    def run_batch() -> None:
        nonlocal frames_done, key_in, key_out, repeated, deflickered
        if not batch:
            return
        if reuse_repeats:
            picks, source = reuse_plan([f.rgb for f in batch], key_in)
            fresh = [batch[i] for i in picks]
            if fresh:
                key_in = fresh[-1].rgb.copy()
        else:
            fresh, source = list(batch), list(range(len(batch)))
        inputs = [f.rgb for f in fresh]
        if levels is not None:
            steadied = [apply_levels(x, *levels.get(f.pts, (1.0, 0.0))) for f, x in zip(fresh, inputs)]
            deflickered += sum(a is not b for a, b in zip(steadied, inputs))
            inputs = steadied
        outs = stage(inputs) if fresh else []
        if len(outs) != len(fresh):
            raise RuntimeError(f"stage returned {len(outs)} frames for a batch of {len(fresh)}")
        for f, out in zip(fresh, outs):
            if out.shape != f.rgb.shape or out.dtype != np.uint8:
                raise RuntimeError(f"stage returned {out.dtype} {out.shape}, expected uint8 {f.rgb.shape}")
        repeated += len(batch) - len(fresh)
        for f, k in zip(batch, source):
            out = outs[k] if k >= 0 else key_out
            if ten_bit_out:
                # `before` is recomputed from the 16-bit frame: a stage may edit f.rgb in place.
                out = apply_residual(f.rgb16, to_uint8(f.rgb16), out) if f.rgb16 is not None \
                    else out.astype(np.uint16) * 257
            pts, duration = (f.pts, f.duration) if f.out_pts is None else (f.out_pts, f.out_duration)
            if not pipe.put(processed, ("frame", pts, duration, stored(out, info.rotation))):
                raise _Stopped
        if outs:
            key_out = outs[-1]
        frames_done += len(batch)
        batch.clear()
        if on_progress:
            on_progress(frames_done, expected)

    try:
        while True:
            item = _get(pipe, decoded, dec_t)
            if item is _END:
                pipe.put(processed, _END)
                break
            kind = item[0]
            if kind == "frame":
                batch.append(item[1])
                if len(batch) >= batch_size:
                    run_batch()
            elif kind == "start":
                key_in = key_out = None
                if on_segment_start:
                    on_segment_start()
                if not pipe.put(processed, item):
                    raise _Stopped
            elif kind == "lead":
                # Temporal state only: the outputs are dropped, and the repeat reuse starts afresh.
                inputs = [rgb for _, rgb in item[1]]
                if levels is not None:
                    inputs = [apply_levels(x, *levels.get(pts, (1.0, 0.0))) for pts, x in item[1]]
                warm = getattr(stage, "warm_up", None)
                if warm is not None:
                    warm(inputs)
                else:
                    stage(inputs)
            elif kind == "end":
                run_batch()
                if not pipe.put(processed, item):
                    raise _Stopped
        # Wait for the encoder to finish the last segment (or fail).
        while enc_t.is_alive():
            enc_t.join(timeout=_POLL)
    except _Stopped:
        pass
    except BaseException as e:
        pipe.fail(e)
    finally:
        # On failure the encoder still finishes what is queued up to the failure point, so a
        # segment that ended before the error is kept; it aborts the one in progress.
        dec_t.join()
        enc_t.join()
    if pipe.error is not None:
        raise pipe.error
    return repeated, deflickered


def _deflicker_table(info: VideoInfo, plan, encode: EncodeOptions, work_dir: Path,
                     key: str, on_scan=None) -> dict[int, tuple[float, float]]:
    """pts -> (gain, offset) for every frame: one decoding pass over the whole video (the same
    frames the segments will see), then video/deflicker.py. Kept in work_dir/deflicker.npz, tied
    to the run's fingerprint, so a resumed run does not decode twice."""
    cache = work_dir / "deflicker.npz"
    try:
        with np.load(cache) as z:
            if str(z["key"]) == key:
                return _by_pts(z["pts"], z["levels"])
    except (OSError, KeyError, ValueError):
        pass
    colour = plan_for(info)
    pts: list[int] = []

    def frames():
        for f in _frames(info, plan, encode, colour):
            pts.append(f.pts)
            if on_scan and len(pts) % 25 == 0:
                on_scan(len(pts), plan.frame_count)
            yield f.rgb

    levels, cuts = clip_statistics(frames())
    if on_scan:
        on_scan(plan.frame_count, plan.frame_count)
    if not pts:
        return {}
    table = corrections_for(levels, cuts, float(info.base_fps or info.fps or 24))
    tmp = work_dir / "deflicker.part.npz"
    np.savez(tmp, key=np.array(key), pts=np.array(pts, np.int64), levels=table)
    os.replace(tmp, cache)
    return _by_pts(pts, table)


def _frames(info: VideoInfo, plan, encode: EncodeOptions, colour, **kw):
    """The frames the stages see, in display order: decoded (video/decode.py), and with
    deinterlace "ivtc" field-matched and decimated to the film's frames (video/ivtc.py)."""
    frames = decode_frames(info, colour, deinterlace=encode.deinterlace, timestamps=plan.timestamps, **kw)
    if encode.deinterlace == "ivtc":
        frames = ivtc.decimate(frames, plan.timestamps, frame_step(info))
    return frames


def _resumable(work_dir: Path) -> bool:
    """Whether a work dir holds finished work a later run can take up: a segment or the
    deflicker table (state.json and the lock alone are not)."""
    try:
        return any((p.name.startswith("seg_") and ".part" not in p.name) or p.name == "deflicker.npz"
                   for p in work_dir.iterdir())
    except OSError:
        return True


def _expected_frames(plan, encode: EncodeOptions) -> int:
    """Frames the output will hold: the container's count, less one in each group of 5 for ivtc."""
    return ivtc.output_count(plan.frame_count) if encode.deinterlace == "ivtc" else plan.frame_count


def _output_timing(info: VideoInfo, encode: EncodeOptions) -> tuple[Fraction, Fraction | None]:
    """(time_base, nominal frame rate) of the encoded video: the input's, except after inverse
    telecine (ticks TB_DIVISOR times finer, 4 frames in the time of 5)."""
    if encode.deinterlace != "ivtc":
        return info.time_base, info.base_fps
    rate = info.base_fps * Fraction(ivtc.CYCLE - 1, ivtc.CYCLE) if info.base_fps else None
    return info.time_base / ivtc.TB_DIVISOR, rate


def _field_notes(info: VideoInfo, encode: EncodeOptions) -> list[str]:
    """What the run says about fields: that it deinterlaced, and when the video looks like
    telecined film (ivtc.sniff), that --deinterlace ivtc would give the film's frames back."""
    notes = []
    if info.interlaced and encode.deinterlace == "auto":
        notes.append("interlaced source: deinterlaced with bwdif")
    if encode.deinterlace in ("auto", "on") and ivtc.is_ntsc_rate(info.base_fps or info.fps):
        try:
            telecined = ivtc.sniff(info, plan_for(info))
        except BadInputError:
            telecined = False      # the run itself will say what is wrong with the file
        if telecined:
            notes.append("this looks like film telecined to 29.97 fps (3:2 pulldown): "
                         "--deinterlace ivtc gives back the film's own frames at 23.976 fps")
    return notes


def _by_pts(pts, table) -> dict[int, tuple[float, float]]:
    return {int(p): (float(g), float(o)) for p, (g, o) in zip(pts, table)}


def _get_plain(pipe: _Pipe, q: queue.Queue):
    """Encoder-side get: None once the pipeline stopped and the queue is empty."""
    while True:
        try:
            return q.get(timeout=_POLL)
        except queue.Empty:
            if pipe.stop.is_set():
                return None


def _get(pipe: _Pipe, q: queue.Queue, producer: threading.Thread):
    while True:
        try:
            return q.get(timeout=_POLL)
        except queue.Empty:
            if pipe.stop.is_set():
                raise _Stopped from None
            if not producer.is_alive() and q.empty():
                raise _Stopped from None


def _join_all(src: Path, dst: Path, info: VideoInfo, plan, state: SegmentState, work_dir: Path,
              warnings: list[str], provenance: str | None = None) -> tuple[Path, bool]:
    """Pick the container (the input's unless it refuses a stream) and join into a temp file
    beside dst, then rename it into place."""
    pieces = []
    for s in plan.segments:
        d = state.done[str(s.index)]
        pieces.append((work_dir / d["file"], int(d["first_pts"]), Fraction(d["time_base"])))
    fmt = format_for(dst)
    changed = False
    with av.open(str(pieces[0][0])) as seg, av.open(str(src), metadata_errors="ignore") as c:
        copied = [s for s in c.streams if s.index != info.video_index and is_copied(s)]
        streams = [seg.streams.video[0]] + copied
        refused = cannot_hold(fmt, streams) if fmt else [f"{streams[0].codec_context.name} video"]
        dropped = [s for s in c.streams if s.index != info.video_index and not is_copied(s)]
    if dropped:
        warnings.append(f"dropped {len(dropped)} {'/'.join(sorted({s.type for s in dropped}))} stream(s)")
    out = dst
    if refused:
        out = dst.with_suffix(".mkv")
        if out.resolve() == src.resolve():
            raise OutputError(out, "the MKV fallback name is the input file itself; choose another output")
        changed = out != dst
        fmt = "matroska"
        name = dst.suffix.lstrip(".") or "?"
        warnings.append(f"container {name} cannot hold {', '.join(refused)}; wrote MKV")
    # ".oldfilm-tmp" is the temp-file mark oldfilm.jobs skips when scanning folders.
    tmp = out.parent / f".{out.stem}.oldfilm-tmp{out.suffix}"
    try:
        join(pieces, src, tmp, fmt, video_index=info.video_index, video_time_base=pieces[0][2],
             provenance=provenance)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out, changed

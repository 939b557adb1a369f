"""Several processes on one video (`--workers N`): each runs the stages on whole segments.

Segments are independent by design (video/segments.py): each is decoded from its own keyframe
(or the one before, for a lead-in or field matching) and encoded to its own file. So N worker
processes can take the segments still to do from a queue, in order, one at a time, each with
its own stages (its own copy of the models) and 1/N of the CPU threads, and run the ordinary
segment loop (runner._run_segments) on it. Only the parent writes state.json, from the workers'
reports, so a crash or Ctrl-C keeps every segment whose report arrived; a segment whose report
was lost is made again by the next run. Each worker's frames are the ones a single process
would give that segment (a resume is exact for the same reason).

Why: one process's intra-op threads leave the cores partly idle (small tensors, thread syncs);
on the 2-core test box two one-thread processes restore 1.2-1.3 times as many frames a second
as one two-thread process (docs/workers.md).
"""
from __future__ import annotations

import multiprocessing as mp
import pickle
import queue
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

_POLL = 0.2


@dataclass
class ParallelResult:
    repeated: int = 0                 # frames that reused a repeated frame's output
    deflickered: int = 0
    reports: list[dict] = field(default_factory=list)       # each worker's stage counters (job_report)
    warnings: list[str] = field(default_factory=list)       # the workers' stage warnings, once each


class _Books:
    """What a worker gives runner._run_segments in place of SegmentState: finished segments go
    to the parent, which records them."""

    def __init__(self, results, wid: int):
        self.results, self.wid = results, wid

    def mark_done(self, work_dir: Path, index: int, file: Path, frames: int, first_pts: int, time_base) -> None:
        from .segments import done_entry

        self.results.put((self.wid, "done", index, done_entry(file, frames, first_pts, time_base)))


def _worker(wid: int, factory: Callable, job: dict, tasks, results) -> None:
    """A worker process: build the stages, then run the segments it takes until the queue says stop."""
    try:
        from .runner import _run_segments

        stage = factory()      # sets torch's threads from the worker's options
        _share_threads()
        books = _Books(results, wid)
        sent = 0

        def progress(done: int, total) -> None:
            nonlocal sent
            if done > sent:
                results.put((wid, "frames", done - sent))
                sent = done

        plan = job["plan"]
        while True:
            index = tasks.get()
            if index is None:
                break
            sent = 0
            repeated, deflickered = _run_segments(
                job["info"], plan, [plan.segments[index]], books, stage, job["encode"], job["work_dir"],
                job["batch_size"], job["queue_size"], progress, getattr(stage, "reset", None), 0,
                job["reuse_repeats"], job["levels"], job["lead_in"])
            results.put((wid, "counts", repeated, deflickered))
        report = stage.job_report() if hasattr(stage, "job_report") else {}
        results.put((wid, "report", report, list(getattr(stage, "stage_warnings", []) or [])))
    except BaseException as e:   # noqa: BLE001 - handed to the parent
        results.put((wid, "error", _portable(e)))


def _share_threads() -> None:
    """OpenCV's pool (optical flow, resizing, inpainting) defaults to every core in every
    process: give each worker the share torch has (set by the worker's options)."""
    import cv2
    import torch

    cv2.setNumThreads(max(1, torch.get_num_threads()))


def _portable(e: BaseException) -> BaseException:
    """The exception itself when it survives pickling (our one-line errors do), else its text."""
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:   # noqa: BLE001
        return RuntimeError(f"{type(e).__name__}: {e}")


def run_parallel(workers: int, factory: Callable, info, plan, todo, state, encode, work_dir: Path,
                 batch_size: int, queue_size: int, on_progress, done_frames: int, expected: int,
                 reuse_repeats: bool, levels, lead_in: int) -> ParallelResult:
    """Run the `todo` segments in `workers` spawned processes; `factory()` (picklable) builds a
    worker's stage. Records each finished segment in `state` as it is reported. Raises the
    first worker error (after stopping the others), or KeyboardInterrupt."""
    ctx = mp.get_context("spawn")     # fork would copy the parent's torch threads and locks
    tasks, results = ctx.Queue(), ctx.Queue()
    for s in todo:
        tasks.put(s.index)
    for _ in range(workers):
        tasks.put(None)
    job = {"info": info, "plan": plan, "encode": encode, "work_dir": work_dir, "batch_size": batch_size,
           "queue_size": queue_size, "reuse_repeats": reuse_repeats, "levels": levels, "lead_in": lead_in}
    procs = [ctx.Process(target=_worker, args=(w, factory, job, tasks, results), name=f"oldfilm-worker-{w}",
                         daemon=True) for w in range(workers)]
    out = ParallelResult()
    frames = done_frames
    reported: set[int] = set()
    error: BaseException | None = None

    def handle(msg) -> None:
        nonlocal frames, error
        wid, kind = msg[0], msg[1]
        if kind == "done":
            state.done[str(msg[2])] = msg[3]
            state.save(work_dir)
        elif kind == "frames":
            frames += msg[2]
            if on_progress:
                on_progress(frames, expected)
        elif kind == "counts":
            out.repeated += msg[2]
            out.deflickered += msg[3]
        elif kind == "report":
            reported.add(wid)
            out.reports.append(msg[2])
            out.warnings += [w for w in msg[3] if w not in out.warnings]
        elif kind == "error" and error is None:
            error = msg[2]

    for p in procs:
        p.start()
    try:
        while len(reported) < workers and error is None:
            try:
                handle(results.get(timeout=_POLL))
            except queue.Empty:
                dead = [p for w, p in enumerate(procs) if w not in reported and p.exitcode is not None]
                if dead and results.empty():
                    error = RuntimeError(f"worker process {dead[0].name} died (exit code {dead[0].exitcode})")
    except BaseException:
        _stop(procs)
        _drain(results, handle)
        raise
    if error is not None:
        _stop(procs)
        _drain(results, handle)
        raise error
    for p in procs:
        p.join()
    return out


def _stop(procs) -> None:
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=10)


def _drain(results, handle) -> None:
    """Record the segments finished before the stop whose reports are still queued."""
    while True:
        try:
            msg = results.get(timeout=_POLL)
        except (queue.Empty, OSError, ValueError, EOFError):
            return
        if msg[1] == "done":
            handle(msg)

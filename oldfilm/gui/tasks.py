"""The page's job queue: tasks (files or folders with settings) run one after another on a worker
thread, through ``jobs.discover`` and ``jobs.run_batch``, as `oldfilm restore` runs them.

So a task has the command line's guarantees: inputs are never overwritten, outputs appear under
their final name only when complete, existing outputs are skipped, and a cancelled video keeps
its finished segments: the same task queued again resumes it."""
from __future__ import annotations

import io
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import OldfilmError
from ..options import PipelineOptions
from .settings import JobSettings


class TaskCancelled(KeyboardInterrupt):
    """Raised from the progress callbacks when the user cancels: it unwinds a run as Ctrl-C does,
    which leaves a video's finished segments for a resume."""


@dataclass
class Task:
    id: int
    inputs: list[str]
    options: PipelineOptions
    settings: JobSettings
    state: str = "queued"               # queued, running, done, failed, cancelled
    files_total: int = 0
    files_done: int = 0
    current: str | None = None          # the file being processed
    frames_done: int = 0
    frames_total: int | None = None
    scanning: bool = False              # --deflicker's measuring pass
    started: float | None = None        # time.time()
    file_started: float | None = None   # time.monotonic() of the current file's first frame count
    file_frames0: int = 0
    fps: float | None = None
    eta: float | None = None            # s, current file
    log: list[str] = field(default_factory=list)
    records: list[dict] = field(default_factory=list)
    error: str | None = None
    summary: str | None = None
    cancel: threading.Event = field(default_factory=threading.Event)

    def to_json(self) -> dict:
        return {
            "id": self.id, "inputs": self.inputs, "state": self.state, "files_total": self.files_total,
            "files_done": self.files_done, "current": self.current, "frames_done": self.frames_done,
            "frames_total": self.frames_total, "scanning": self.scanning,
            "fps": None if self.fps is None else round(self.fps, 2),
            "eta": None if self.eta is None else round(self.eta), "log": self.log[-50:],
            # a folder of 50,000 photos must not make every poll megabytes: failures first, then the last ones
            "records": _shown(self.records), "records_total": len(self.records),
            "error": self.error, "summary": self.summary,
            "mode": self.settings.mode + (f" (trial {self.settings.trial.label})" if self.settings.trial else ""),
        }


SHOWN_RECORDS = 200


def _shown(records: list[dict]) -> list[dict]:
    """At most SHOWN_RECORDS of a task's records, failed ones first, in their order."""
    if len(records) <= SHOWN_RECORDS:
        return records
    failed = [r for r in records if r["status"] == "failed"][:SHOWN_RECORDS]
    rest = [r for r in records if r["status"] != "failed"][-(SHOWN_RECORDS - len(failed)):] if len(failed) < SHOWN_RECORDS else []
    return failed + rest


class TaskProgress:
    """A progress sink for ``run_batch`` (Progress's methods) that fills in a Task and stops the run
    when the task is cancelled."""

    def __init__(self, task: Task):
        self.task = task

    def _check(self) -> None:
        if self.task.cancel.is_set():
            raise TaskCancelled

    def start_job(self, name: str) -> None:
        self._check()
        t = self.task
        t.current, t.frames_done, t.frames_total, t.fps, t.eta = name, 0, None, None, None
        t.file_started, t.file_frames0 = None, 0

    def frames(self, done: int, total: int | None) -> None:
        t = self.task
        t.scanning = False
        now = time.monotonic()
        if t.file_started is None:      # the first call reports segments finished by an earlier run
            t.file_started, t.file_frames0 = now, done
        t.frames_done, t.frames_total = done, total
        ran, took = done - t.file_frames0, now - t.file_started
        if ran > 0 and took > 0:
            t.fps = ran / took
            t.eta = (total - done) / t.fps if total else None
        self._check()

    def scan(self, done: int, total: int | None) -> None:
        t = self.task
        t.scanning, t.frames_done, t.frames_total = True, done, total
        self._check()

    def end_job(self) -> None:
        t = self.task
        t.files_done += 1
        t.current, t.scanning = None, False

    def write(self, line: str, stream=None) -> None:
        self.task.log.append(line)

    def close(self) -> None:
        pass


class TaskQueue:
    """Tasks run in order on one worker thread; ``make_pipeline(options)`` builds each task's
    Pipeline (tests pass stub stages)."""

    def __init__(self, make_pipeline: Callable[[PipelineOptions], object] | None = None):
        if make_pipeline is None:
            from ..pipeline import Pipeline as make_pipeline
        self._make = make_pipeline
        self._last: tuple[str, object] | None = None     # the last task's pipeline, reused for the same options
        self._tasks: dict[int, Task] = {}
        self._ids = itertools.count(1)
        self._wake = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="oldfilm-gui-tasks", daemon=True)
        self._worker.start()

    def submit(self, inputs: list[str], options: PipelineOptions, settings: JobSettings) -> Task:
        """Queue a task. Inputs are checked now (missing paths, nothing to do), so the page can say
        what is wrong at once; raises OldfilmError with one line."""
        from ..jobs import discover

        if not inputs:
            raise OldfilmError("choose a file or a folder first")
        jobs = discover(inputs, suffix=settings.output_suffix, output_dir=settings.output_dir)
        if not jobs:
            raise OldfilmError(f"no photos or videos found in {', '.join(inputs)}")
        if all(j.error is not None for j in jobs):     # nothing could run: say why now
            raise jobs[0].error
        task = Task(next(self._ids), list(inputs), options, settings, files_total=len(jobs))
        with self._wake:
            self._tasks[task.id] = task
            self._wake.notify()
        return task

    def cancel(self, task_id: int) -> Task:
        task = self.get(task_id)
        task.cancel.set()
        if task.state == "queued":
            task.state = "cancelled"
        return task

    def get(self, task_id: int) -> Task:
        if task_id not in self._tasks:
            raise KeyError(task_id)
        return self._tasks[task_id]

    def all(self) -> list[Task]:
        return list(self._tasks.values())

    def close(self, timeout: float | None = None) -> None:
        """Cancel what runs, drop what waits, and stop the worker."""
        with self._wake:
            self._closed = True
            for t in self._tasks.values():
                t.cancel.set()
            self._wake.notify()
        self._worker.join(timeout)

    def _next(self) -> Task | None:
        with self._wake:
            while not self._closed:
                for t in self._tasks.values():
                    if t.state == "queued":
                        return t
                self._wake.wait()
            return None

    def _run(self) -> None:
        while (task := self._next()) is not None:
            self._run_task(task)

    def _run_task(self, task: Task) -> None:
        from ..jobs import discover, run_batch

        task.state, task.started = "running", time.time()
        s = task.settings
        try:
            if task.cancel.is_set():
                raise TaskCancelled
            # Found again now: files may have appeared or finished since the task was queued.
            jobs = discover(task.inputs, suffix=s.output_suffix, output_dir=s.output_dir)
            task.files_total = len(jobs)
            key = repr(task.options)
            if self._last is None or self._last[0] != key:
                self._last = None       # free the old networks before loading new ones
                self._last = (key, self._make(task.options))
            pipeline = self._last[1]
            sink = io.StringIO()
            summary = run_batch(jobs, pipeline, overwrite=s.overwrite, segment_seconds=s.segment_seconds,
                                compare=s.compare, out=sink, err=sink, bars=TaskProgress(task), trial=s.trial)
            task.records = [r.to_json() for r in summary.records]
            task.summary = summary.line()
            task.state = "failed" if summary.failed else "done"
            if summary.failed:
                task.error = f"{summary.failed} of {len(summary.records)} files failed"
        except TaskCancelled:
            task.state = "cancelled"
            task.summary = "cancelled: finished outputs are kept; run it again to resume"
        except OldfilmError as e:
            task.state, task.error = "failed", " ".join(str(e).split())
        except Exception as e:  # noqa: BLE001 - the page shows one line; the server goes on
            task.state, task.error = "failed", f"unexpected {type(e).__name__}: {' '.join(str(e).split())}"
        finally:
            task.current, task.scanning = None, False

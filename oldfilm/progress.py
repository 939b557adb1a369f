"""Progress bars (tqdm, on stderr): a batch counter and, per video, frames with fps and ETA.

Stages never print; the batch loop owns this object and the runner feeds it frame counts through
``on_progress(done, total)``. Messages go through :meth:`Progress.write` so they never tear a bar.
"""
from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm


class Progress:
    def __init__(self, total_jobs: int, enabled: bool = True, stream: TextIO | None = None,
                 mininterval: float = 0.1):
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        # Terminal width when there is a terminal; a fixed width otherwise (logs, tests).
        tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._bar_args = dict(file=self.stream, dynamic_ncols=tty, ncols=None if tty else 100,
                              mininterval=mininterval, leave=False)
        self._jobs = tqdm(total=total_jobs, unit="file", desc="files", disable=not enabled, position=0,
                          **self._bar_args)
        self._frames: tqdm | None = None
        self._scan: tqdm | None = None
        self._index = 0
        self._total_jobs = total_jobs

    def start_job(self, name: str) -> None:
        self._index += 1
        self._jobs.set_description_str(f"[{self._index}/{self._total_jobs}] {name}", refresh=True)

    def frames(self, done: int, total: int | None) -> None:
        """Per-video frame bar: shows frames done, fps and ETA. ``total`` None when unknown."""
        if not self.enabled:
            return
        self._close_scan()
        if self._frames is None:
            self._frames = tqdm(total=total or None, unit="frame", desc="frames", position=1, smoothing=0.1,
                                **self._bar_args)
        if total and self._frames.total != total:
            self._frames.total = total
        self._frames.update(max(0, done - self._frames.n))

    def scan(self, done: int, total: int | None) -> None:
        """Bar of a video's measuring pass (``--deflicker``), before its frame bar; closed at the end."""
        if not self.enabled:
            return
        if self._scan is None:
            self._scan = tqdm(total=total or None, unit="frame", desc="measuring flicker", position=1, **self._bar_args)
        self._scan.update(max(0, done - self._scan.n))
        if total and done >= total:
            self._close_scan()

    def _close_scan(self) -> None:
        if self._scan is not None:
            self._scan.close()
            self._scan = None

    def end_job(self) -> None:
        self._close_scan()
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        self._jobs.update(1)

    def write(self, line: str, stream: TextIO | None = None) -> None:
        """Print a line above the bars (or plainly when they are off)."""
        out = stream if stream is not None else self.stream
        if self.enabled:
            tqdm.write(line, file=out)
        else:
            print(line, file=out, flush=True)

    def close(self) -> None:
        self._close_scan()
        if self._frames is not None:
            self._frames.close()
            self._frames = None
        self._jobs.close()

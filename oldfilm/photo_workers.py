"""The photos of a batch in several processes (`--workers N`).

Photos are independent jobs, so with `--workers N` a run of consecutive photos in a batch goes
to N spawned processes, each with its own pipeline (its own copy of the models) and 1/N of the
torch and OpenCV threads; the results come back in the batch's order, and the parent prints and
records them as for one process. Each job keeps its guarantees where it runs: the input is never
written, the output appears atomically, an existing one is skipped, a bad file is one failed
record. Videos stay in the parent (their segments have their own workers, video/workers.py).
"""
from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator
from functools import partial

_PIPELINE = None        # the worker process's pipeline (built by _init)
_INIT_ERROR: BaseException | None = None


def _init(options) -> None:
    global _PIPELINE, _INIT_ERROR
    try:
        import cv2
        import torch

        from .pipeline import Pipeline

        _PIPELINE = Pipeline(options)            # sets torch's threads from the options
        cv2.setNumThreads(max(1, torch.get_num_threads()))
        _PIPELINE.prepare(photos=True, videos=False)
    except Exception as e:   # noqa: BLE001 - reported with each job, not as a dying worker
        _INIT_ERROR = e


def _photo(job, overwrite: bool, compare: bool):
    from .jobs import _run_one, failed_record

    try:
        if _INIT_ERROR is not None:
            raise _INIT_ERROR
        return _run_one(job, _PIPELINE, overwrite, 0.0, compare, None)
    except Exception as e:   # noqa: BLE001 - one line per failed job, the batch goes on
        return failed_record(job, e)


class PhotoPool:
    """N worker processes for photo jobs; `run` yields JobRecords in the jobs' order."""

    def __init__(self, workers: int, options):
        ctx = mp.get_context("spawn")    # fork would copy the parent's torch threads and locks
        self._pool = ctx.Pool(workers, initializer=_init, initargs=(options,))

    def run(self, jobs: list, overwrite: bool, compare: bool) -> Iterator:
        return self._pool.imap(partial(_photo, overwrite=overwrite, compare=compare), jobs)

    def close(self) -> None:
        self._pool.close()
        self._pool.join()

    def terminate(self) -> None:
        self._pool.terminate()
        self._pool.join()

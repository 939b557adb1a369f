"""Degraded training batches for ``oldfilm train restorer|scratch``, made in the step or ahead of it.

Making a batch (read, crop, degrade: tens of ms a crop on one core) costs as much as a light
network's step on a CPU, and far more than one on a GPU. ``--workers N`` makes batches in N
worker processes (a torch DataLoader over an endless stream) while the network trains, so a GPU
is fed by the machine's cores. ``--workers 0`` (the default) makes each batch in the step from the
run's own generator, exactly as before, so CPU runs and their tests are unchanged.

Worker batches come from generators seeded by (``--seed``, the step the stream opened at, the
stream's number in this session, the worker's index): a resumed run draws new batches rather than
the ones it has already trained on, and a run repeats itself given the same history.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..degrade import DegradeRecipe
from . import data as D


class _DegradedStream(IterableDataset):
    """Endless (clean, degraded, mask) tensors of one batch shape, one generator per worker."""

    def __init__(self, images: D.ImageSet, recipe: DegradeRecipe, n: int, size: int, p_clean: float,
                 seed: list[int]):
        super().__init__()
        self.images, self.recipe, self.n, self.size, self.p_clean, self.seed = images, recipe, n, size, p_clean, seed

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        rng = np.random.default_rng([*self.seed, info.id if info is not None else 0])
        while True:
            b = D.degraded_batch(self.images, self.n, self.size, rng, self.recipe, self.p_clean)
            yield b.clean, b.degraded, b.mask


def _one_thread(_: int) -> None:
    # each worker is one core's worth of degradation; the main process keeps its own threads
    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


class BatchFeeder:
    """``batch(rng, n, size, p_clean)`` -> :class:`data.DegradedBatch` (tensors on the CPU).

    ``workers`` 0: ``data.degraded_batch`` in the caller, drawing from ``rng``. Otherwise the
    batches come from worker processes and ``rng`` is not used; a new batch shape (a new training
    phase) closes the old workers and starts new ones."""

    def __init__(self, images: D.ImageSet, recipe: DegradeRecipe, *, workers: int = 0, seed: int = 0,
                 start_step: int = 0, pin_memory: bool = False, prefetch: int = 4):
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.images, self.recipe, self.workers = images, recipe, workers
        self.seed, self.start_step, self.pin_memory, self.prefetch = seed, start_step, pin_memory, prefetch
        self._key: tuple | None = None
        self._it: Iterator | None = None
        self._streams = 0

    def batch(self, rng: np.random.Generator, n: int, size: int, p_clean: float = 0.0) -> D.DegradedBatch:
        if self.workers == 0:
            return D.degraded_batch(self.images, n, size, rng, self.recipe, p_clean)
        key = (n, size, p_clean)
        if key != self._key or self._it is None:
            self.close()
            stream = _DegradedStream(self.images, self.recipe, n, size, p_clean,
                                     [self.seed, self.start_step, self._streams])
            self._it = iter(DataLoader(stream, batch_size=None, num_workers=self.workers,
                                       prefetch_factor=self.prefetch, pin_memory=self.pin_memory,
                                       worker_init_fn=_one_thread))
            self._key, self._streams = key, self._streams + 1
        clean, degraded, mask = next(self._it)
        return D.DegradedBatch(clean, degraded, mask)

    def close(self) -> None:
        """Stop the worker processes (they also stop when the feeder is garbage-collected)."""
        it, self._it, self._key = self._it, None, None
        shutdown = getattr(it, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()

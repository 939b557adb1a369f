"""The stage interface that restore/, faces and colorize/ plug into.

A stage maps a batch of frames to a batch of frames of the same sizes:
``list[np.ndarray]`` of uint8 RGB HxWx3 in, the same out. Frames of one batch are consecutive
frames of one video (or independent photos). ``reset()`` is called at the start of every file and
every independently processed video segment, so temporal state (landmark smoothing) never crosses
a segment boundary and segments can be processed anywhere, in any order.

A stage whose state from frame to frame shows at a segment start sets ``warm_start = True``.
The video runner then starts each segment after the first by running it on the last few frames
of the segment before (``StageChain.warm_up``, outputs dropped), right after ``reset()``, so its
state enters the segment much as it would in one pass, and still depends on the source alone.

A stage never prints. It reports counters (``report()``) and warnings through the runner.
"""
from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np


@runtime_checkable
class Stage(Protocol):
    name: str

    def __call__(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """uint8 RGB HxWx3 frames in, uint8 RGB frames of the same sizes out."""
        ...

    def reset(self) -> None:
        """Forget temporal state: a new file or a new independent segment starts."""
        ...

    def report(self) -> dict:
        """Counters for the --json summary since the last reset, e.g. {"faces": 3}."""
        ...


class StageBase:
    """Default no-op bookkeeping for stages; subclasses implement ``__call__``."""

    name = "stage"
    warm_start = False    # wants the runner's lead-in at segment starts (module docstring)

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def __call__(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def reset(self) -> None:
        pass

    def report(self) -> dict:
        return {}

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)


class IdentityStage(StageBase):
    """Returns the frames unchanged (copies). The ceiling for every later stage in bench/."""

    name = "identity"

    def __call__(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [np.ascontiguousarray(f) for f in frames]

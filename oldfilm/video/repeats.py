"""Repeated frames: the same picture twice in a row, up to codec noise.

Film shot at 16-20 fps and transferred at 24, 25 or 30 fps holds each of its frames two or three
times over (in the bundled silent-era clip 65 of 241 frames are found to repeat). The encoder
stores a repeat with a little noise, so a repeat is not byte-equal. The runner gives a repeat the
output of the frame it repeats instead of running the stages again: the same picture gets the
same restoration and colours, and the time is saved.

A repeat must differ from its key frame by codec noise only: a small mean difference over the
frame, and no 8x8 block whose mean difference shows a change. A moving object, however small,
changes some block by much more; grain changes every block (a static shot on real film is never a
repeat). Measured on the fixture clips (docs/bench-io.md, "Repeated frames").
"""
from __future__ import annotations

import cv2
import numpy as np

REPEAT_MEAN = 0.5      # 8-bit levels: mean |difference| over every pixel and channel
REPEAT_BLOCK = 8.0     # 8-bit levels: largest mean |difference| of an 8x8 block (channels averaged)
BLOCK = 8


def repeats(frame: np.ndarray, key: np.ndarray) -> bool:
    """uint8 RGB HxWx3 ``frame`` and ``key`` (same shape) -> True when ``frame`` shows the same
    picture as ``key`` up to codec noise."""
    if frame.shape != key.shape:
        return False
    diff = cv2.absdiff(frame, key)
    if float(diff.mean()) > REPEAT_MEAN:        # the common case, a frame that moved: cheap exit
        return False
    h, w = diff.shape[:2]
    if h < BLOCK or w < BLOCK:
        return float(diff.mean(axis=-1).max()) <= REPEAT_BLOCK
    blocks = cv2.resize(diff.astype(np.float32), (w // BLOCK, h // BLOCK), interpolation=cv2.INTER_AREA)
    per_block = blocks.mean(axis=-1) if blocks.ndim == 3 else blocks
    return float(per_block.max()) <= REPEAT_BLOCK


def reuse_plan(frames: list[np.ndarray], key: np.ndarray | None) -> tuple[list[int], list[int]]:
    """Which frames of a batch must run, and whose output each one takes.

    ``frames``: consecutive uint8 RGB HxWx3 frames; ``key``: the last frame the stages ran on
    before them (None at a segment start, where the first frame always runs). Returns ``(fresh,
    source)``: the indices of the frames to run, and for every frame the position in ``fresh``
    whose output it takes (-1: the key's). Each frame is compared with the last frame that runs,
    not with its predecessor, so a slow drift (a fade) is never frozen."""
    fresh: list[int] = []
    source: list[int] = []
    for i, f in enumerate(frames):
        if key is None or not repeats(f, key):
            fresh.append(i)
            key = f
        source.append(len(fresh) - 1)
    return fresh, source

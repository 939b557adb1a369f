"""Labelled contact sheets and labelled images: pure array functions (uint8 RGB HxWx3 in and out).

Used by ``oldfilm compare`` (before/after halves), ``oldfilm eval`` (input | output | reference
rows) and the training model cards.
"""
from __future__ import annotations

import functools
from typing import Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # a Pillow built without FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def label_bar(width: int, text: str, height: int | None = None) -> np.ndarray:
    """A dark bar ``width`` px wide with ``text`` centred on it, uint8 RGB. Height scales with width
    (readable on a 320 px thumbnail and on a 4K frame) unless given."""
    height = height or max(16, min(64, width // 16))
    bar = Image.new("RGB", (max(1, width), height), BACKGROUND)
    draw = ImageDraw.Draw(bar)
    font = _font(max(9, int(height * 0.62)))
    # Shorten from the right until it fits, so a long file name never overflows its half.
    shown = text
    while shown and draw.textlength(shown, font=font) > width - 6:
        shown = shown[:-2] + "…" if len(shown) > 2 else ""
    box = draw.textbbox((0, 0), shown, font=font)
    x = (width - (box[2] - box[0])) // 2 - box[0]
    y = (height - (box[3] - box[1])) // 2 - box[1]
    draw.text((x, y), shown, fill=TEXT, font=font)
    return np.asarray(bar)


def labelled(image: np.ndarray, text: str, bar_height: int | None = None) -> np.ndarray:
    """``image`` (uint8 RGB HxWx3) with a label bar on top: (H + bar) x W x 3."""
    return np.concatenate([label_bar(image.shape[1], text, bar_height), image], axis=0)


def fit(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to fit inside width x height keeping the aspect ratio, centred on the background."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(image, (nw, nh), interpolation=interp)
    cell = np.empty((height, width, 3), np.uint8)
    cell[:] = BACKGROUND
    y, x = (height - nh) // 2, (width - nw) // 2
    cell[y:y + nh, x:x + nw] = small
    return cell


def _rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected uint8 RGB HxWx3 or HxW, got {image.dtype} {image.shape}")
    return image


def contact_sheet(
    rows: Sequence[Sequence[np.ndarray]],
    column_labels: Sequence[str],
    row_labels: Sequence[str] | None = None,
    cell: int = 192,
    gap: int = 4,
) -> np.ndarray:
    """A grid of images, one row per example, with a label above every column and (optionally)
    one left of every row. Each image is fitted into a ``cell`` x ``cell`` square. uint8 RGB out.
    Masks (HxW uint8) are shown as gray images."""
    if not rows:
        raise ValueError("contact_sheet needs at least one row")
    ncol = len(column_labels)
    if any(len(r) != ncol for r in rows):
        raise ValueError(f"every row needs {ncol} images, one per column label")
    bar = max(18, cell // 10)

    def join(parts: list[np.ndarray]) -> np.ndarray:
        spacer = np.full((parts[0].shape[0], gap, 3), BACKGROUND, np.uint8)
        out = [parts[0]]
        for p in parts[1:]:
            out += [spacer, p] if gap else [p]
        return np.concatenate(out, axis=1)

    header = join([label_bar(cell, lab, bar) for lab in column_labels])
    lines = [header]
    for r in rows:
        if gap:
            lines.append(np.full((gap, header.shape[1], 3), BACKGROUND, np.uint8))
        lines.append(join([fit(_rgb(img), cell, cell) for img in r]))
    sheet = np.concatenate(lines, axis=0)
    if row_labels is not None:
        if len(row_labels) != len(rows):
            raise ValueError("one row label per row")
        side = max(cell // 2, 64)
        col = [np.full((bar, side, 3), BACKGROUND, np.uint8)]
        for lab in row_labels:
            if gap:
                col.append(np.full((gap, side, 3), BACKGROUND, np.uint8))
            col.append(fit(label_bar(side, lab, bar), side, cell))
        sheet = np.concatenate([np.concatenate(col, axis=0), sheet], axis=1)
    return np.ascontiguousarray(sheet)


def side_by_side(before: np.ndarray, after: np.ndarray, labels: tuple[str, str] = ("before", "after"),
                 gap: int = 4) -> np.ndarray:
    """``before`` and ``after`` next to each other at ``after``'s size, each labelled. uint8 RGB."""
    before, after = _rgb(before), _rgb(after)
    h, w = after.shape[:2]
    if before.shape[:2] != (h, w):
        before = cv2.resize(before, (w, h), interpolation=cv2.INTER_AREA)
    bar = max(16, min(64, w // 12))
    left, right = labelled(before, labels[0], bar), labelled(after, labels[1], bar)
    sep = np.full((left.shape[0], gap, 3), BACKGROUND, np.uint8)
    return np.concatenate([left, sep, right], axis=1)

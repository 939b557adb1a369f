"""Put enhanced face crops back into the frame: colour matching, feathered alpha, compositing.

Differences from BOPBTL (restore-spec.md §4) and why:

* The feather is defined in crop pixels (a ramp :data:`FEATHER_FRACTION` of the crop side wide,
  from the crop's edges and from the frame's edges), then warped with the face, so its width in
  the frame scales with the face. BOPBTL erodes and blurs by fixed pixel counts.
* Colour matching moves each channel's mean and standard deviation of the enhanced crop to those
  of the original crop, over the part of the crop that lies inside the frame. BOPBTL's 256-bin
  histogram matching includes the black border and reshapes the whole histogram per frame, which
  flickers in video.
* Overlapping faces are composited order-independently: coverage A = 1 - prod(1 - a_i), colour =
  sum(a_i f_i) / sum(a_i). BOPBTL pastes sequentially, so the later face wins.
* Pixels where every face's alpha is 0 are copied from the input, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FEATHER_FRACTION = 0.08      # ramp width / crop side (20 px in a 256 crop)
MAX_STD_RATIO = 3.0          # bound the std transfer on flat crops


def valid_mask(crop_to_frame: np.ndarray, size: int, frame_hw: tuple[int, int]) -> np.ndarray:
    """bool SxS: crop pixels whose bilinear sample lies fully inside the frame."""
    h, w = frame_hw
    ones = np.full((h, w), 255, np.uint8)
    m = cv2.warpAffine(ones, crop_to_frame[:2], (size, size),
                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return m == 255


def crop_alpha(valid: np.ndarray, feather: int | None = None) -> np.ndarray:
    """float32 SxS in [0, 1]: 0 at the crop's edges and outside the frame, ramping to 1 inside.

    The ramp is a smoothstep of the distance (crop px) to the nearest invalid pixel or crop edge.
    """
    size = valid.shape[0]
    feather = feather or max(2, round(FEATHER_FRACTION * size))
    padded = np.pad(valid.astype(np.uint8), 1)            # crop edges count as invalid
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]
    t = np.clip((dist - 1.0) / feather, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def match_colour(face: np.ndarray, reference: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per-channel mean/std transfer of ``face`` onto ``reference`` where ``weight`` > 0.5.

    face: float32 SxSx3 in [0, 255]; reference: uint8 SxSx3 (the original crop); weight: SxS.
    Returns float32 SxSx3 in [0, 255]. Unchanged when too few pixels are inside.
    """
    sel = weight > 0.5
    if sel.sum() < 16:
        return face
    f = face[sel].astype(np.float64)
    r = reference[sel].astype(np.float64)
    fm, fs = f.mean(0), f.std(0)
    rm, rs = r.mean(0), r.std(0)
    ratio = np.clip(rs / np.maximum(fs, 1e-3), 1.0 / MAX_STD_RATIO, MAX_STD_RATIO)
    out = (face - fm) * ratio + rm
    return np.clip(out, 0.0, 255.0).astype(np.float32)


def to_gray(face: np.ndarray) -> np.ndarray:
    """float32 SxSx3 in [0, 255] -> the same with R = G = B = its ITU-R 601 luma (OpenCV's
    RGB2GRAY weights): a black-and-white frame keeps no colour from the face generator."""
    y = face @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat(y[..., None], 3, axis=2).astype(np.float32)


@dataclass
class PasteFace:
    """One face to composite: the enhanced crop (float32 SxSx3 in [0, 255]), its alpha (float32
    SxS in [0, 1]) and the crop -> frame similarity (3x3)."""

    face: np.ndarray
    alpha: np.ndarray
    crop_to_frame: np.ndarray


def _frame_box(m: np.ndarray, size: int, h: int, w: int) -> tuple[int, int, int, int] | None:
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=np.float64) - [0.5, 0.5, 0]
    xy = corners @ m[:2].T
    x0, y0 = np.floor(xy.min(0)).astype(int) - 2
    x1, y1 = np.ceil(xy.max(0)).astype(int) + 3
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def paste_faces(frame: np.ndarray, faces: list[PasteFace]) -> np.ndarray:
    """Composite faces into a copy of a uint8 RGB HxWx3 frame.

    Faces are warped back bicubically (BOPBTL's order 3), their alphas bilinearly. Only pixels
    with some alpha change; every other pixel is the input's byte.
    """
    out = frame.copy()
    h, w = frame.shape[:2]
    boxes = [_frame_box(f.crop_to_frame, f.face.shape[0], h, w) for f in faces]
    live = [(f, b) for f, b in zip(faces, boxes) if b is not None]
    if not live:
        return out
    x0 = min(b[0] for _, b in live)
    y0 = min(b[1] for _, b in live)
    x1 = max(b[2] for _, b in live)
    y1 = max(b[3] for _, b in live)
    rh, rw = y1 - y0, x1 - x0
    num = np.zeros((rh, rw, 3), np.float32)
    den = np.zeros((rh, rw), np.float32)
    keep = np.ones((rh, rw), np.float32)
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=np.float64)
    for f, _ in live:
        m = (shift @ f.crop_to_frame)[:2]
        face = cv2.warpAffine(f.face, m, (rw, rh), flags=cv2.INTER_CUBIC,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        a = cv2.warpAffine(f.alpha, m, (rw, rh), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        np.clip(a, 0.0, 1.0, out=a)
        np.clip(face, 0.0, 255.0, out=face)
        num += face * a[..., None]
        den += a
        keep *= 1.0 - a
    cover = 1.0 - keep
    touched = cover > 0
    if not touched.any():
        return out
    roi = out[y0:y1, x0:x1]
    orig = roi[touched].astype(np.float32)
    colour = num[touched] / den[touched][:, None]
    c = cover[touched][:, None]
    roi[touched] = np.clip(np.rint(orig * (1.0 - c) + colour * c), 0, 255).astype(np.uint8)
    return out

"""Similarity alignment of a face to BOPBTL's template, and the aligned crop.

BOPBTL (restore-spec.md §4) defines five points on a 512 canvas, scales them by 1.3 about the
centre and fits a 4-DOF similarity (skimage ``SimilarityTransform.estimate``: Umeyama least
squares) from the S x S crop to the frame. We reproduce that fit and the bilinear crop with a
black border. With the 5-point landmark model (no nose tip, no mouth corners) the template points
for its raw points were derived from faces aligned the BOPBTL way (docs/faces.md,
bench/derive_face_template.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .landmarks import AlignPoints

# BOPBTL _standard_face_pts on a 512 canvas: left eye, right eye, nose tip, mouth corners.
BOPBTL_CANVAS_POINTS = np.array(
    [[196.0, 226.0], [316.0, 226.0], [256.0, 286.0], [220.0, 360.4], [292.0, 360.4]]
)
BOPBTL_SCALE = 1.3

# Template for dlib's 5-point model in units of the crop side (x/S, y/S): image-right eye outer
# and inner corner, image-left eye outer and inner corner, nose bottom. Derived by
# bench/derive_face_template.py: the mean position of those points in crops aligned by BOPBTL's
# own 68-point rule, over faces from data/faces/utkface (see docs/faces.md for the numbers).
DLIB5_TEMPLATE_UNIT = np.array(
    [[0.71894, 0.42832], [0.59419, 0.43503], [0.28152, 0.42762], [0.40562, 0.43497], [0.49950, 0.66337]]
)


def bopbtl_template(size: int) -> np.ndarray:
    """BOPBTL's five target points in an S x S crop (S=256: (89,108.5) ... (151.4,195.86))."""
    std = BOPBTL_CANVAS_POINTS / 256.0 - 1.0
    return (std * BOPBTL_SCALE + 1.0) / 2.0 * size


def template_for(scheme: str, size: int) -> np.ndarray:
    if scheme == "bopbtl5":
        return bopbtl_template(size)
    if scheme == "dlib5":
        return DLIB5_TEMPLATE_UNIT * size
    raise ValueError(f"unknown landmark scheme {scheme!r}")


def estimate_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """3x3 similarity (rotation, uniform scale, translation) mapping src -> dst, least squares.

    Umeyama's method, as skimage's SimilarityTransform.estimate. src, dst: float Kx2 (x, y).
    Returns None for degenerate point sets (all points equal, non-finite input).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.shape[0] < 2 or not (np.isfinite(src).all() and np.isfinite(dst).all()):
        return None
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_d, dst_d = src - src_mean, dst - dst_mean
    var = src_d.var(0).sum()
    if var <= 1e-12:
        return None
    a = dst_d.T @ src_d / src.shape[0]
    d = np.ones(2)
    if np.linalg.det(a) < 0:
        d[-1] = -1
    u, s, vt = np.linalg.svd(a)
    rank = np.linalg.matrix_rank(a)
    if rank == 0:
        return None
    t = np.eye(3)
    if rank == 1 and np.linalg.det(u) * np.linalg.det(vt) <= 0:
        d2 = d.copy()
        d2[-1] = -1
        t[:2, :2] = u @ np.diag(d2) @ vt
    else:
        t[:2, :2] = u @ np.diag(d) @ vt
    scale = (s @ d) / var
    if not np.isfinite(scale) or scale <= 1e-6:
        return None
    t[:2, 2] = dst_mean - scale * (t[:2, :2] @ src_mean)
    t[:2, :2] *= scale
    return t


def similarity_scale(matrix: np.ndarray) -> float:
    """Uniform scale of a similarity matrix (frame px per crop px when it maps crop -> frame)."""
    return float(np.sqrt(abs(np.linalg.det(matrix[:2, :2]))))


@dataclass
class AlignedFace:
    """An aligned S x S crop (uint8 RGB) and its crop -> frame similarity (3x3 float64)."""

    crop: np.ndarray
    crop_to_frame: np.ndarray

    @property
    def size(self) -> int:
        return int(self.crop.shape[0])

    @property
    def face_side(self) -> float:
        """Side of the crop's square in frame pixels."""
        return self.size * similarity_scale(self.crop_to_frame)


def crop_to_frame_matrix(points: AlignPoints, size: int) -> np.ndarray | None:
    """The similarity that maps the template (crop px) onto the landmarks (frame px)."""
    return estimate_similarity(template_for(points.scheme, size), points.points)


def warp_crop(frame: np.ndarray, crop_to_frame: np.ndarray, size: int) -> np.ndarray:
    """The S x S crop of a uint8 RGB frame: bilinear, black outside the frame (BOPBTL's warp)."""
    return cv2.warpAffine(
        frame, crop_to_frame[:2], (size, size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )


def align_face(frame: np.ndarray, points: AlignPoints, size: int) -> AlignedFace | None:
    """Aligned crop of one face, or None when the landmarks give no valid similarity."""
    m = crop_to_frame_matrix(points, size)
    if m is None:
        return None
    return AlignedFace(warp_crop(frame, m, size), m)

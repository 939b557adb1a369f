"""Face boxes with dlib's HOG frontal detector (dlib-bin), on a resized copy of the frame.

The HOG window is 80x80 px, so at the frame's own scale faces smaller than about 80 px are
missed (BOPBTL's defect: it always runs at upsample 0). We pick the detection scale per frame
size: the copy is resized so that a face of ``min_face`` px would fill the window (upsampling
small frames), but never beyond ``max_pixels`` (downscaling large frames and scans, for speed).
The plan is a pure function of the frame size, so every frame of a video is searched alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

HOG_WINDOW = 80  # px: dlib's frontal detector scans an 80x80 window


@dataclass(frozen=True)
class FaceBox:
    """A detection in frame pixels: left, top, right, bottom (exclusive), and the SVM score."""

    left: float
    top: float
    right: float
    bottom: float
    score: float

    @property
    def size(self) -> float:
        return max(self.right - self.left, self.bottom - self.top)


@dataclass(frozen=True)
class DetectionPlan:
    """How one frame is searched: the detector runs on the frame resized by ``scale``."""

    scale: float

    @property
    def upsampled(self) -> bool:
        return self.scale > 1.0


MAX_UPSCALE = 4.0


def plan_detection(height: int, width: int, min_face: int, max_pixels: int = 1_000_000) -> DetectionPlan:
    """The scale that shows a ``min_face`` face at the HOG window size, within the pixel budget."""
    want = HOG_WINDOW / max(min_face, 1)
    budget = math.sqrt(max_pixels / max(1, height * width))
    return DetectionPlan(scale=min(want, budget, MAX_UPSCALE))


class FaceDetector:
    """dlib HOG frontal-face detector. Detects on uint8 RGB HxWx3 frames; boxes in frame pixels."""

    def __init__(self, min_face: int = 24, min_score: float = 0.3, max_pixels: int = 1_000_000):
        import dlib  # deferred: only the face stage needs it

        self._detector = dlib.get_frontal_face_detector()
        self.min_face = min_face
        # Scores below ~0.3 were mostly textures (a suit patch in the NASA portrait); true faces
        # in the fixtures score > 1.
        self.min_score = min_score
        self.max_pixels = max_pixels

    def plan(self, height: int, width: int) -> DetectionPlan:
        return plan_detection(height, width, self.min_face, self.max_pixels)

    def __call__(self, frame: np.ndarray) -> list[FaceBox]:
        h, w = frame.shape[:2]
        plan = self.plan(h, w)
        if plan.scale != 1.0:
            size = (max(1, round(w * plan.scale)), max(1, round(h * plan.scale)))
            interp = cv2.INTER_LINEAR if plan.upsampled else cv2.INTER_AREA
            small = cv2.resize(frame, size, interpolation=interp)
        else:
            small = np.ascontiguousarray(frame)
        rects, scores, _ = self._detector.run(small, 0, 0.0)
        sx, sy = w / small.shape[1], h / small.shape[0]
        boxes = []
        for r, s in zip(rects, scores):
            if s < self.min_score:
                continue
            boxes.append(FaceBox(r.left() * sx, r.top() * sy, (r.right() + 1) * sx, (r.bottom() + 1) * sy, float(s)))
        return boxes


def smallest_detectable_face(plan: DetectionPlan) -> int:
    """Face size in frame px that fills the HOG window under ``plan`` (docs, bench)."""
    return math.ceil(HOG_WINDOW / plan.scale)

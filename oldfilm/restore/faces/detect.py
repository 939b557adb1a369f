"""Face boxes with dlib (dlib-bin), on a resized copy of the frame.

Two detectors, both dlib's:

* ``hog``: the HOG frontal detector BOPBTL uses. About 0.1 s for a 1 MP copy on two cores.
* ``cnn``: dlib's MMOD CNN face detector (``mmod_human_face_detector.dat`` from the
  face-recognition-models package). It finds the low-contrast, faded, grainy and turned faces of
  old photographs that HOG misses (docs/faces.md has the measurements), at about 85 times HOG's
  CPU time, so ``auto`` uses it for photos and HOG for video frames. dlib's 5-point landmark model
  works with boxes from either detector.

Both scan an 80x80 px window, so at the frame's own scale faces smaller than about 80 px are
missed (BOPBTL's defect: it always runs at upsample 0). We pick the detection scale per frame
size: the copy is resized so that a face of ``min_face`` px would fill the window (upsampling
small frames), but never beyond ``max_pixels`` (downscaling large frames and scans, for speed).
The plan is a pure function of the frame size, so every frame of a video is searched alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...errors import NoWeightsError, OldfilmError

HOG_WINDOW = 80  # px: dlib's frontal detector scans an 80x80 window
DETECTORS = ("hog", "cnn")
CNN_MODEL_FILE = "mmod_human_face_detector.dat"
# Scores below which a detection is dropped. HOG: below ~0.3 were mostly textures (a suit patch
# in the NASA portrait); true faces in the fixtures score > 1. CNN: dlib's own operating point.
MIN_SCORE = {"hog": 0.3, "cnn": 0.0}


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


def cnn_model_path() -> Path:
    """dlib's MMOD face detector file in the face-recognition-models package."""
    from .landmarks import models_dir  # deferred: landmarks imports this module

    path = models_dir() / CNN_MODEL_FILE
    if not path.is_file():
        raise NoWeightsError(f"{path}: face detector model missing; reinstall face-recognition-models==0.3.0")
    return path


class FaceDetector:
    """dlib face detector (``kind`` "hog" or "cnn"). Detects on uint8 RGB HxWx3 frames; boxes in
    frame pixels."""

    def __init__(self, min_face: int = 24, min_score: float | None = None, max_pixels: int = 1_000_000,
                 kind: str = "hog"):
        import dlib  # deferred: only the face stage needs it

        if kind not in DETECTORS:
            raise OldfilmError(f"face detector {kind!r}: expected one of {', '.join(DETECTORS)}")
        self.kind = kind
        if kind == "hog":
            self._detector = dlib.get_frontal_face_detector()
        else:
            self._cnn = dlib.cnn_face_detection_model_v1(str(cnn_model_path()))
        self.min_face = min_face
        self.min_score = MIN_SCORE[kind] if min_score is None else min_score
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
        if self.kind == "hog":
            rects, scores, _ = self._detector.run(small, 0, 0.0)
        else:
            found = self._cnn(small, 0)
            rects, scores = [d.rect for d in found], [d.confidence for d in found]
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

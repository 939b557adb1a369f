"""Facial landmarks with dlib shape predictors from the face-recognition-models package.

The package is never imported (its ``__init__`` needs pkg_resources); its ``models/`` folder is
located with importlib. Two models:

* 5 points (default; clean licence): outer and inner corner of each eye, bottom of the nose.
* 68 points (``landmarks=68``): iBUG 300-W markup, which gives BOPBTL's exact five alignment
  points, but the training data's licence excludes commercial use (:data:`LICENCE_NOTE_68`).

Both return :class:`AlignPoints`: the points the alignment template is defined on, in frame
pixel coordinates (x right, y down; pixel centres at integers).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import NoWeightsError
from .detect import FaceBox

LICENCE_NOTE_68 = (
    "--landmarks 68 uses dlib's 68-point model, trained on iBUG 300-W, whose licence excludes "
    "commercial use; the default 5-point model has no such restriction"
)
MODEL_FILES = {5: "shape_predictor_5_face_landmarks.dat", 68: "shape_predictor_68_face_landmarks.dat"}


def models_dir() -> Path:
    """face_recognition_models/models, found without importing the package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise NoWeightsError(
            "the face stage needs the landmark models of the 'face-recognition-models' package; "
            "install it with `pip install face-recognition-models==0.3.0`"
        )
    return Path(spec.origin).parent / "models"


@dataclass(frozen=True)
class AlignPoints:
    """Alignment points of one face, float64 Kx2 (x, y) frame pixels, and which scheme they follow.

    scheme "bopbtl5": left eye centre, right eye centre, nose tip, left and right mouth corner
    (image left/right), BOPBTL's definition from the 68-point markup.
    scheme "dlib5": the 5-point model's raw points: image-right eye outer, inner corner,
    image-left eye outer, inner corner, nose bottom.
    """

    points: np.ndarray
    scheme: str

    @property
    def eye_distance(self) -> float:
        if self.scheme == "bopbtl5":
            left, right = self.points[0], self.points[1]
        else:
            left, right = (self.points[2] + self.points[3]) / 2, (self.points[0] + self.points[1]) / 2
        return float(np.hypot(*(right - left)))

    @property
    def centre(self) -> np.ndarray:
        return self.points.mean(axis=0)


def bopbtl_points_from_68(p: np.ndarray) -> np.ndarray:
    """BOPBTL's five points from the 68 markup (``detect_all_dlib.py:search``), 0-based indices.

    Eye centres are the mean of the two eye corners (36, 39) and (42, 45); nose tip 30; mouth
    corners 48, 54. BOPBTL truncates the eye means to int; we keep the float (<= 0.5 px apart).
    """
    return np.stack([(p[36] + p[39]) / 2, (p[42] + p[45]) / 2, p[30], p[48], p[54]]).astype(np.float64)


class LandmarkModel:
    """dlib shape predictor for uint8 RGB HxWx3 frames and :class:`FaceBox` boxes."""

    def __init__(self, points: int = 5):
        if points not in MODEL_FILES:
            raise ValueError(f"landmarks must be 5 or 68, not {points}")
        import dlib  # deferred: only the face stage needs it

        path = models_dir() / MODEL_FILES[points]
        if not path.is_file():
            raise NoWeightsError(f"{path}: landmark model missing; reinstall face-recognition-models==0.3.0")
        self.points = points
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(path))

    def __call__(self, frame: np.ndarray, box: FaceBox) -> AlignPoints:
        raw = self.raw(frame, box)
        if self.points == 68:
            return AlignPoints(bopbtl_points_from_68(raw), "bopbtl5")
        return AlignPoints(raw, "dlib5")

    def raw(self, frame: np.ndarray, box: FaceBox) -> np.ndarray:
        """All of the model's points, float64 Kx2 frame pixels (template derivation)."""
        rect = self._dlib.rectangle(int(round(box.left)), int(round(box.top)),
                                    int(round(box.right)) - 1, int(round(box.bottom)) - 1)
        return np.array([(pt.x, pt.y) for pt in self._predictor(frame, rect).parts()], dtype=np.float64)

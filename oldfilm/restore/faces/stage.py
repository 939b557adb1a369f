"""The face stage: per frame detect, landmark, smooth, align, enhance, colour-match, blend back.

Runs after global restoration (``oldfilm restore``; ``--faces/--no-faces``). Frames are uint8 RGB
HxWx3; a batch is consecutive frames of one segment (or independent photos, each its own file:
the runner calls ``reset()`` at each file and segment start, which clears landmark smoothing).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ...device import inference, resolve_device
from ...errors import NoWeightsError, OldfilmError
from ...options import FaceOptions, RunOptions
from ...stage import StageBase
from ..restorer import is_grayscale
from ..strength import apply_strength
from .align import AlignedFace, align_face
from .blend import PasteFace, crop_alpha, match_colour, paste_faces, to_gray, valid_mask
from .detect import DETECTORS, FaceBox, FaceDetector
from .landmarks import LICENCE_NOTE_68, AlignPoints, LandmarkModel
from .smoothing import LandmarkSmoother
from .tracking import TrackedFaceDetector, video_face_detector

# A frontal face's eye distance is about 0.4 of the HOG box; far below that the landmarks are
# not a frontal face (profile, occluded, a false detection) and alignment would be nonsense.
MIN_EYE_TO_BOX = 0.15


def crops_to_tensor(crops: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 SxSx3 crops -> float32 Nx3xSxS in [-1, 1] (BOPBTL: ToTensor, Normalize(0.5, 0.5))."""
    x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1.0


def tensor_to_faces(y: torch.Tensor) -> list[np.ndarray]:
    """float Nx3xSxS in [-1, 1] -> float32 SxSx3 in [0, 255] (no per-face stretch)."""
    y = ((y.float().clamp(-1, 1) + 1.0) * 127.5).permute(0, 2, 3, 1).cpu().numpy()
    return [np.ascontiguousarray(f) for f in y]


class FaceStage(StageBase):
    """Enhances every face found in each frame with a SPADE face generator.

    generator: Nx3xSxS [-1, 1] -> same; crop_size: S (256, or 512 for the HR generator).
    """

    name = "faces"
    # Its landmark smoothing and tracks start cold at a segment too, but with or without a lead-in
    # the face stage's change jumps there no more than between other frames (Chaplin clip,
    # bench/face_segments.py: 0.118 / 0.116 against 0.120), so it keeps its cold start.
    warm_start = False

    def __init__(self, generator: nn.Module, crop_size: int, opts: FaceOptions | None = None,
                 device: torch.device | str = "cpu", precision: str = "fp32", batch_size: int = 4,
                 detector: FaceDetector | TrackedFaceDetector | None = None, landmarks: LandmarkModel | None = None):
        super().__init__()
        opts = opts or FaceOptions()
        self.opts = opts
        self.device = torch.device(device)
        self.precision = precision
        self.generator = generator.to(self.device).eval()
        self.crop_size = crop_size
        self.batch_size = max(1, batch_size)
        self.detector = detector or FaceDetector(min_face=opts.min_face)
        self.landmarks = landmarks or LandmarkModel(opts.landmarks)
        self.smoother = LandmarkSmoother()
        self._faces = 0
        if self.landmarks.points == 68:
            self.warn(LICENCE_NOTE_68)

    def reset(self) -> None:
        self.smoother.reset()
        if isinstance(self.detector, TrackedFaceDetector):    # its tracks are temporal state
            self.detector.reset()
        self._faces = 0

    def report(self) -> dict:
        return {"faces": self._faces}

    # ------------------------------------------------------------------ per frame geometry

    def _usable(self, box: FaceBox, pts: AlignPoints) -> bool:
        if box.size < self.opts.min_face:
            return False
        return pts.eye_distance >= MIN_EYE_TO_BOX * box.size and bool(np.isfinite(pts.points).all())

    def find_faces(self, frame: np.ndarray) -> list[AlignedFace]:
        """Aligned crops of the usable faces in one uint8 RGB HxWx3 frame (updates smoothing)."""
        frame = np.ascontiguousarray(frame)          # dlib needs C-contiguous uint8
        found = [(b, self.landmarks(frame, b)) for b in self.detector(frame)]
        found = [(b, p) for b, p in found if self._usable(b, p)]
        smoothed = self.smoother([p for _, p in found])
        faces = []
        for pts in smoothed:
            aligned = align_face(frame, pts, self.crop_size)
            if aligned is not None and aligned.face_side >= self.opts.min_face:
                faces.append(aligned)
        return faces

    # ------------------------------------------------------------------ network

    def enhance(self, crops: Sequence[np.ndarray]) -> list[np.ndarray]:
        """uint8 SxSx3 crops -> enhanced float32 SxSx3 in [0, 255], in chunks of batch_size."""
        out: list[np.ndarray] = []
        # Reduced precision is not measured for this generator yet: fp32 everywhere.
        with inference(self.device, self.precision, allow_reduced=False):
            for i in range(0, len(crops), self.batch_size):
                x = crops_to_tensor(crops[i : i + self.batch_size]).to(self.device)
                out.extend(tensor_to_faces(self.generator(x)))
        return out

    # ------------------------------------------------------------------ stage

    def __call__(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        per_frame = [self.find_faces(f) for f in frames]
        flat = [a for faces in per_frame for a in faces]
        enhanced = iter(self.enhance([a.crop for a in flat]) if flat else [])
        result = []
        for frame, faces in zip(frames, per_frame):
            pastes = []
            gray = bool(faces) and is_grayscale(frame)
            for a in faces:
                valid = valid_mask(a.crop_to_frame, a.size, frame.shape[:2])
                alpha = crop_alpha(valid)
                face = match_colour(next(enhanced), a.crop, alpha)
                if gray:    # the generator tints grey faces; a black-and-white photo stays one
                    face = to_gray(face)
                pastes.append(PasteFace(face, alpha, a.crop_to_frame))
            out = paste_faces(frame, pastes) if pastes else np.ascontiguousarray(frame)
            if pastes and self.opts.strength < 1.0:     # in frame space, so that faces at 0 would be the frame itself
                out = apply_strength(frame, out, self.opts.strength)
            result.append(out)
            self._faces += len(pastes)
        return result


def _crop_size(slot: str, path: Path | None) -> int:
    """Crop side a generator expects: from its published slot, else our checkpoint's metadata."""
    from ...weights import read_builtin_meta
    from .published import SLOT_256, SLOT_512, crop_size_for_slot

    if slot in (SLOT_256, SLOT_512):
        return crop_size_for_slot(slot)
    if path is not None and str(path).endswith(".safetensors"):
        return int(read_builtin_meta(path).get("oldfilm.crop_size", 256))
    return 256


def load_face_generator(model: str) -> tuple[nn.Module, int]:
    """(generator, crop size) for a registry name ('default', 'bopbtl', 'bopbtl-hr') or a file."""
    from ... import weights as W

    loaded = W.load_model("face", model)
    (slot, net), = loaded.items()
    p = Path(model)
    if p.is_file():
        path = p
    else:
        path = W.slot_path(W.get_model("face", model), slot)
    return net, _crop_size(slot, path)


def model_for(opts: FaceOptions, after_restorer: bool) -> str:
    """The face model to load: ``default`` learnt on the global restorer's output, so without the
    restorer it means ``default-alone`` (learnt on raw degraded faces) when that is installed."""
    from ... import weights as W
    from .published import ALONE_MODEL

    if opts.model != "default" or after_restorer:
        return opts.model
    return ALONE_MODEL if W.installed(W.get_model("face", ALONE_MODEL)) else opts.model


def build_face_stage(opts: FaceOptions, run: RunOptions, is_video: bool = False,
                     after_restorer: bool = True) -> FaceStage | None:
    """The face stage, or None when faces are off or (auto) no face generator is installed.

    opts.enabled: None = on when the generator is installed; True = required (one-line
    NoWeightsError when missing); False = off. A model other than 'default' is always required.
    The face detector is ``opts.detector_for(is_video)``: by default dlib's CNN for photos (it finds
    faded and low-contrast old faces) and, for video, HOG on every second frame with the CNN on
    keyframes and tracking between (tracking.py: the CNN costs seconds a frame on a CPU).
    """
    if opts.enabled is False:
        return None
    if opts.landmarks not in (5, 68):
        raise OldfilmError(f"--landmarks {opts.landmarks}: expected 5 or 68")
    if opts.min_face < 1:
        raise OldfilmError(f"--min-face {opts.min_face}: expected a positive pixel size")
    if opts.detector not in ("auto", "track", *DETECTORS):
        raise OldfilmError(f"--face-detector {opts.detector}: expected auto, track, {', '.join(DETECTORS)}")
    if opts.keyframe_every < 1:
        raise OldfilmError(f"--face-keyframes {opts.keyframe_every}: expected 1 or more frames")
    try:
        generator, crop = load_face_generator(model_for(opts, after_restorer))
    except NoWeightsError as e:
        # Auto mode skips faces quietly only for the default model; a model the user named is required.
        if opts.enabled is None and opts.model == "default":
            return None
        raise NoWeightsError(f"--faces: {e}") from None
    device = resolve_device(run.device)
    kind = opts.detector_for(is_video)
    detector: FaceDetector | TrackedFaceDetector
    if kind == "track":
        detector = video_face_detector(opts.min_face, opts.keyframe_every)
    else:
        detector = FaceDetector(min_face=opts.min_face, kind=kind)
    return FaceStage(generator, crop, opts, device=device, precision=run.precision,
                     batch_size=run.batch_size, detector=detector)


__all__ = ["FaceStage", "build_face_stage", "load_face_generator", "crops_to_tensor", "tensor_to_faces"]

"""Face boxes for video: a fast detector on most frames, dlib's CNN on keyframes, tracking between.

dlib's HOG detector costs about 0.07 CPU s per 640x480 frame but finds few faded, grainy or turned
old faces; its MMOD CNN finds most of them at about 2 CPU s per 640x480 frame (docs/faces.md).
Running the CNN on every frame of a film is out of the question on a CPU, so video gets both:

* HOG on one frame in ``fast_every``;
* the CNN on one frame in ``every`` (counted from the segment start, so the first frame of every
  segment is a keyframe), searching at most ``VIDEO_CNN_PIXELS``;
* every box found starts or refreshes a dlib correlation tracker, which carries it through the
  frames where no detector finds the face (about 3 ms per face and frame). A track ends when the
  tracker loses confidence (peak-to-sidelobe ratio below ``min_psr``) or when no detection has
  confirmed it for ``max_age`` frames.

This also steadies the face stage: a face that HOG finds on one frame and misses on the next would
otherwise be enhanced, then not, then enhanced again, which shows as flicker.

Causal and batch-independent: the boxes of a frame depend only on the frames before it since the
last ``reset()`` (the face stage resets at each segment and file start).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .detect import FaceBox, FaceDetector

# The keyframe CNN searches at most this many pixels (no upsampling at 640x480): about 2 CPU s
# instead of 6. HOG keeps the photo plan (it upsamples, so it finds the small faces of wide shots)
# but runs on every second frame; the trackers carry the faces between. Together they cost what HOG
# on every frame did (docs/faces.md).
VIDEO_CNN_PIXELS = 640 * 480
VIDEO_HOG_EVERY = 2


def iou(a: FaceBox, b: FaceBox) -> float:
    """Intersection over union of two boxes (0..1)."""
    w = min(a.right, b.right) - max(a.left, b.left)
    h = min(a.bottom, b.bottom) - max(a.top, b.top)
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a.right - a.left) * (a.bottom - a.top) + (b.right - b.left) * (b.bottom - b.top) - inter
    return inter / union if union > 0 else 0.0


def merge_boxes(boxes: list[FaceBox], same: float) -> list[FaceBox]:
    """Boxes with duplicates (IoU >= ``same``) removed, the higher score kept."""
    kept: list[FaceBox] = []
    for b in sorted(boxes, key=lambda b: -b.score):
        if all(iou(b, k) < same for k in kept):
            kept.append(b)
    return kept


@dataclass
class _Track:
    tracker: Any            # dlib.correlation_tracker
    box: FaceBox
    age: int = 0            # frames since a detector last confirmed this face


class TrackedFaceDetector:
    """Video face boxes: ``fast`` every ``fast_every`` frames, ``strong`` every ``every`` frames
    (keyframes), trackers in between.

    Called like a :class:`FaceDetector` on consecutive uint8 RGB HxWx3 frames of one segment;
    ``reset()`` at every segment or file start.
    """

    def __init__(self, fast: FaceDetector, strong: FaceDetector, every: int = 48, max_age: int = 96,
                 min_psr: float = 7.0, same: float = 0.3, fast_every: int = 1):
        if every < 1 or fast_every < 1:
            raise ValueError("every, fast_every: expected 1 or more frames")
        self.fast, self.strong = fast, strong
        self.every, self.fast_every = every, fast_every
        self.max_age, self.min_psr, self.same = max_age, min_psr, same
        self.kind = f"{fast.kind}/{fast_every}+{strong.kind}/{every}+track"
        self.reset()

    def reset(self) -> None:
        self._tracks: list[_Track] = []
        self._index = 0
        self.keyframes = 0

    def __call__(self, frame: np.ndarray) -> list[FaceBox]:
        import dlib  # deferred, as in detect.py

        frame = np.ascontiguousarray(frame)
        found = self.fast(frame) if self._index % self.fast_every == 0 else []
        if self._index % self.every == 0:
            found = found + self.strong(frame)
            self.keyframes += 1
        self._index += 1
        found = merge_boxes(found, self.same)

        h, w = frame.shape[:2]
        carried: list[_Track] = []
        for tr in self._tracks:
            psr = tr.tracker.update(frame)
            r = tr.tracker.get_position()
            box = FaceBox(max(0.0, r.left()), max(0.0, r.top()), min(float(w), r.right() + 1),
                          min(float(h), r.bottom() + 1), tr.box.score)
            tr.age += 1
            if psr >= self.min_psr and tr.age <= self.max_age and box.right - box.left >= 4 and box.bottom - box.top >= 4:
                tr.box = box
                carried.append(tr)

        tracks: list[_Track] = []
        for det in found:                      # a detection restarts the track it overlaps, or a new one
            match = max(carried, key=lambda t: iou(t.box, det), default=None)
            if match is not None and iou(match.box, det) >= self.same:
                carried.remove(match)
            tracker = dlib.correlation_tracker()
            tracker.start_track(frame, dlib.rectangle(int(det.left), int(det.top), int(det.right) - 1, int(det.bottom) - 1))
            tracks.append(_Track(tracker, det))
        tracks.extend(carried)                 # faces no detector found in this frame
        self._tracks = tracks
        return [t.box for t in tracks]


def video_face_detector(min_face: int = 24, every: int = 48, hog_every: int = VIDEO_HOG_EVERY,
                        hog_pixels: int = 1_000_000) -> TrackedFaceDetector:
    """The ``track`` detector of ``--face-detector``: HOG every ``hog_every`` frames on the photo
    plan (``hog_pixels``), the CNN every ``every`` frames, tracks unconfirmed for 2 x ``every``
    frames dropped."""
    return TrackedFaceDetector(
        FaceDetector(min_face=min_face, kind="hog", max_pixels=hog_pixels),
        FaceDetector(min_face=min_face, kind="cnn", max_pixels=VIDEO_CNN_PIXELS),
        every=every, max_age=2 * every, fast_every=hog_every)


__all__ = ["VIDEO_CNN_PIXELS", "VIDEO_HOG_EVERY", "TrackedFaceDetector", "iou", "merge_boxes", "video_face_detector"]

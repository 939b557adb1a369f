"""Video face boxes: HOG every frame, the CNN on keyframes, correlation tracking between."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oldfilm.restore.faces.detect import FaceBox, FaceDetector
from oldfilm.restore.faces.tracking import TrackedFaceDetector, iou, merge_boxes

OLD = Path(__file__).parent / "data" / "old_photos" / "rni6_David_Hilbert.png"


class Scripted:
    """A detector that returns the boxes ``script(frame_no)`` and counts its calls."""

    def __init__(self, kind, script):
        self.kind, self.script, self.calls = kind, script, 0

    def __call__(self, frame):
        self.calls += 1
        return self.script(self.calls - 1)


def pan(frames: int, step: int = 2, size=(260, 160)) -> tuple[list[np.ndarray], list[int]]:
    """Frames of a window moving right over the Hilbert photo; the x offsets of the window."""
    img = np.asarray(Image.open(OLD).convert("RGB"))
    h, w = size
    xs = [i * step for i in range(frames)]
    assert xs[-1] + w <= img.shape[1] and h <= img.shape[0]
    return [np.ascontiguousarray(img[:h, x:x + w]) for x in xs], xs


def test_iou_and_merge():
    a, b = FaceBox(0, 0, 10, 10, 1.0), FaceBox(5, 0, 15, 10, 0.5)
    assert iou(a, a) == 1.0 and iou(a, b) == pytest.approx(50 / 150)
    assert iou(a, FaceBox(20, 20, 30, 30, 1)) == 0.0
    assert merge_boxes([b, a], 0.3) == [a]                 # the higher score survives
    assert merge_boxes([b, a], 0.5) == [a, b]


def test_a_keyframe_box_is_tracked_through_the_pan_and_dropped_when_stale():
    frames, xs = pan(20)
    face = FaceBox(52, 95, 155, 197, 1.0)                  # Hilbert's face in frame 0's coordinates
    strong = Scripted("cnn", lambda i: [face])
    fast = Scripted("hog", lambda i: [])
    det = TrackedFaceDetector(fast, strong, every=100, max_age=12)
    boxes = [det(f) for f in frames]
    assert strong.calls == 1 and fast.calls == 20 and det.keyframes == 1
    for i, found in enumerate(boxes[:13]):
        (b,) = found
        # the window moves right by 2 px a frame, so the face moves left in the frame
        centre = (b.left + b.right) / 2
        assert centre == pytest.approx((face.left + face.right) / 2 - xs[i], abs=5), i
        assert b.score == 1.0
    assert all(not found for found in boxes[13:])          # unconfirmed for more than max_age frames

    det.reset()
    assert det(frames[0]) == [face] and strong.calls == 2   # a reset makes the next frame a keyframe


def test_detections_refresh_tracks_instead_of_doubling_them():
    frames, xs = pan(6)
    fast = Scripted("hog", lambda i: [FaceBox(52 - xs[i], 95, 155 - xs[i], 197, 0.8)])
    strong = Scripted("cnn", lambda i: [FaceBox(53, 96, 156, 198, 1.2)])
    det = TrackedFaceDetector(fast, strong, every=3)
    counts = [len(det(f)) for f in frames]
    assert counts == [1] * 6 and strong.calls == 2          # keyframes 0 and 3


def test_tracking_finds_an_old_face_on_every_frame_where_hog_alone_misses_it():
    frames, _ = pan(12)
    hog = FaceDetector(kind="hog")
    assert not any(hog(f) for f in frames)
    det = TrackedFaceDetector(hog, FaceDetector(kind="cnn"), every=8)
    found = [det(f) for f in frames]
    assert all(len(b) == 1 for b in found) and det.keyframes == 2
    # the tracked box follows the face: its centre moves left with the pan
    centres = [(b[0].left + b[0].right) / 2 for b in found]
    assert centres[7] < centres[0] - 8


def test_the_fast_detector_can_skip_frames_and_the_trackers_fill_them():
    frames, xs = pan(7)
    fast = Scripted("hog", lambda i: [FaceBox(52 - xs[2 * i], 95, 155 - xs[2 * i], 197, 0.8)])
    strong = Scripted("cnn", lambda i: [])
    det = TrackedFaceDetector(fast, strong, every=100, fast_every=2)
    found = [det(f) for f in frames]
    assert fast.calls == 4 and strong.calls == 1 and det.kind == "hog/2+cnn/100+track"
    assert all(len(b) == 1 for b in found)
    for i in (1, 3, 5):                                       # tracked frames follow the face
        centre = (found[i][0].left + found[i][0].right) / 2
        assert centre == pytest.approx(103.5 - xs[i], abs=5), i
    with pytest.raises(ValueError):
        TrackedFaceDetector(fast, strong, fast_every=0)

"""Temporal smoothing of landmarks, so aligned crops do not jitter from frame to frame.

Causal and motion-adaptive (the idea of the One Euro filter): each face track is an exponential
moving average of its landmarks whose weight on the new frame grows with how far the face moved.
A still face gets heavy smoothing (the detector's 1-2 px landmark noise is averaged away); a face
moving faster than ``follow`` eye-distances per frame is followed without lag.

Causal on purpose: the result depends only on the frames before it in the same segment, never
on how the runner cut batches. ``reset()`` drops every track; the stage calls it at each segment
or file start, so smoothing never crosses a segment boundary.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .landmarks import AlignPoints


@dataclass
class _Track:
    points: np.ndarray
    scheme: str


class LandmarkSmoother:
    """Matches faces to the previous frame's tracks and smooths their landmarks.

    min_weight: weight of the new frame for a still face (0..1; 1 = no smoothing).
    follow: centre motion, in eye distances per frame, at which the new frame gets full weight.
    match_radius: a face continues a track when its centre is within this many eye distances
    of the track's and its eye distance is within a factor 1.5.
    """

    def __init__(self, min_weight: float = 0.35, follow: float = 0.25, match_radius: float = 0.6):
        self.min_weight = min_weight
        self.follow = follow
        self.match_radius = match_radius
        self._tracks: list[_Track] = []

    def reset(self) -> None:
        self._tracks = []

    def __call__(self, faces: list[AlignPoints]) -> list[AlignPoints]:
        """Smoothed landmarks for this frame's faces, in the same order."""
        prev = self._tracks
        taken = [False] * len(prev)
        tracks: list[_Track] = []
        # Greedy nearest match, biggest faces first (they are the most reliable).
        order = sorted(range(len(faces)), key=lambda i: -faces[i].eye_distance)
        result: dict[int, AlignPoints] = {}
        for i in order:
            face = faces[i]
            eye = max(face.eye_distance, 1e-6)
            best, best_d = -1, self.match_radius
            for j, tr in enumerate(prev):
                if taken[j] or tr.scheme != face.scheme:
                    continue
                tr_pts = AlignPoints(tr.points, tr.scheme)
                ratio = tr_pts.eye_distance / eye
                d = float(np.linalg.norm(tr_pts.centre - face.centre)) / eye
                if 1 / 1.5 <= ratio <= 1.5 and d < best_d:
                    best, best_d = j, d
            if best < 0:
                pts = face.points.copy()
            else:
                taken[best] = True
                w = min(1.0, max(self.min_weight, best_d / self.follow))
                pts = w * face.points + (1.0 - w) * prev[best].points
            tracks.append(_Track(pts, face.scheme))
            result[i] = AlignPoints(pts, face.scheme)
        self._tracks = tracks   # unmatched old tracks end: a face that vanished starts afresh
        return [result[i] for i in range(len(faces))]

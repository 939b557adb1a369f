"""Face boxes on a real video: HOG on every frame against the ``track`` detector (tracking.py).

    .venv/bin/python bench/face_video_real.py examples/chaplin_bw_mp3_10s.mp4 --sheet /tmp/chaplin-track.png

Prints, per detector, on how many frames a face was found, the per-frame pattern (one digit per
frame: the number of boxes) and CPU seconds per frame (``time.process_time``). ``--sheet`` writes
the shipped detector's boxes on a few frames, to check by eye that tracked boxes stay on faces.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from oldfilm.restore.faces.detect import FaceDetector
from oldfilm.restore.faces.tracking import VIDEO_HOG_EVERY, video_face_detector


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", type=Path)
    ap.add_argument("--every", type=int, default=48, help="track: frames from one CNN search to the next")
    ap.add_argument("--sheet", type=Path, help="PNG of the shipped detector's boxes on 8 frames")
    args = ap.parse_args(argv)
    frames = decode(args.video)
    detectors = {
        "hog on every frame": FaceDetector(kind="hog"),
        "track, hog on every frame": video_face_detector(every=args.every, hog_every=1),
        f"track, hog every {VIDEO_HOG_EVERY} frames (shipped)": video_face_detector(every=args.every),
    }
    boxes: list = []
    for name, det in detectors.items():
        t0 = time.process_time()
        boxes = [det(f) for f in frames]
        cpu = (time.process_time() - t0) / len(frames)
        counts = [len(b) for b in boxes]
        print(f"{name}: a face on {sum(c > 0 for c in counts)} of {len(frames)} frames, {cpu:.3f} CPU s/frame")
        print("  " + "".join(str(min(c, 9)) for c in counts))
    if args.sheet:
        with_face = [i for i, b in enumerate(boxes) if b] or [0]
        picks = [with_face[round(k * (len(with_face) - 1) / 7)] for k in range(8)]
        tiles = []
        for i in picks:
            g = frames[i].copy()
            for b in boxes[i]:
                cv2.rectangle(g, (int(b.left), int(b.top)), (int(b.right), int(b.bottom)), (255, 0, 0), 2)
            cv2.putText(g, str(i), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (255, 255, 0), 2)
            tiles.append(cv2.resize(g, (320, round(320 * g.shape[0] / g.shape[1]))))
        grid = np.concatenate([np.concatenate(tiles[:4], 1), np.concatenate(tiles[4:], 1)], 0)
        Image.fromarray(grid).save(args.sheet)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

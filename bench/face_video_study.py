"""Face detection in aged video: HOG on every frame against ``track`` (HOG on every frame, dlib's
CNN on keyframes, correlation tracking between: oldfilm/restore/faces/tracking.py).

    # HOG alone (the video detector before track), and the shipped track: HOG on every second frame,
    # the CNN (at most 640x480) every 48 frames, correlation trackers between
    .venv/bin/python bench/face_video_study.py --out docs/eval/face-video-detectors.json
    # two variants measured on the way: HOG on every frame and the CNN every 24 frames; HOG capped at
    # 640x480 (no upsampling) on every frame
    .venv/bin/python bench/face_video_study.py --every 24 --track-hog-every 1 --out docs/eval/face-video-detectors-hog1mp.json
    .venv/bin/python bench/face_video_study.py --detectors track --track-hog-pixels 307200 --track-hog-every 1 --out docs/eval/face-video-track48.json

Clips: a held-out UTKFace crop (the face trainer's 5% split) moving over a 640x480 crop of a held-out
background photo (urban100, sun_hays80) at 1-4 px per frame, bouncing off the frame edges; every
frame aged by the degradation model's ``film`` recipe with the clip's seed (the same fading, blur,
damage and persistent line scratches on every frame of a clip, as one reel would have) plus fresh
grain on each frame (sigma 6 grey levels). A box is a hit as in bench/face_detector_study.py (its
centre in the middle half of the face, its side 0.3-1.5x the face's). Reported per face size:
per-frame recall, false boxes per frame and CPU seconds per frame (``time.process_time``). Clips
without a face give the false boxes of an empty scene.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from face_detector_study import (
    FRAME,
    SHARED,
    background,
    held_out,
    is_hit,
    paste_at,
    write_results,
)

from oldfilm.restore.degrade import degrade, recipe_by_name
from oldfilm.restore.faces.detect import FaceDetector
from oldfilm.restore.faces.tracking import VIDEO_HOG_EVERY, video_face_detector
from oldfilm.restore.training import data as D

GRAIN_SIGMA = 6.0


def clip(bg: np.ndarray, face: np.ndarray | None, side: int, frames: int, seed: int):
    """[(aged frame, (x, y, side) or None)] for one clip."""
    rng = np.random.default_rng(seed)
    h, w = FRAME
    x, y = float(rng.integers(0, w - side + 1)), float(rng.integers(0, h - side + 1))
    speed, angle = rng.uniform(1, 4), rng.uniform(0, 2 * np.pi)
    vx, vy = speed * np.cos(angle), speed * np.sin(angle)
    recipe = recipe_by_name("film", SHARED / "overlays")
    out = []
    for _ in range(frames):
        frame = bg if face is None else paste_at(bg, face, side, int(x), int(y))
        aged = degrade(frame, np.random.default_rng(seed), recipe)[0].astype(np.float32)
        aged += rng.normal(0, GRAIN_SIGMA, aged.shape[:2])[..., None]
        out.append((np.clip(aged, 0, 255).round().astype(np.uint8), None if face is None else (int(x), int(y), side)))
        if not 0 <= x + vx <= w - side:
            vx = -vx
        if not 0 <= y + vy <= h - side:
            vy = -vy
        x, y = x + vx, y + vy
    return out


def score(detector, clips) -> dict:
    hits = false = frames = 0
    cpu = 0.0
    for items in clips:
        if hasattr(detector, "reset"):
            detector.reset()
        for frame, place in items:
            t0 = time.process_time()
            boxes = detector(frame)
            cpu += time.process_time() - t0
            frames += 1
            hit = [b for b in boxes if place is not None and is_hit(b, place)]
            hits += bool(hit)
            false += len(boxes) - len(hit[:1])
    return {"recall": hits / frames, "false_per_frame": false / frames, "cpu_s_per_frame": round(cpu / frames, 3),
            "frames": frames}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8, help="clips per face size (and clips without a face)")
    ap.add_argument("--frames", type=int, default=48, help="frames per clip")
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 160], help="face sides in px")
    ap.add_argument("--every", type=int, default=48, help="track: frames from one CNN search to the next")
    ap.add_argument("--track-hog-pixels", type=int, default=1_000_000,
                    help="largest search image of track's HOG (default: the photo HOG's, as the stage uses)")
    ap.add_argument("--track-hog-every", type=int, default=VIDEO_HOG_EVERY, help="track: HOG on one frame in N")
    ap.add_argument("--detectors", nargs="+", default=["hog", "track"], choices=["hog", "track"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="JSON with every figure")
    args = ap.parse_args(argv)

    faces = held_out(SHARED / "faces" / "utkface", args.clips * len(args.sizes))
    bgs = held_out(SHARED / "photos" / "urban100", 50) + held_out(SHARED / "photos" / "sun_hays80", 50)
    rng = np.random.default_rng(args.seed)
    sets: dict[str, list] = {}
    k = 0
    for s in args.sizes:
        sets[str(s)] = []
        for _ in range(args.clips):
            bg = background(bgs[k % len(bgs)], rng)
            sets[str(s)].append(clip(bg, D.read_rgb(faces[k]), s, args.frames, args.seed * 1000 + k))
            k += 1
    sets["empty"] = [clip(background(bgs[(k + i) % len(bgs)], rng), None, 0, args.frames, args.seed * 1000 + k + i)
                     for i in range(args.clips)]

    detectors = {
        "hog": lambda: FaceDetector(kind="hog"),
        "track": lambda: video_face_detector(every=args.every, hog_every=args.track_hog_every,
                                             hog_pixels=args.track_hog_pixels),
    }
    results: dict = {"frame": f"{FRAME[1]}x{FRAME[0]}", "clips_per_size": args.clips, "frames_per_clip": args.frames,
                     "recipe": "film + per-frame grain", "every": args.every,
                     "track_hog_pixels": args.track_hog_pixels, "track_hog_every": args.track_hog_every,
                     "detectors": {}}
    for name in args.detectors:
        make = detectors[name]
        res = {}
        for s, clips in sets.items():
            r = score(make(), clips)
            res[s] = r
            print(f"{name:>5} {s:>5}: recall {r['recall']:.3f}  false/frame {r['false_per_frame']:.3f}  "
                  f"{r['cpu_s_per_frame']:.3f} CPU s/frame", flush=True)
        results["detectors"][name] = res
    write_results(args.out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

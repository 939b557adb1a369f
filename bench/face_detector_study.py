"""Face detection on aged photographs: dlib's HOG detector against dlib's MMOD CNN detector.

    .venv/bin/python bench/face_detector_study.py --faces 40 --sizes 64 96 160 --out docs/eval/face-detectors.json

Frames: held-out UTKFace crops (the face trainer's 5% split by file hash) pasted, with a feathered
edge, onto 640x480 crops of held-out background photos (urban100, sun_hays80), then the whole frame
aged by the degradation model's ``photo`` recipe (fading, sepia, contrast loss, grain, blur, low
resolution, JPEG, film damage from ../shared/data/overlays), seeded. A detection is a hit when its
centre lies in the middle half of the pasted crop and its side is 0.3-1.5x the crop side.
Reported per crop side: recall, false detections per frame, and CPU seconds per frame
(``time.process_time``, so other jobs on the box do not inflate it). The same backgrounds without a
face give the false detections of an empty frame. The real old photographs of the shared fixtures
are listed with each detector's boxes.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np

from oldfilm.restore.degrade import degrade, recipe_by_name
from oldfilm.restore.faces.detect import DETECTORS, FaceDetector
from oldfilm.restore.training import data as D

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FRAME = (480, 640)


def held_out(folder: Path, n: int) -> list[Path]:
    return [p for p in D.list_images(folder) if D.is_held_out(p, 0.05)][:n]


def background(path: Path, rng: np.random.Generator) -> np.ndarray:
    rgb = D.read_rgb(path)
    h, w = FRAME
    f = max(h / rgb.shape[0], w / rgb.shape[1])
    if f > 1:
        rgb = cv2.resize(rgb, (int(np.ceil(rgb.shape[1] * f)), int(np.ceil(rgb.shape[0] * f))), interpolation=cv2.INTER_CUBIC)
    y = int(rng.integers(0, rgb.shape[0] - h + 1))
    x = int(rng.integers(0, rgb.shape[1] - w + 1))
    return rgb[y:y + h, x:x + w].copy()


def paste(bg: np.ndarray, face: np.ndarray, side: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int, int]]:
    """bg with ``face`` resized to side x side at a random place; (frame, (x, y, side))."""
    h, w = bg.shape[:2]
    x = int(rng.integers(0, w - side + 1))
    y = int(rng.integers(0, h - side + 1))
    return paste_at(bg, face, side, x, y), (x, y, side)


def paste_at(bg: np.ndarray, face: np.ndarray, side: int, x: int, y: int) -> np.ndarray:
    """bg with ``face`` resized to side x side, its top left at (x, y), with a feathered edge."""
    f = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA if side < face.shape[0] else cv2.INTER_CUBIC)
    alpha = np.zeros((side, side), np.float32)
    m = max(2, side // 10)
    alpha[m:-m, m:-m] = 1
    alpha = cv2.GaussianBlur(alpha, (0, 0), m / 2)[..., None]
    out = bg.astype(np.float32)
    out[y:y + side, x:x + side] = alpha * f + (1 - alpha) * out[y:y + side, x:x + side]
    return out.round().astype(np.uint8)


def is_hit(box, place) -> bool:
    x, y, s = place
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    return (x + s / 4 <= cx <= x + 3 * s / 4 and y + s / 4 <= cy <= y + 3 * s / 4
            and 0.3 * s <= box.size <= 1.5 * s)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=40, help="held-out faces per size")
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 96, 160], help="pasted crop sides in px")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--detectors", nargs="+", default=list(DETECTORS), choices=DETECTORS)
    ap.add_argument("--out", type=Path, help="JSON with every figure")
    args = ap.parse_args(argv)

    recipe = recipe_by_name("photo", SHARED / "overlays")
    faces = held_out(SHARED / "faces" / "utkface", args.faces)
    bgs = held_out(SHARED / "photos" / "urban100", 50) + held_out(SHARED / "photos" / "sun_hays80", 50)
    dets = {k: FaceDetector(kind=k) for k in args.detectors}
    rng = np.random.default_rng(args.seed)
    frames: dict[str, list] = {str(s): [] for s in args.sizes}
    empty = []
    for i, fp in enumerate(faces):
        face = D.read_rgb(fp)
        for s in args.sizes:
            bg = background(bgs[(i + s) % len(bgs)], rng)
            frame, place = paste(bg, face, s, rng)
            frames[str(s)].append((degrade(frame, rng, recipe)[0], place))
        empty.append(degrade(background(bgs[i % len(bgs)], rng), rng, recipe)[0])

    results: dict = {"frame": f"{FRAME[1]}x{FRAME[0]}", "faces": len(faces), "recipe": "photo", "detectors": {}}
    for name, det in dets.items():
        res = {}
        for s, items in frames.items():
            hits = false = 0
            t0 = time.process_time()
            for frame, place in items:
                boxes = det(frame)
                hit = [b for b in boxes if is_hit(b, place)]
                hits += bool(hit)
                false += len(boxes) - len(hit[:1])
            sec = (time.process_time() - t0) / len(items)
            res[s] = {"recall": hits / len(items), "false_per_frame": false / len(items), "cpu_s_per_frame": round(sec, 3)}
            print(f"{name} crop {s:>4} px: recall {hits / len(items):.3f}  false/frame {false / len(items):.3f}  "
                  f"{sec:.2f} CPU s/frame", flush=True)
        n_false = sum(len(det(f)) for f in empty)
        res["empty"] = {"false_per_frame": n_false / len(empty), "frames": len(empty)}
        print(f"{name} empty frames: false/frame {n_false / len(empty):.3f}", flush=True)
        res["real_old_photos"] = {}
        for p in D.real_old_photos():
            boxes = det(D.read_rgb(p))
            res["real_old_photos"][p.name] = [[round(b.left), round(b.top), round(b.right), round(b.bottom), round(b.score, 2)] for b in boxes]
            print(f"{name} {p.name}: {res['real_old_photos'][p.name]}", flush=True)
        results["detectors"][name] = res
    write_results(args.out, results)
    return 0


def write_results(out: Path | None, results: dict) -> None:
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())

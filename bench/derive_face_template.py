"""Derive the crop-space template of dlib's 5-point landmark model from BOPBTL's 68-point rule.

For each face, BOPBTL's own alignment (68-point markup -> its 5 points -> 1.3-scaled template)
gives a crop -> frame similarity; the 5-point model's raw points, mapped into that crop, are
where BOPBTL's alignment puts them. Their median over many faces is the template we align the
5-point landmarks to. Then held-out faces are aligned both ways and the crops compared.

    .venv/bin/python bench/derive_face_template.py --faces /work/shared/data/faces/utkface \
        --limit 600 --holdout /work/shared/fixtures/faces

Prints the template (paste into oldfilm/restore/faces/align.py) and the held-out differences.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from oldfilm.restore.faces.align import bopbtl_template, estimate_similarity
from oldfilm.restore.faces.detect import FaceDetector
from oldfilm.restore.faces.landmarks import LandmarkModel, bopbtl_points_from_68


def pairs(paths, det, lm5, lm68, pad: int):
    for p in paths:
        img = np.asarray(Image.open(p).convert("RGB"))
        if pad:
            img = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        boxes = det(img)
        if len(boxes) != 1:
            continue
        yield p, lm5.raw(img, boxes[0]), bopbtl_points_from_68(lm68.raw(img, boxes[0]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=600)
    ap.add_argument("--holdout", type=Path)
    args = ap.parse_args()
    size = 256
    det, lm5, lm68 = FaceDetector(min_face=60), LandmarkModel(5), LandmarkModel(68)
    tpl68 = bopbtl_template(size)
    every = sorted(args.faces.glob("*.jpg"))
    paths = every[:: max(1, len(every) // args.limit)][: args.limit]  # spread over ages (names start with age)
    mapped = []
    for _, p5, b5 in pairs(paths, det, lm5, lm68, pad=60):
        m = estimate_similarity(tpl68, b5)          # crop -> frame, BOPBTL's rule
        inv = np.linalg.inv(m)
        mapped.append((np.c_[p5, np.ones(5)] @ inv.T)[:, :2] / size)
    mapped = np.array(mapped)
    tpl = np.median(mapped, axis=0)
    print(f"faces used: {len(mapped)} of {len(paths)}")
    print("DLIB5_TEMPLATE_UNIT =", np.array2string(tpl, precision=5, separator=", "))
    print("per-point spread (std, crop px at 256):", np.round(mapped.std(axis=0).mean(axis=1) * size, 2))
    if args.holdout:
        corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], dtype=float)
        for p, p5, b5 in pairs(sorted(args.holdout.glob("*.jpg")), det, lm5, lm68, pad=0):
            m68 = estimate_similarity(tpl68, b5)
            m5 = estimate_similarity(tpl * size, p5)
            c68, c5 = corners @ m68.T, corners @ m5.T
            side = np.sqrt(abs(np.linalg.det(m68[:2, :2]))) * size
            err = np.linalg.norm(c68[:, :2] - c5[:, :2], axis=1).max() / side * size
            scale = np.sqrt(abs(np.linalg.det(m5[:2, :2]))) / np.sqrt(abs(np.linalg.det(m68[:2, :2])))
            print(f"{p.name}: max crop-corner shift {err:.1f} px of 256, scale ratio 5pt/68pt {scale:.3f}")


if __name__ == "__main__":
    main()

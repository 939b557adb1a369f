"""Contact sheet of the installed restoration defaults on real old photos and held-out synthetic ones.

Rows: the two real old photographs of ../shared/fixtures/old_photos, then held-out photos degraded
by the synthetic model (seed 1234). Columns: input | classical baseline (threshold mask, Telea,
fastNlMeans) | oldfilm restore --scratches off --faces | oldfilm restore --scratches on --faces
(installed defaults) | clean target (synthetic rows only).

    .venv/bin/python bench/restore_contact_sheet.py --out docs/restore-contact-sheet.jpg
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch



def fit(img: np.ndarray, side: int) -> np.ndarray:
    h, w = img.shape[:2]
    f = side / max(h, w)
    img = cv2.resize(img, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
    canvas = np.full((side, side, 3), 255, np.uint8)
    y, x = (side - img.shape[0]) // 2, (side - img.shape[1]) // 2
    canvas[y : y + img.shape[0], x : x + img.shape[1]] = img
    return canvas


def write_sheet(rows: list[list[np.ndarray | None]], labels: tuple[str, ...], cell: int, out: str) -> None:
    """Rows of uint8 RGB images (None: a blank cell), each fitted into a cell, under a label bar; JPEG."""
    blank = np.full((cell, cell, 3), 255, np.uint8)
    sheet = np.concatenate([np.concatenate([fit(c, cell) if c is not None else blank for c in r], 1) for r in rows], 0)
    head = np.full((28, sheet.shape[1], 3), 255, np.uint8)
    for i, t in enumerate(labels):
        cv2.putText(head, t, (i * cell + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(out, np.concatenate([head, sheet], 0)[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])


def main() -> None:
    from oldfilm.options import FaceOptions, RestoreOptions, RunOptions
    from oldfilm.restore.degrade import recipe_by_name
    from oldfilm.restore.faces.stage import build_face_stage
    from oldfilm.restore.stage import build_restore_stage
    from oldfilm.restore.training.data import (DEFAULT_PHOTO_DIRS, SHARED_DATA, ImageSet, held_out_pairs, read_rgb,
                                               real_old_photos)
    from oldfilm.restore.training.quality import classical_restore

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/restore-contact-sheet.jpg")
    ap.add_argument("--synthetic", type=int, default=3)
    ap.add_argument("--cell", type=int, default=256)
    a = ap.parse_args()
    torch.set_num_threads(2)
    run = RunOptions(device="cpu")
    quality = build_restore_stage(RestoreOptions(scratches="off"), run)
    scratch = build_restore_stage(RestoreOptions(scratches="on"), run)
    faces = build_face_stage(FaceOptions(enabled=True), run)

    def ours(stage, img):
        return faces(stage([img]))[0] if faces else stage([img])[0]

    rows = []
    for p in real_old_photos():
        img = read_rgb(p)
        rows.append([img, classical_restore(img), ours(quality, img), ours(scratch, img), None])
    images = ImageSet.from_folders([str(SHARED_DATA / d) for d in DEFAULT_PHOTO_DIRS], 0.05)
    for target, degraded, _ in held_out_pairs(images.val, a.synthetic, 256, 1234, recipe_by_name("photo", SHARED_DATA / "overlays")):
        rows.append([degraded, classical_restore(degraded), ours(quality, degraded), ours(scratch, degraded), target])
    write_sheet(rows, ("input", "classical baseline", "ours, scratches off", "ours, scratches on", "clean target"),
                a.cell, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()

"""Contact sheet of the installed face enhancer alone (`face-default-alone`, as `--no-restore --faces` picks it).

Rows: the two real old photographs of ../shared/fixtures/old_photos, then two portraits of
../shared/fixtures/faces degraded by the synthetic model (seed 1234), each run through the whole
face stage exactly as `oldfilm restore PHOTO --no-restore --faces` does (detect, align, generate,
blend) and shown zoomed on the largest face; then held-out UTKFace faces degraded the same way (the
face card's protocol) and fed to the generator directly. A cell says so when dlib finds no face. Columns: input | classical baseline (threshold mask, Telea,
fastNlMeans) | oldfilm face enhancer | clean target (synthetic rows only).

    .venv/bin/python bench/face_contact_sheet.py --out docs/face-contact-sheet.jpg

With ``--after-restorer``, as ``oldfilm restore PHOTO`` runs: columns input | default global
restorer alone (``--no-faces``) | restorer then face stage | clean target; the held-out faces are
made as ``oldfilm train faces --after-restorer default`` makes them (seed 1234).

    .venv/bin/python bench/face_contact_sheet.py --after-restorer --out docs/face-contact-sheet-after-restorer.jpg
"""
from __future__ import annotations

import argparse

import cv2
import numpy as np
import torch
from restore_contact_sheet import fit, write_sheet  # same folder: run as a script from the repo root



def zoom(img: np.ndarray, box, pad: float = 0.6) -> np.ndarray:
    """The face box grown by ``pad`` of its side on every side, clipped to the image."""
    h, w = img.shape[:2]
    side = max(box.right - box.left, box.bottom - box.top)
    cx, cy = (box.left + box.right) / 2, (box.top + box.bottom) / 2
    half = side * (0.5 + pad)
    x0, x1 = int(max(0, cx - half)), int(min(w, cx + half))
    y0, y1 = int(max(0, cy - half)), int(min(h, cy + half))
    return img[y0:y1, x0:x1]


def sheet_photos(rng: np.random.Generator, recipe) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(input, clean target or None): the real old photographs, then two degraded portraits."""
    from oldfilm.restore.degrade import degrade_pair
    from oldfilm.restore.training import data as D

    whole: list[tuple[np.ndarray, np.ndarray | None]] = [(D.read_rgb(p), None) for p in D.real_old_photos()]
    for name in ("grace_hopper.jpg", "obama.jpg"):
        clean = D.read_rgb(D.SHARED_DATA.parent / "fixtures" / "faces" / name)
        target, degraded, _ = degrade_pair(clean, rng, recipe)
        whole.append((degraded, target))
    return whole


def photo_row(boxes, img: np.ndarray, middle: np.ndarray, out: np.ndarray, target: np.ndarray | None, cell: int) -> list:
    """One sheet row zoomed on the largest face, or the whole pictures marked when none was found."""
    if boxes:
        box = max(boxes, key=lambda b: (b.right - b.left) * (b.bottom - b.top))
        return [zoom(img, box), zoom(middle, box), zoom(out, box), None if target is None else zoom(target, box)]
    out = fit(out, cell)
    cv2.putText(out, "no face detected", (8, cell - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 0, 0), 1, cv2.LINE_AA)
    return [img, middle, out, target]


def main() -> None:
    from oldfilm.options import FaceOptions, RunOptions
    from oldfilm.restore.degrade import degrade_pair
    from oldfilm.restore.faces.stage import build_face_stage
    from oldfilm.restore.faces.train import face_recipe, load_face
    from oldfilm.restore.training import data as D
    from oldfilm.restore.training.quality import classical_restore

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="docs/face-contact-sheet.jpg")
    ap.add_argument("--synthetic", type=int, default=4)
    ap.add_argument("--cell", type=int, default=256)
    ap.add_argument("--after-restorer", action="store_true", help="the face stage after the default global restorer")
    a = ap.parse_args()
    torch.set_num_threads(2)
    # As `oldfilm restore`: face-default after the restorer; without it (--no-restore) default-alone.
    faces = build_face_stage(FaceOptions(enabled=True), RunOptions(device="cpu"), after_restorer=a.after_restorer)
    if a.after_restorer:
        return after_restorer(faces, a)
    rows = []
    rng = np.random.default_rng(1234)
    recipe = face_recipe(argparse.Namespace(overlays=str(D.SHARED_DATA / "overlays"), recipe="photo"))
    for img, target in sheet_photos(rng, recipe):
        boxes = faces.detector(target if target is not None else img)
        rows.append(photo_row(boxes, img, classical_restore(img), faces([img])[0], target, a.cell))
    images = D.ImageSet.from_folders([str(D.SHARED_DATA / "faces" / "utkface")], 0.05)
    net = faces.generator
    for path in images.val[: a.synthetic]:
        target, degraded, _ = degrade_pair(load_face(path), rng, recipe)
        with torch.inference_mode():
            out = D.to_uint8(net(D.to_tensor([degraded])))[0]
        rows.append([degraded, classical_restore(degraded), out, target])
    write_sheet(rows, ("input", "classical baseline", "oldfilm face enhancer", "clean target"), a.cell, a.out)
    print(f"wrote {a.out}")


def after_restorer(faces, a: argparse.Namespace) -> None:
    from oldfilm.options import RestoreOptions, RunOptions
    from oldfilm.restore.faces.train import face_inputs, load_face
    from oldfilm.restore.stage import build_restore_stage
    from oldfilm.restore.training import data as D

    restore = build_restore_stage(RestoreOptions(), RunOptions(device="cpu"))
    margs = argparse.Namespace(overlays=str(D.SHARED_DATA / "overlays"), recipe="photo", after_restorer="default",
                               face_scale=None)
    inputs = face_inputs(margs, torch.device("cpu"))
    rng = np.random.default_rng(1234)
    rows = []
    for img, target in sheet_photos(rng, inputs.recipe):
        restored = restore([img])[0]
        boxes = faces.detector(target if target is not None else restored)
        rows.append(photo_row(boxes, img, restored, faces([restored])[0], target, a.cell))
    images = D.ImageSet.from_folders([str(D.SHARED_DATA / "faces" / "utkface")], 0.05)
    for path in images.val[: a.synthetic]:
        target, net_in, degraded = inputs(load_face(path), rng)
        with torch.inference_mode():
            out = D.to_uint8(faces.generator(D.to_tensor([net_in])))[0]
        rows.append([degraded, net_in, out, target])
    write_sheet(rows, ("input", "restorer alone", "restorer + faces", "clean target"), a.cell, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()

"""What scratch detectors mark on the real old photographs (../shared/fixtures/old_photos).

Each detector file gets one panel: every real photo with the pixels it marks in red, at the
threshold saved in the file (``oldfilm.threshold``; 0.4 without one), as `oldfilm restore
--scratches on` would inpaint them. The photos show almost no scratches, so every red pixel is a
false positive.

    .venv/bin/python bench/scratch_mask_sheet.py --out docs/scratch-masks-run3-vs-run4.jpg \
        runs/withheld3/scratch-default.safetensors runs/withheld4/scratch-default.safetensors
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from oldfilm import weights as W
from oldfilm.restore.restorer import detect_scratches, detector_threshold
from oldfilm.restore.training.data import read_rgb, real_old_photos


def panel(detector: torch.nn.Module, photos: list[np.ndarray], height: int) -> np.ndarray:
    """uint8 RGB: the photos side by side, marked pixels red, padded to ``height``."""
    cells = []
    for rgb in photos:
        marked = rgb.copy()
        marked[detect_scratches(detector, rgb)] = (255, 0, 0)
        cells.append(np.pad(marked, ((0, height - rgb.shape[0]), (0, 0), (0, 0))))
    return np.concatenate(cells, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("detectors", nargs="+", help="scratch-detector .safetensors files (ours)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--labels", nargs="*", help="one caption per detector (default: the file's folder)")
    ap.add_argument("--scale", type=float, default=1.2)
    a = ap.parse_args()
    torch.set_num_threads(2)
    photos = [read_rgb(p) for p in real_old_photos()]
    height = max(p.shape[0] for p in photos)
    labels = a.labels or [Path(d).parent.name for d in a.detectors]
    panels = []
    for path, label in zip(a.detectors, labels):
        det = W.load_builtin(path)
        with torch.inference_mode():
            body = panel(det, photos, height)
        body = cv2.resize(body, None, fx=a.scale, fy=a.scale, interpolation=cv2.INTER_AREA)
        bar = np.full((28, body.shape[1], 3), 255, np.uint8)
        cv2.putText(bar, f"{label}, p >= {detector_threshold(det):g} (red = marked)", (8, 20),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        panels.append(np.concatenate([bar, body], 0))
    sheet = np.concatenate([np.pad(p, ((0, 0), (0, 8), (0, 0)), constant_values=255) for p in panels], 1)
    cv2.imwrite(a.out, sheet[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 82])
    print(f"wrote {a.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()

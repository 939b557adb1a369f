"""Would a levels stretch after the restorer undo fading? The default restoration of held-out
photos (recipe `photo`, seed 0, long side 384 px, no faces, `--scratches auto`), then each output
stretched so that its luma percentiles LO and 100-HI reach 0 and 255 (the same gain and offset on
all three channels), fully or blended half and half with the output; PSNR to the clean target of
each. Also the targets' and outputs' own 1 % / 99 % luma, for context.

    .venv/bin/python bench/restore_tone_stretch.py --limit 60 --json docs/eval/withheld_restore_tone_stretch.json
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oldfilm.evaluate import build_pipeline_stage, default_degrader, load_references, score_restore  # noqa: E402

DATA = REPO.parent / "shared" / "data"
CUTS = [(0.1, 0.1), (0.5, 0.5), (1, 1), (2, 2)]


def luma(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def stretch(rgb: np.ndarray, lo: float, hi: float, w: float = 1.0) -> np.ndarray:
    """uint8 RGB -> uint8 RGB with luma percentiles lo and 100-hi at 0 and 255 (blend w)."""
    pl, ph = np.percentile(luma(rgb), [lo, 100 - hi])
    if ph - pl < 8:
        return rgb
    out = (rgb.astype(np.float32) - pl) * (255.0 / (ph - pl))
    out = w * out + (1 - w) * rgb.astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    named = load_references([DATA / "photos"], max_side=384, holdout=5, holdout_task="restore")[: args.limit]
    degrade = default_degrader("photo", DATA / "overlays", seed=0)
    stage = build_pipeline_stage("restore", faces=False, scratches="auto")
    rows = []
    t0 = time.time()
    for i, (_, rgb) in enumerate(named):
        target, degraded, _ = degrade(rgb, np.random.default_rng([0, i]))
        out = stage([degraded])[0]
        row = {"input": score_restore(degraded, target)["psnr"], "restored": score_restore(out, target)["psnr"]}
        for lo, hi in CUTS:
            for w in (1.0, 0.5):
                row[f"stretch {lo}/{hi} % x{w}"] = score_restore(stretch(out, lo, hi, w), target)["psnr"]
        row["target luma 1/99 %"] = [float(x) for x in np.percentile(luma(target), [1, 99])]
        row["restored luma 1/99 %"] = [float(x) for x in np.percentile(luma(out), [1, 99])]
        rows.append(row)
    mean = {k: (np.round(np.mean([r[k] for r in rows], axis=0), 2).tolist()) for k in rows[0]}
    result = {"command": " ".join(["bench/restore_tone_stretch.py", *sys.argv[1:]]), "photos": len(rows),
              "seconds": round(time.time() - t0), "mean_psnr_db": mean}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

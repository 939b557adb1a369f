"""What the face stage adds after the global restorer, face by face (docs/quality.md, face regions).

    .venv/bin/python bench/face_stage_effect.py [--limit N] [--out docs/eval/face-stage-effect.json]

Each photo of ``../shared/data/photos/faces_hires`` is degraded as ``oldfilm eval --recipe photo
--seed 0 --size 384`` degrades it (image i with rng([0, i])) and restored by the installed default
pipeline twice, with and without the face stage. In every face region ``--face-metrics`` scores
(``evaluate.detect_faces_hog`` on the clean photo: dlib's HOG box grown 15 % per side), it reports
PSNR and SSIM of both outputs against the clean photo (``evaluate.score_regions``), the mean and
standard deviation the face stage changed, and the region's side, and then sums them up by side. Faces the stage left untouched (mean change < 0.5 grey levels:
the detector did not find them in the degraded photo) are counted apart.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from oldfilm.evaluate import (
    build_pipeline_stage,
    default_degrader,
    detect_faces_hog,
    load_references,
    score_regions,
)

SIZE_BINS = ((0, 100), (100, 200), (200, 10_000))


def face_rows(limit: int | None) -> list[dict]:
    refs = load_references(["../shared/data/photos/faces_hires"], max_side=384)[:limit]
    degrade = default_degrader("photo", "../shared/data/overlays", seed=0)
    with_faces = build_pipeline_stage("restore", model="default", faces=True)
    without = build_pipeline_stage("restore", model="default", faces=False)
    rows = []
    for i, (name, rgb) in enumerate(refs):
        target, degraded, _ = degrade(rgb, np.random.default_rng([0, i]))
        with_faces.reset()
        without.reset()
        a, b = with_faces([degraded])[0], without([degraded])[0]
        boxes = detect_faces_hog(target)     # already grown 15 % per side, as --face-metrics scores them
        for (x0, y0, x1, y1), sa, sb in zip(boxes, score_regions(a, target, boxes), score_regions(b, target, boxes)):
            fa, fb = (im[y0:y1, x0:x1].astype(np.float32) for im in (a, b))
            rows.append({
                "image": name, "side": int(x1 - x0), "touched": bool(np.abs(fa - fb).mean() >= 0.5),
                "psnr_faces": sa["psnr"], "psnr_no_faces": sb["psnr"], "ssim_faces": sa["ssim"], "ssim_no_faces": sb["ssim"],
                "mean_change": float(fa.mean() - fb.mean()), "std_change": float(fa.std() - fb.std()),
            })
            r = rows[-1]
            print(f"{name} face {r['side']} px{'' if r['touched'] else ' (untouched)'}: PSNR {r['psnr_no_faces']:.2f} -> "
                  f"{r['psnr_faces']:.2f}, mean {r['mean_change']:+.2f}, std {r['std_change']:+.2f}", flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    out = {"faces": len(rows), "untouched": sum(not r["touched"] for r in rows)}
    for lo, hi in SIZE_BINS:
        rs = [r for r in rows if r["touched"] and lo <= r["side"] < hi]
        if not rs:
            continue
        d = np.array([r["psnr_faces"] - r["psnr_no_faces"] for r in rs])
        out[f"{lo}-{hi}px"] = {
            "n": len(rs), "psnr_gain": float(d.mean()), "better": int((d > 0.05).sum()), "worse": int((d < -0.05).sum()),
            "ssim_gain": float(np.mean([r["ssim_faces"] - r["ssim_no_faces"] for r in rs])),
            "mean_change": float(np.mean([r["mean_change"] for r in rs])),
            "std_change": float(np.mean([r["std_change"] for r in rs])),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="first N photos only")
    ap.add_argument("--out", help="write rows and summary here (JSON)")
    args = ap.parse_args(argv)
    rows = face_rows(args.limit)
    s = summary(rows)
    print(json.dumps(s, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"summary": s, "faces": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

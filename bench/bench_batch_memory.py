"""Does memory grow over a batch? (USERS.md #2: DeOldify leaked memory across images,
jantic/DeOldify#49.) Runs `oldfilm restore --colorize` (restore, faces, colorize: the default
models) on N photos of varied sizes from ../shared/data/photos, one Pipeline as a batch uses it,
and records the process's resident memory after each photo. Reports the mean of the first and
last tenth, the peak, and the least-squares slope per photo after the first tenth (warm-up:
allocator pools, lazily loaded detectors).

    .venv/bin/python bench/bench_batch_memory.py --photos 60 --threads 2 --json docs/eval/batch_memory.json
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oldfilm.options import ColorizeOptions, FaceOptions, PipelineOptions, RestoreOptions, RunOptions  # noqa: E402
from oldfilm.pipeline import Pipeline  # noqa: E402

FOLDERS = ["faces_hires", "bsds500", "urban100", "debian_wallpaper_photos", "set14_set5", "sun_hays80", "clothing_cc0"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--stages", default="restore,faces,colorize",
                    help="comma-separated: which of restore, faces, colorize run")
    a = ap.parse_args()
    root = REPO.parent / "shared" / "data" / "photos"
    pool = []
    for f in FOLDERS:
        pool += sorted(p for p in (root / f).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    random.Random(a.seed).shuffle(pool)
    photos = pool[:a.photos]
    on = set(a.stages.split(","))
    pipe = Pipeline(PipelineOptions(restore=RestoreOptions(enabled="restore" in on),
                                    faces=FaceOptions(enabled="faces" in on),
                                    colorize=ColorizeOptions(enabled="colorize" in on, recolor=True),
                                    run=RunOptions(threads=a.threads)))
    rows = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for i, src in enumerate(photos):
            res = pipe.run_photo(src, Path(tmp) / f"{i}{src.suffix}")
            (Path(tmp) / f"{i}{src.suffix}").unlink(missing_ok=True)
            from PIL import Image

            w, h = Image.open(src).size
            rows.append({"i": i, "photo": f"{src.parent.name}/{src.name}", "size": [w, h],
                         "seconds": round(res.seconds, 2), "faces": res.report.get("faces"), "rss_mb": round(rss_mb(), 1)})
            print(f"{i:3d} {w}x{h} {res.seconds:5.1f} s faces {res.report.get('faces')} rss {rows[-1]['rss_mb']:.0f} MB",
                  flush=True)
    rss = np.array([r["rss_mb"] for r in rows])
    k = max(1, len(rss) // 10)
    x = np.arange(k, len(rss))
    slope = float(np.polyfit(x, rss[k:], 1)[0]) if len(x) > 2 else float("nan")
    summary = {"photos": len(rows), "first_tenth_mb": round(float(rss[:k].mean()), 1),
               "last_tenth_mb": round(float(rss[-k:].mean()), 1), "peak_mb": round(float(rss.max()), 1),
               "slope_mb_per_photo": round(slope, 2), "minutes": round((time.time() - t0) / 60, 1)}
    print(json.dumps(summary))
    if a.json:
        a.json.write_text(json.dumps({"command": "bench/bench_batch_memory.py", "threads": a.threads,
                                      "summary": summary, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()

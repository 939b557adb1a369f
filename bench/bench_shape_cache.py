"""Why a photo batch's memory grows, then stops: oneDNN (PyTorch's CPU convolutions) keeps the
primitives it builds for each input shape in a cache of ONEDNN_PRIMITIVE_CACHE_CAPACITY entries
(default 1024). Photos of many sizes fill it; frames of one video reuse one shape's entries.

For each capacity, a fresh process (the variable is read once) runs the default restorer (no
faces) on a 640x480 frame 12 times (best of the last 10: the speed of a video, one shape), then
on 150 frames of random sizes 200-480 x 200-640 (a photo batch), and reports its resident memory;
then the default colorizer on a 854x480 video frame 15 times (best of the last 12), and the
restorer with scratches on followed by the colorizer on the 640x480 frame 14 times (best of the
last 11: a video's chain, whose primitives may not all fit a small cache).
Capacities alternate over --rounds rounds, so load changes hit them alike.

    .venv/bin/python bench/bench_shape_cache.py --rounds 2 --json docs/eval/shape_cache.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys, time, json, numpy as np, torch
sys.path.insert(0, %r)
from oldfilm.options import FaceOptions, PipelineOptions, RunOptions
from oldfilm.pipeline import Pipeline
torch.set_num_threads(2)
def rss():
    for l in open('/proc/self/status'):
        if l.startswith('VmRSS'):
            return int(l.split()[1]) / 1024
pipe = Pipeline(PipelineOptions(faces=FaceOptions(enabled=False), run=RunOptions(threads=2)))
rng = np.random.default_rng(0)
base = (rng.random((480, 640, 3)) * 255).astype(np.uint8)
ts = []
for i in range(12):
    t = time.perf_counter(); pipe.run_array(base); ts.append(time.perf_counter() - t)
before = rss()
for i in range(150):
    h, w = int(rng.integers(200, 480)), int(rng.integers(200, 640))
    pipe.run_array(np.ascontiguousarray(base[:h, :w]))
after = rss()
from oldfilm.options import ColorizeOptions, RestoreOptions
col = Pipeline(PipelineOptions(restore=RestoreOptions(enabled=False), faces=FaceOptions(enabled=False),
                               colorize=ColorizeOptions(enabled=True), run=RunOptions(threads=2)))
frame = (rng.random((480, 854, 3)) * 255).astype(np.uint8)
tc = []
for i in range(15):
    t = time.perf_counter(); col.run_array(frame, is_video=True); tc.append(time.perf_counter() - t)
chain = Pipeline(PipelineOptions(restore=RestoreOptions(scratches="on"), faces=FaceOptions(enabled=False),
                                 colorize=ColorizeOptions(enabled=True, steady=0), run=RunOptions(threads=2)))
tk = []
for i in range(14):
    t = time.perf_counter(); chain.run_array(base, is_video=True); tk.append(time.perf_counter() - t)
print(json.dumps({"same_shape_ms": 1000 * min(ts[2:]), "colorize_480p_ms": 1000 * min(tc[3:]),
                  "chain_640x480_ms": 1000 * min(tk[3:]),
                  "rss_one_shape_mb": before, "rss_150_shapes_mb": after}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--capacities", default="default,256,32")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    caps = a.capacities.split(",")
    rows = []
    for r in range(a.rounds):
        for cap in caps:
            env = dict(os.environ)
            env.pop("ONEDNN_PRIMITIVE_CACHE_CAPACITY", None)
            if cap != "default":
                env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = cap
            out = subprocess.run([sys.executable, "-c", CHILD % str(REPO)], env=env, capture_output=True,
                                 text=True, check=True).stdout.strip().splitlines()[-1]
            row = {"round": r, "capacity": cap, **{k: round(v, 1) for k, v in json.loads(out).items()}}
            rows.append(row)
            print(row, flush=True)
    summary = {}
    for cap in caps:
        mine = [x for x in rows if x["capacity"] == cap]
        summary[cap] = {"same_shape_ms_best": min(x["same_shape_ms"] for x in mine),
                        "colorize_480p_ms_best": min(x["colorize_480p_ms"] for x in mine),
                        "chain_640x480_ms_best": min(x["chain_640x480_ms"] for x in mine),
                        "rss_150_shapes_mb_mean": round(sum(x["rss_150_shapes_mb"] for x in mine) / len(mine), 1)}
    print(json.dumps(summary))
    if a.json:
        a.json.write_text(json.dumps({"command": "bench/bench_shape_cache.py", "load_average": os.getloadavg()[0],
                                      "summary": summary, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()

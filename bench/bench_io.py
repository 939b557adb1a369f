"""Decode + encode throughput through the identity stage: the ceiling for every later stage.

Generates its own clips (moving gradient + grain, libx264, AAC audio) at 480p and 1080p, then
times oldfilm.video.runner.process_video with IdentityStage, best of N (this box is shared and
noisy). Prints a Markdown table; paste it into docs/bench-io.md with the command line.

    .venv/bin/python bench/bench_io.py --frames 96 --repeat 3
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from oldfilm.options import EncodeOptions
from oldfilm.stage import IdentityStage
from oldfilm.video.runner import process_video

SIZES = {"480p": (854, 480), "1080p": (1920, 1080)}


def make_clip(path: Path, w: int, h: int, frames: int) -> None:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1).astype(np.int16)
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "18"}
        a = c.add_stream("aac", rate=48000)
        a.layout = "stereo"
        for i in range(frames):
            grain = rng.integers(-12, 13, (h, w, 1), dtype=np.int16)
            img = np.clip(np.roll(base, i * 4, axis=1) + grain, 0, 255).astype(np.uint8)
            c.mux(vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")))
        c.mux(vs.encode(None))
        n = int(frames / 24 * 48000)
        for k in range(0, n, 1024):
            f = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            f.sample_rate, f.pts, f.time_base = 48000, k, Fraction(1, 48000)
            c.mux(a.encode(f))
        c.mux(a.encode(None))


def decode_only(path: Path) -> tuple[float, float]:
    """(frames per wall second, frames per CPU second of this process, all threads)."""
    t, cpu = time.perf_counter(), time.process_time()
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        n = sum(1 for f in c.decode(s) if f.to_ndarray(format="rgb24") is not None)
    return n / (time.perf_counter() - t), n / (time.process_time() - cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sizes", default="480p,1080p")
    ap.add_argument("--presets", default="medium,veryfast")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oldfilm-bench-"))
    rows = []
    try:
        for name in args.sizes.split(","):
            w, h = SIZES[name]
            src = tmp / f"{name}.mp4"
            make_clip(src, w, h, args.frames)
            runs = [decode_only(src) for _ in range(args.repeat)]
            rows.append((name, "decode -> RGB only", f"{max(r[0] for r in runs):.1f}",
                         f"{max(r[1] for r in runs):.1f}"))
            for preset in args.presets.split(","):
                best = best_cpu = 0.0
                for r in range(args.repeat):
                    dst = tmp / f"{name}_{preset}_{r}.mp4"
                    t, cpu = time.perf_counter(), time.process_time()
                    res = process_video(src, dst, IdentityStage(), EncodeOptions(preset=preset),
                                        tmp / f".work_{name}_{preset}_{r}", segment_seconds=30)
                    best = max(best, res.frames / (time.perf_counter() - t))
                    best_cpu = max(best_cpu, res.frames / (time.process_time() - cpu))
                    dst.unlink()
                rows.append((name, f"process_video identity, h264 crf 17 {preset}", f"{best:.1f}",
                             f"{best_cpu:.1f}"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"PyAV {av.__version__} (libavcodec {av.library_versions.get('libavcodec')}), "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end, {args.frames} frames, "
          f"best of {args.repeat}\n")
    print("| size | path | fps (wall) | frames per CPU-second |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |")


if __name__ == "__main__":
    main()

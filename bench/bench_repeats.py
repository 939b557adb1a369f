"""Repeated frames: how many each clip holds, and what reusing their outputs saves and changes.

1. Count: every fixture clip through the runner with an identity stage; how many frames repeat
   the last processed one (oldfilm/video/repeats.py) and so would reuse its output.
2. Time: the README's main job (`oldfilm restore CLIP --colorize`, the bundled defaults) with
   repeats reused (the default) and with `--every-frame`, alternated `--repeats` times in one run,
   wall seconds each; then the two outputs compared frame by frame (PSNR in dB; frames that are
   the same picture come out the same either way except for codec noise), and the flicker index
   (metrics.md: mean frame-to-frame jump of the Lab frame means) of each output.

    .venv/bin/python bench/bench_repeats.py --repeats 2 --threads 2
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oldfilm.metrics.temporal import flicker_index  # noqa: E402
from oldfilm.options import ColorizeOptions, EncodeOptions, PipelineOptions, RunOptions  # noqa: E402
from oldfilm.pipeline import Pipeline  # noqa: E402
from oldfilm.stage import IdentityStage  # noqa: E402
from oldfilm.video.runner import process_video  # noqa: E402

CLIPS = [REPO / "examples/chaplin_bw_mp3_10s.mp4", *sorted((REPO.parent / "shared/fixtures/video").glob("*.mp4"))]


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=CLIPS[0], help="clip for the timed job")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "docs/eval/bench_repeats.json")
    args = ap.parse_args()
    result: dict = {"command": " ".join(["bench/bench_repeats.py", *sys.argv[1:]]), "counts": {}, "timed": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for clip in CLIPS:
            if not clip.exists() or clip.name in result["counts"]:
                continue
            res = process_video(clip, tmp / f"id_{clip.stem}.mkv", IdentityStage(), EncodeOptions(preset="ultrafast"),
                                tmp / f"w_{clip.stem}")
            result["counts"][clip.name] = {"frames": res.frames, "repeated": res.repeated_frames,
                                           "share": round(res.repeated_frames / res.frames, 3)}
            print(f"{clip.name:28s} {res.repeated_frames:4d} of {res.frames:4d} frames repeat the last processed one")

        times: dict[str, list[float]] = {"reuse": [], "every": []}
        outs: dict[str, Path] = {}
        for r in range(args.repeats):
            for mode in ("reuse", "every"):
                opts = PipelineOptions(colorize=ColorizeOptions(enabled=True),
                                       run=RunOptions(threads=args.threads, reuse_repeats=mode == "reuse"))
                dst = tmp / f"{mode}_{r}.mp4"
                t0 = time.perf_counter()
                res = Pipeline(opts).run_video(args.clip, dst)
                times[mode].append(time.perf_counter() - t0)
                outs[mode] = Path(res.output)
                print(f"run {r} {mode:5s}: {times[mode][-1]:6.1f} s, {res.frames} frames, "
                      f"{res.report.get('repeated_frames', 0)} repeats reused", flush=True)
        a, b = frames_of(outs["reuse"]), frames_of(outs["every"])
        p = np.array([psnr(x, y) for x, y in zip(a, b)])
        finite = p[np.isfinite(p)]
        flicker = {mode: flicker_index(frames) for mode, frames in (("reuse", a), ("every_frame", b))}
        result["timed"] = {
            "clip": args.clip.name, "job": "restore --colorize (bundled defaults)", "threads": args.threads,
            "seconds_reuse": [round(t, 1) for t in times["reuse"]],
            "seconds_every_frame": [round(t, 1) for t in times["every"]],
            "speedup_best_of": round(min(times["every"]) / min(times["reuse"]), 3),
            "psnr_reuse_vs_every_frame_db": {"min": round(float(finite.min()), 2) if finite.size else None,
                                             "median": round(float(np.median(finite)), 2) if finite.size else None,
                                             "identical_frames": int((~np.isfinite(p)).sum())},
            "flicker_index": {mode: {"L": round(f.L, 4), "ab": round(f.ab, 4)} for mode, f in flicker.items()},
        }
        print(json.dumps(result["timed"], indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

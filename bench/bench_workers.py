"""`--workers N`: the README's main job (restore --colorize, bundled defaults) on one video with
1 and N worker processes and the same total CPU threads, alternated, wall seconds each; then
the outputs compared frame by frame.

The bundled clip holds one keyframe, so it cannot be cut into segments; it is first re-encoded
with a keyframe every second (x264 crf 14, audio copied), as most cameras and encoders write,
and run with `--segment-seconds 2`, so that its 10 s make 5 segments (a reel's 30 s segments
give the same room on any real length).

With --compute, first the stages alone: the default restoration (no faces) on 640x360 frames in
1 process with all the threads and in N processes with 1/N each, frames a second of all
processes together, alternated twice (no decoding, encoding or model loading in the figure).

    .venv/bin/python bench/bench_workers.py --threads 2 --workers 2 --compute --json docs/eval/bench_workers.json

With --photos, instead: a batch of the fixture photos (15: ../shared/fixtures/photos and
old_photos) through `oldfilm restore FOLDER -o OUT` (bundled defaults, faces on) with 1 and N
workers, alternated, wall seconds each (pool start and model loading included).

    .venv/bin/python bench/bench_workers.py --threads 2 --workers 2 --photos --json docs/eval/bench_workers_photos.json
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

from oldfilm.options import ColorizeOptions, PipelineOptions, RunOptions  # noqa: E402
from oldfilm.pipeline import Pipeline  # noqa: E402

CLIP = REPO / "examples/chaplin_bw_mp3_10s.mp4"


def with_keyframes(src: Path, dst: Path, every_s: float = 1.0) -> Path:
    with av.open(str(src)) as c, av.open(str(dst), "w") as o:
        vin = c.streams.video[0]
        rate = vin.average_rate
        vout = o.add_stream("libx264", rate=rate)
        vout.width, vout.height, vout.pix_fmt = vin.width, vin.height, "yuv420p"
        g = str(max(1, round(float(rate) * every_s)))
        vout.options = {"crf": "14", "g": g, "keyint_min": g, "sc_threshold": "0"}
        aout = {s.index: o.add_stream_from_template(s) for s in c.streams.audio}
        for packet in c.demux():
            if packet.stream.index in aout:
                if packet.dts is not None:
                    packet.stream = aout[packet.stream.index]
                    o.mux(packet)
                continue
            for f in packet.decode():
                f.pict_type = av.video.frame.PictureType.NONE
                o.mux(vout.encode(f))
        o.mux(vout.encode(None))
    return dst


def _compute(threads: int, batches: int, out) -> None:
    import torch

    torch.set_num_threads(threads)
    import cv2

    cv2.setNumThreads(threads)
    from oldfilm.evaluate import build_pipeline_stage

    stage = build_pipeline_stage("restore", faces=False, scratches="auto", is_video=True)
    frames = [np.random.default_rng(i).integers(0, 255, (360, 640, 3), dtype=np.uint8) for i in range(4)]
    stage(frames)                                   # warm-up: first-call costs stay out
    t = time.perf_counter()
    for _ in range(batches):
        stage(frames)
    out.put((batches * len(frames), time.perf_counter() - t))


def compute_fps(procs: int, threads: int, batches: int = 6) -> float:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ps = [ctx.Process(target=_compute, args=(threads, batches, q)) for _ in range(procs)]
    for p in ps:
        p.start()
    got = [q.get() for _ in ps]
    for p in ps:
        p.join()
    return sum(n for n, _ in got) / max(t for _, t in got)


def photo_batch(args) -> None:
    import io
    import shutil

    from oldfilm.jobs import discover, run_batch

    fix = REPO.parent / "shared" / "fixtures"
    times: dict[int, list[float]] = {1: [], args.workers: []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        box = tmp / "box"
        box.mkdir()
        for f in sorted((fix / "photos").iterdir()) + sorted((fix / "old_photos").iterdir()):
            shutil.copy(f, box / f.name)
        for r in range(args.rounds):
            for n in times:
                out = tmp / f"out_{n}_{r}"
                opts = PipelineOptions(run=RunOptions(threads=args.threads, workers=n))
                t = time.perf_counter()
                summary = run_batch(discover([box], output_dir=out), Pipeline(opts), progress=False,
                                    out=io.StringIO(), err=io.StringIO())
                times[n].append(time.perf_counter() - t)
                done = sum(r.status == "done" for r in summary.records)
                print(f"round {r} workers {n}: {times[n][-1]:.1f} s, {done} photos done", flush=True)
    result = {"command": " ".join(["bench/bench_workers.py", *sys.argv[1:]]),
              "job": "restore FOLDER -o OUT (bundled defaults, faces on), 15 fixture photos",
              "threads_in_all": args.threads, "seconds": {str(n): [round(t, 1) for t in v] for n, v in times.items()},
              "speedup_best_of": round(min(times[1]) / min(times[args.workers]), 3)}
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="CPU threads in all (split between the workers)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--segment-seconds", type=float, default=2.0)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--compute", action="store_true", help="also time the stages alone (see above)")
    ap.add_argument("--photos", action="store_true", help="time a photo batch instead (see above)")
    args = ap.parse_args()
    if args.photos:
        photo_batch(args)
        return
    compute = None
    if args.compute:
        per = max(1, args.threads // args.workers)
        fps: dict[str, list[float]] = {f"1x{args.threads}": [], f"{args.workers}x{per}": []}
        for _ in range(2):
            fps[f"1x{args.threads}"].append(round(compute_fps(1, args.threads), 2))
            fps[f"{args.workers}x{per}"].append(round(compute_fps(args.workers, per), 2))
            print("stages alone, fps (processes x threads):", fps, flush=True)
        compute = {"job": "default restoration, no faces, 640x360 frames, batches of 4",
                   "fps_processes_x_threads": fps}
    if args.rounds == 0:                            # the stages alone
        print(json.dumps(compute, indent=1))
        if args.json:
            args.json.write_text(json.dumps({"command": " ".join(["bench/bench_workers.py", *sys.argv[1:]]),
                                             "stages_alone": compute}, indent=1) + "\n")
        return
    times: dict[int, list[float]] = {1: [], args.workers: []}
    outs: dict[int, Path] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = with_keyframes(CLIP, tmp / "clip_gop1s.mp4")
        for r in range(args.rounds):
            for n in times:
                opts = PipelineOptions(colorize=ColorizeOptions(enabled=True),
                                       run=RunOptions(threads=args.threads, workers=n))
                dst = tmp / f"out_{n}_{r}.mp4"
                t = time.perf_counter()
                res = Pipeline(opts).run_video(src, dst, segment_seconds=args.segment_seconds)
                times[n].append(time.perf_counter() - t)
                outs[n] = dst
                print(f"round {r} workers {n}: {times[n][-1]:.1f} s, {res.frames} frames, report {res.report}",
                      flush=True)
        a, b = frames_of(outs[1]), frames_of(outs[args.workers])
        diff = [float(np.abs(x.astype(np.int16) - y).mean()) for x, y in zip(a, b)]
    result = {
        "command": " ".join(["bench/bench_workers.py", *sys.argv[1:]]),
        "clip": f"{CLIP.name}, re-encoded with a keyframe every second", "job": "restore --colorize (bundled defaults)",
        "threads_in_all": args.threads, "segment_seconds": args.segment_seconds,
        "seconds": {str(n): [round(t, 1) for t in v] for n, v in times.items()},
        "speedup_best_of": round(min(times[1]) / min(times[args.workers]), 3),
        "frames": len(a), "mean_abs_difference_of_outputs": round(float(np.mean(diff)), 4),
        "identical_frames": int(sum(d == 0 for d in diff)),
        "stages_alone": compute,
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Inverse telecine (`--deinterlace ivtc`) and field matching alone (`match`) against
deinterlacing (`auto`, bwdif) on film telecined to 29.97 fps: how close each gets to the film's
own frames, and what each costs.

A fixture clip's frames (less those that repeat the one before) are taken as film frames at 23.976 fps, telecined by 3:2 pulldown
(FFmpeg's telecine filter, top field first) and encoded as interlaced H.264 at crf 12, as a
capture of a film transfer would be. Each mode then runs through the runner:

1. Fidelity: every output frame against the film frame it is closest to (the pairing most
   favourable to either mode), PSNR of the luma (the output is encoded at crf 17, which bounds
   it); how many output frames show the same film frame as the one before (judder); which
   film frames no output frame shows, and how different each is from its film neighbours
   (a missed frame in a still moment is invisible).
2. Cost: with an identity stage (decoding, filters and encoding only), wall seconds; and the
   frames the stages see, which set the time of a real job (restore, colorize) on a CPU.
3. With --restore: the bundled default restoration (no faces) through Pipeline.run_video in
   each mode, alternated, twice, wall seconds each.

    .venv/bin/python bench/bench_ivtc.py --threads 2 --restore --json docs/eval/bench_ivtc.json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oldfilm.options import EncodeOptions, FaceOptions, PipelineOptions, RunOptions  # noqa: E402
from oldfilm.pipeline import Pipeline  # noqa: E402
from oldfilm.stage import IdentityStage  # noqa: E402
from oldfilm.video.ivtc import telecine  # noqa: E402
from oldfilm.video.repeats import repeats  # noqa: E402
from oldfilm.video.runner import process_video  # noqa: E402

CLIPS = [REPO / "examples/chaplin_bw_mp3_10s.mp4", REPO / "examples/bbb_720p_aac51_5s.mp4"]
NTSC = Fraction(1, 30000)
MODES = ("auto", "match", "ivtc")


def film_of(path: Path, limit: int) -> list[np.ndarray]:
    """Up to `limit` frames of a clip, leaving out frames that repeat the one before (the
    Chaplin clip shows many twice), so that every film frame is a picture of its own."""
    with av.open(str(path)) as c:
        out = []
        for f in c.decode(video=0):
            a = f.to_ndarray(format="rgb24")
            if out and repeats(a, out[-1]):
                continue
            out.append(a)
            if len(out) >= limit:
                break
    return out


def telecined(film: list[np.ndarray], dst: Path) -> Path:
    h, w = film[0].shape[:2]
    c = av.open(str(dst), "w")
    vs = c.add_stream("libx264", rate=Fraction(30000, 1001))
    vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
    vs.codec_context.time_base = vs.time_base = NTSC
    vs.codec_context.flags |= av.codec.context.Flags.interlaced_dct
    vs.codec_context.flags |= av.codec.context.Flags.interlaced_me
    vs.options = {"x264-params": "interlaced=1:tff=1", "crf": "12", "g": "30", "preset": "fast"}
    for n, f in enumerate(telecine(film)):
        f.pts, f.time_base = n * 1001, NTSC
        c.mux(vs.encode(f))
    c.mux(vs.encode(None))
    c.close()
    return dst


def luma(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def fidelity(out: Path, film: list[np.ndarray]) -> dict:
    """Each output frame paired with the film frame it is closest to (the pairing most
    favourable to either mode)."""
    ref = [luma(f) for f in film]
    with av.open(str(out)) as c:
        vs = c.streams.video[0]
        rate = vs.average_rate
        frames = [luma(f.to_ndarray(format="rgb24")) for f in c.decode(vs)]
    scores, shown = [], []
    for y in frames:
        k = int(np.argmin([np.abs(y - r).mean() for r in ref]))
        scores.append(psnr(y, ref[k]))
        shown.append(k)
    missing = sorted(set(range(len(film))) - set(shown))
    # How visible a missing frame is: its difference to the closer of its film neighbours.
    step = [min(float(np.abs(ref[k] - ref[j]).mean()) for j in (k - 1, k + 1) if 0 <= j < len(ref))
            for k in missing]
    return {"frames": len(frames), "fps": round(float(rate), 3),
            "psnr_y_mean": round(float(np.mean(scores)), 2), "psnr_y_min": round(float(np.min(scores)), 2),
            "film_frame_shown_twice": sum(a == b for a, b in zip(shown, shown[1:])),
            "film_frames_missing": len(missing),
            "missing_frames_differ_from_a_neighbour_by": [round(x, 2) for x in step],
            "film_neighbours_differ_by_median": round(float(np.median(
                [np.abs(ref[k] - ref[k - 1]).mean() for k in range(1, len(ref))])), 2),
            "in_film_order": shown == sorted(shown)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--film-frames", type=int, default=240, help="film frames taken from each clip")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--restore", action="store_true", help="also time the default restoration in both modes")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    result: dict = {"command": " ".join(["bench/bench_ivtc.py", *sys.argv[1:]]), "clips": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for clip in CLIPS:
            film = film_of(clip, args.film_frames)
            src = telecined(film, tmp / f"tc_{clip.stem}.mp4")
            row: dict = {"film_frames": len(film), "size": f"{film[0].shape[1]}x{film[0].shape[0]}"}
            for mode in MODES:
                seen = {"n": 0}

                def stage(frames, seen=seen):
                    seen["n"] += len(frames)
                    return IdentityStage()(frames)

                dst = tmp / f"{mode}_{clip.stem}.mp4"
                t = time.perf_counter()
                res = process_video(src, dst, stage, EncodeOptions(preset="ultrafast", deinterlace=mode),
                                    tmp / f"w_{mode}_{clip.stem}")
                secs = time.perf_counter() - t
                row[mode] = {"identity_seconds": round(secs, 2), "frames_the_stages_see": seen["n"],
                             **fidelity(res.output, film),
                             "warnings": res.warnings}
                print(clip.name, mode, json.dumps(row[mode]), flush=True)
            result["clips"][clip.name] = row
        if args.restore:
            clip = CLIPS[0]
            src = tmp / f"tc_{clip.stem}.mp4"
            times: dict[str, list[float]] = {m: [] for m in MODES}
            for r in range(2):
                for mode in MODES:
                    opts = PipelineOptions(faces=FaceOptions(enabled=False), run=RunOptions(threads=args.threads),
                                           encode=EncodeOptions(deinterlace=mode))
                    t = time.perf_counter()
                    res = Pipeline(opts).run_video(src, tmp / f"restore_{mode}_{r}.mp4")
                    times[mode].append(time.perf_counter() - t)
                    print(f"restore {mode} run {r}: {times[mode][-1]:.1f} s, {res.frames} frames", flush=True)
            result["restore"] = {"clip": f"{clip.name} telecined", "job": "restore, no faces (bundled default)",
                                 "threads": args.threads,
                                 "seconds": {m: [round(t, 1) for t in v] for m, v in times.items()},
                                 "speedup_best_of": {m: round(min(times["auto"]) / min(times[m]), 3) for m in MODES}}
            print(json.dumps(result["restore"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()

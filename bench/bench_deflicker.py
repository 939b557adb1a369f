"""Exposure flicker removal (`--deflicker`, oldfilm/video/deflicker.py) against FFmpeg's `deflicker` filter.

Every fixture clip, four ways:
1. clean: the clip as it is. What does each method change on footage that does not flicker
   (PSNR to the clip, dB; higher is better, inf = untouched)?
2. flickered: every frame's levels scaled and shifted at random (gain exp(N(0, --gain-sd)),
   offset N(0, --offset-sd) levels; seeded), the way a badly exposed or badly printed reel
   flickers. Flicker index F_L (metrics.md, L* units) before and after, and PSNR to the clean clip.
3. light change: from the middle frame on, the clip is 25 % brighter for good (a lamp switched
   on). The change is real, so a deflicker must keep it: PSNR to the stepped clip over the 13
   frames around the step.
4. cut: the first half of the clip, then the next fixture clip's frames, resized to this size and
   30 % darker (a second shot): PSNR to that over the 13 frames around the cut (a deflicker that
   smooths across cuts pumps them).

5. colours (``--colorize``): the bundled clip, flickered the same way and stored losslessly, then
   colorized by the default colorizer (`oldfilm colorize`, render factor 21) with and without
   `--deflicker`, beside the clip without flicker colorized: flicker index F_L and F_ab of each
   output. The colorizer paints from the luminance, so luminance flicker becomes colour flicker.
   The first three runs have the colour-flicker filter off (`--steady-colors 0`, as they were
   first measured, before the filter existed); the three ``--steady-colors`` runs repeat them with
   it at its default (docs/steady-colours.md).

Methods: none, ours (per shot, median + local-linear, gain and offset per frame) and FFmpeg's
`deflicker` (through PyAV; `size` frames, mode am: each frame scaled to the window's mean
brightness) at sizes 5 and 15. Also the cost per 640x480 frame of ours.

    .venv/bin/python bench/bench_deflicker.py --colorize --threads 2 --json docs/eval/bench_deflicker.json --plot docs/deflicker-curves.png
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oldfilm.metrics.temporal import flicker_index  # noqa: E402
from oldfilm.video import deflicker as dfl  # noqa: E402

CLIPS = sorted((REPO.parent / "shared/fixtures/video").glob("*.mp4"))   # the bundled clip is among them


def frames_of(path: Path, max_side: int) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        fps = float(vs.guessed_rate or vs.average_rate)
        out = []
        for f in c.decode(vs):
            a = f.to_ndarray(format="rgb24")
            s = max_side / max(a.shape[:2])
            if s < 1:
                size = (round(a.shape[1] * s) // 2 * 2, round(a.shape[0] * s) // 2 * 2)
                a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
            out.append(a)
    return out, fps


def levels(rgb: np.ndarray, gain: float, offset: float) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * gain + offset, 0, 255).round().astype(np.uint8)


def add_flicker(frames: list[np.ndarray], args) -> list[np.ndarray]:
    """Each frame's levels x exp(N(0, gain_sd)) + N(0, offset_sd), seeded by the seed and the length."""
    n = len(frames)
    rng = np.random.default_rng([args.seed, n])
    gains, offsets = np.exp(rng.normal(0, args.gain_sd, n)), rng.normal(0, args.offset_sd, n)
    return [levels(f, g, o) for f, g, o in zip(frames, gains, offsets)]


def ours(frames: list[np.ndarray], fps: float) -> list[np.ndarray]:
    return dfl.steady_frames(frames, fps)


def ffmpeg_deflicker(frames: list[np.ndarray], fps: float, size: int) -> list[np.ndarray]:
    h, w = frames[0].shape[:2]
    g = av.filter.Graph()
    tb = Fraction(1, 1000)
    src = g.add_buffer(width=w, height=h, format="rgb24", time_base=tb)
    fmt_in = g.add("format", "gbrp")
    defl = g.add("deflicker", f"size={size}:mode=am")
    fmt_out = g.add("format", "rgb24")
    sink = g.add("buffersink")
    src.link_to(fmt_in)
    fmt_in.link_to(defl)
    defl.link_to(fmt_out)
    fmt_out.link_to(sink)
    g.configure()
    out = []

    def drain() -> None:
        while True:
            try:
                out.append(g.pull().to_ndarray(format="rgb24"))
            except (av.BlockingIOError, av.EOFError):
                return

    for i, a in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(a, format="rgb24")
        vf.pts = round(i * 1000 / fps)
        vf.time_base = tb
        g.push(vf)
        drain()
    g.push(None)
    drain()
    if len(out) != len(frames):
        raise RuntimeError(f"deflicker returned {len(out)} frames for {len(frames)}")
    return out


PLOT_COLOURS = {"without flicker": (0, 0, 0), "flickered": (60, 60, 220), "ours": (40, 160, 40),
                "ffmpeg deflicker size 5": (200, 120, 30)}    # BGR


def plot_brightness(curves: dict[str, list[np.ndarray]], width: int = 960, height: int = 340) -> np.ndarray:
    """uint8 BGR chart of each clip's mean luma per frame (8-bit levels), one line per clip."""
    means = {k: np.array([float(f.astype(np.float32).mean()) for f in v]) for k, v in curves.items()}
    lo = min(m.min() for m in means.values()) - 2
    hi = max(m.max() for m in means.values()) + 2
    left, right, top, bottom = 56, 16, 16, 70
    img = np.full((height, width, 3), 255, np.uint8)
    n = max(len(m) for m in means.values())

    def xy(i: int, v: float) -> tuple[int, int]:
        return (left + round(i * (width - left - right) / max(1, n - 1)),
                top + round((hi - v) * (height - top - bottom) / (hi - lo)))

    cv2.rectangle(img, (left, top), (width - right, height - bottom), (200, 200, 200), 1)
    for v in np.arange(np.ceil(lo / 5) * 5, hi, 5):
        y = xy(0, v)[1]
        cv2.line(img, (left, y), (width - right, y), (235, 235, 235), 1)
        cv2.putText(img, f"{v:.0f}", (8, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (90, 90, 90), 1, cv2.LINE_AA)
    for name, m in means.items():
        pts = np.array([xy(i, v) for i, v in enumerate(m)], np.int32)
        cv2.polylines(img, [pts], False, PLOT_COLOURS.get(name, (0, 0, 0)), 2 if name == "ours" else 1, cv2.LINE_AA)
    x = left
    for name in means:
        cv2.line(img, (x, height - 40), (x + 24, height - 40), PLOT_COLOURS.get(name, (0, 0, 0)), 2)
        cv2.putText(img, name, (x + 30, height - 36), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (40, 40, 40), 1, cv2.LINE_AA)
        x += 40 + 9 * len(name)
    cv2.putText(img, "mean brightness per frame (8-bit levels), bundled clip, frames 0-%d" % (n - 1),
                (left, height - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (40, 40, 40), 1, cv2.LINE_AA)
    return img


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = float(np.mean([np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2) for x, y in zip(a, b)]))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def lossless(path: Path, frames: list[np.ndarray], fps: float) -> Path:
    with av.open(str(path), "w") as c:
        vs = c.add_stream("ffv1", rate=Fraction(fps).limit_denominator(1001))
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "bgr0"
        for a in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                c.mux(p)
        for p in vs.encode(None):
            c.mux(p)
    return path


def measuring_pass(repeats: int = 3) -> dict:
    """Wall time of the runner's measuring pass (decode + statistics + corrections) on the bundled
    clip (640x360 H.264, 241 frames), best of `repeats`."""
    import tempfile

    from oldfilm.options import EncodeOptions
    from oldfilm.video.probe import probe
    from oldfilm.video.runner import _deflicker_table
    from oldfilm.video.segments import plan_segments

    clip = REPO / "examples/chaplin_bw_mp3_10s.mp4"
    info = probe(clip)
    plan = plan_segments(clip, info.time_base, 30.0, info.video_index)
    best = float("inf")
    for k in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            _deflicker_table(info, plan, EncodeOptions(), Path(tmp), f"bench{k}")
            best = min(best, time.perf_counter() - t0)
    return {"frames": plan.frame_count, "seconds": round(best, 3),
            "ms per frame": round(best / plan.frame_count * 1e3, 2)}


def colour_flicker(args) -> dict:
    import tempfile

    from oldfilm.options import ColorizeOptions, EncodeOptions, PipelineOptions, RestoreOptions, RunOptions
    from oldfilm.pipeline import Pipeline

    clip = REPO / "examples/chaplin_bw_mp3_10s.mp4"
    frames, fps = frames_of(clip, args.max_side)
    flick = add_flicker(frames, args)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        clean_src, flick_src = lossless(t / "clean.mkv", frames, fps), lossless(t / "flick.mkv", flick, fps)
        # colour flicker filter off (--steady-colors 0) for the first three, as first measured
        for name, src, steady, colours in [
                ("no flicker", clean_src, False, 0.0), ("flickered", flick_src, False, 0.0),
                ("flickered, --deflicker", flick_src, True, 0.0),
                ("no flicker, --steady-colors", clean_src, False, None),
                ("flickered, --steady-colors", flick_src, False, None),
                ("flickered, --deflicker --steady-colors", flick_src, True, None)]:
            opts = PipelineOptions(restore=RestoreOptions(enabled=False),
                                   colorize=ColorizeOptions(enabled=True, steady=colours),
                                   run=RunOptions(threads=args.threads, deflicker=steady),
                                   encode=EncodeOptions(codec="ffv1"))
            opts.faces.enabled = False
            res = Pipeline(opts).run_video(src, t / f"out{len(out)}.mkv")
            with av.open(str(res.output)) as c:
                got = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
            fl = flicker_index(got)
            out[name] = {"F_L": round(fl.L, 4), "F_ab": round(fl.ab, 4), "PSNR to the no-flicker output": None}
            out[name]["frames"] = got
        ref = out["no flicker"].pop("frames")
        for name in [k for k in out if k != "no flicker"]:
            out[name]["PSNR to the no-flicker output"] = round(psnr(out[name].pop("frames"), ref), 2)
        out["no flicker"].pop("PSNR to the no-flicker output")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-side", type=int, default=640, help="clips are shrunk to this long side (default 640)")
    ap.add_argument("--gain-sd", type=float, default=0.08)
    ap.add_argument("--offset-sd", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--colorize", action="store_true", help="also part 5 (about 2 minutes on 2 cores)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path,
                    help="PNG: mean brightness per frame of the bundled clip, flickered, each method")
    args = ap.parse_args(argv)

    methods = {"none": lambda fr, fps: fr, "ours": ours,
               "ffmpeg size 5": lambda fr, fps: ffmpeg_deflicker(fr, fps, 5),
               "ffmpeg size 15": lambda fr, fps: ffmpeg_deflicker(fr, fps, 15)}
    results = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "clips": {}}
    for k, path in enumerate(CLIPS):
        frames, fps = frames_of(path, args.max_side)
        other, _ = frames_of(CLIPS[(k + 1) % len(CLIPS)], args.max_side)
        n = len(frames)
        flick = add_flicker(frames, args)
        mid = n // 2
        stepped = frames[:mid] + [levels(f, 1.25, 0) for f in frames[mid:]]
        h, w = frames[0].shape[:2]
        second = [levels(cv2.resize(other[i % len(other)], (w, h), interpolation=cv2.INTER_AREA), 0.7, 0)
                  for i in range(n - mid)]
        cut = frames[:mid] + second
        around = slice(max(0, mid - 6), min(n, mid + 7))
        table = dfl.frames_correction_table(frames, fps)
        thumbs = [dfl.luma_thumbnail(f) for f in frames]
        cuts_found = [i for i in range(1, n) if dfl.is_cut(thumbs[i - 1], thumbs[i])]
        row = {"frames": n, "fps": round(fps, 3), "size": list(frames[0].shape[:2]),
               "cuts found in the clean clip": cuts_found,
               "F_L clean": round(flicker_index(frames).L, 4), "F_L flickered": round(flicker_index(flick).L, 4),
               "frames ours leaves untouched (clean)": int(sum(dfl.is_identity(float(g), float(o)) for g, o in table)),
               "methods": {}}
        for name, fn in methods.items():
            out_clean = fn(frames, fps)
            out_flick = fn(flick, fps)
            out_step = fn(stepped, fps)
            out_cut = fn(cut, fps)
            row["methods"][name] = {
                "clean: PSNR to clip": round(psnr(out_clean, frames), 2),
                "flickered: F_L": round(flicker_index(out_flick).L, 4),
                "flickered: PSNR to clean": round(psnr(out_flick, frames), 2),
                "light change: PSNR around the step": round(psnr(out_step[around], stepped[around]), 2),
                "cut: PSNR around the cut": round(psnr(out_cut[around], cut[around]), 2),
            }
        results["clips"][path.name] = row
        if args.plot and path.name == "chaplin_bw_mp3_10s.mp4":
            curves = {"without flicker": frames, "flickered": flick, "ours": ours(flick, fps),
                      "ffmpeg deflicker size 5": ffmpeg_deflicker(flick, fps, 5)}
            cv2.imwrite(str(args.plot), plot_brightness(curves))
        print(path.name, json.dumps(row, indent=1), flush=True)

    # Cost of ours on 640x480 frames: statistics (per frame, in the decoding pass) and applying.
    rng = np.random.default_rng(1)
    f = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    t0 = time.perf_counter()
    for _ in range(200):
        dfl.frame_levels(dfl.luma_thumbnail(f))
    stats_ms = (time.perf_counter() - t0) / 200 * 1e3
    t0 = time.perf_counter()
    for _ in range(200):
        dfl.apply_levels(f, 1.05, 2.0)
    apply_ms = (time.perf_counter() - t0) / 200 * 1e3
    results["cost 640x480, ms per frame"] = {"statistics": round(stats_ms, 3), "apply": round(apply_ms, 3)}
    print(results["cost 640x480, ms per frame"])
    results["measuring pass on the bundled clip"] = measuring_pass()
    print(results["measuring pass on the bundled clip"])
    if args.colorize:
        results["colorized"] = colour_flicker(args)
        print(json.dumps(results["colorized"], indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

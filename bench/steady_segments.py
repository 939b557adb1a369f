"""Segment boundaries with `--steady-colors`: the colour jump where a resumable segment starts,
with the lead-in (each segment after the first warmed on the last 8 frames of the one before,
pipeline.LEAD_IN_FRAMES) and without it (a cold start, as before the lead-in). The colour fixture
clips are made gray, stored losslessly with a keyframe every 24 frames and colorized by
`Pipeline.run_video` (default colorizer, render factor 21) in segments of one keyframe interval, so that they
hold many boundaries. Reported: the mean frame-to-frame jump of the frame's mean a*, b* (as in
the flicker index F_ab) at the segment boundaries and elsewhere, and the run's `steadied_frames`.

    .venv/bin/python bench/steady_segments.py --threads 2 --json docs/eval/steady_segments.json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oldfilm import pipeline as P  # noqa: E402
from oldfilm.evaluate import grayscale  # noqa: E402
from oldfilm.metrics.color import rgb_to_lab  # noqa: E402
from oldfilm.video.probe import probe  # noqa: E402
from oldfilm.video.segments import plan_segments  # noqa: E402
from oldfilm.options import (ColorizeOptions, EncodeOptions, FaceOptions, PipelineOptions,  # noqa: E402
                             RestoreOptions, RunOptions)

CLIPS = [REPO / "examples/bbb_720p_aac51_5s.mp4", REPO.parent / "shared/fixtures/video/rabbit320_aac_8s.mp4"]
GOP = 24
SEGMENT_SECONDS = 0.9     # every keyframe starts a segment


def gray_lossless(src: Path, dst: Path, max_side: int = 640, max_frames: int | None = None) -> tuple[Path, int]:
    """``src`` made gray (Rec.601 luma), at most ``max_side`` px, stored as FFV1 with a keyframe
    every GOP frames: (the file, its frame count)."""
    with av.open(str(src)) as c:
        vs = c.streams.video[0]
        fps = vs.average_rate or Fraction(24)
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(vs)][:max_frames]
    h, w = frames[0].shape[:2]
    s = min(1.0, max_side / max(h, w))
    size = (round(w * s) // 2 * 2, round(h * s) // 2 * 2)
    import cv2
    frames = [grayscale(cv2.resize(f, size, interpolation=cv2.INTER_AREA)) for f in frames]
    with av.open(str(dst), "w") as c:
        vs = c.add_stream("ffv1", rate=Fraction(fps).limit_denominator(1001))
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "bgr0"
        vs.codec_context.gop_size = GOP
        for a in frames:
            for p in vs.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
    return dst, len(frames)


def frame_means(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([rgb_to_lab(f.to_ndarray(format="rgb24")).reshape(-1, 3).mean(0) for f in c.decode(video=0)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for clip in CLIPS:
            src, n = gray_lossless(clip, t / f"{clip.stem}.mkv")
            row = {"frames": n}
            for label, lead in (("lead-in", P.LEAD_IN_FRAMES), ("cold start", 0)):
                P.LEAD_IN_FRAMES = lead
                opts = PipelineOptions(restore=RestoreOptions(enabled=False), faces=FaceOptions(enabled=False),
                                       colorize=ColorizeOptions(enabled=True, recolor=True),
                                       run=RunOptions(threads=args.threads, reuse_repeats=False),
                                       encode=EncodeOptions(codec="ffv1"))
                out = P.Pipeline(opts).run_video(src, t / f"{clip.stem}_{lead}.mkv", segment_seconds=SEGMENT_SECONDS)
                jumps = np.linalg.norm(np.diff(frame_means(out.output)[:, 1:], axis=0), axis=1)   # jumps[i]: i -> i+1
                plan = plan_segments(src, probe(src).time_base, SEGMENT_SECONDS)
                starts = [plan.timestamps.index(sg.start_pts) for sg in plan.segments[1:]]   # frames that begin one
                at = np.array([jumps[i - 1] for i in starts])
                rest = np.delete(jumps, [i - 1 for i in starts])
                row[label] = {"jump at segment starts": round(float(at.mean()), 4),
                              "jump elsewhere": round(float(rest.mean()), 4),
                              "segment starts": len(starts), "steadied_frames": out.report.get("steadied_frames")}
            P.LEAD_IN_FRAMES = 8
            res[clip.name] = row
            print(clip.name, json.dumps(row), flush=True)
    print(json.dumps(res, indent=1))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()

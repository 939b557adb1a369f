"""Segment boundaries and the face stage: how much the face stage's change to the picture jumps
where a resumable segment starts, with the lead-in (pipeline.LEAD_IN_FRAMES frames of the segment
before warm its landmark smoothing and face tracks; the bench turns it on, the shipped face stage
has `warm_start = False`) and without it (a cold start, as shipped). The bundled
Chaplin clip (two men facing the camera), stored losslessly with a keyframe every 24 frames and
restored by `Pipeline.run_video` with the face stage alone (`--no-restore --faces`, model
`default-alone`, the video detector `track`) in segments of one keyframe interval.

The score is the face stage's own change, r_t = output_t − input_t, and how much it changes from
one frame to the next, mean |r_t − r_(t−1)| over the frame (8-bit levels): at a segment's first
frame, and at every other frame.

    .venv/bin/python bench/face_segments.py --threads 2 --json docs/eval/face_segments.json
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import av
import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from oldfilm import pipeline as P  # noqa: E402
from oldfilm.restore.faces.stage import FaceStage  # noqa: E402
from oldfilm.options import (ColorizeOptions, EncodeOptions, FaceOptions, PipelineOptions,  # noqa: E402
                             RestoreOptions, RunOptions)
from oldfilm.video.probe import probe  # noqa: E402
from oldfilm.video.segments import plan_segments  # noqa: E402
from steady_segments import GOP, SEGMENT_SECONDS, gray_lossless  # noqa: E402

CLIP = REPO / "examples/chaplin_bw_mp3_10s.mp4"


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in c.decode(video=0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--frames", type=int, default=120, help="first N frames of the clip")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res: dict = {"clip": CLIP.name, "gop": GOP}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        src, n = gray_lossless(CLIP, t / "in.mkv", max_frames=args.frames)
        inputs = frames_of(src)
        plan = plan_segments(src, probe(src).time_base, SEGMENT_SECONDS)
        starts = [plan.timestamps.index(sg.start_pts) for sg in plan.segments[1:]]
        res.update(frames=n, segment_starts=len(starts))
        for label, lead in (("lead-in", P.LEAD_IN_FRAMES), ("cold start", 0)):
            P.LEAD_IN_FRAMES = lead
            FaceStage.warm_start = lead > 0       # the shipped face stage keeps its cold start
            opts = PipelineOptions(restore=RestoreOptions(enabled=False), faces=FaceOptions(enabled=True),
                                   colorize=ColorizeOptions(enabled=False),
                                   run=RunOptions(threads=args.threads, reuse_repeats=False),
                                   encode=EncodeOptions(codec="ffv1"))
            out = P.Pipeline(opts).run_video(src, t / f"out_{lead}.mkv", segment_seconds=SEGMENT_SECONDS)
            change = [o - i for o, i in zip(frames_of(out.output), inputs)]
            jumps = np.array([float(np.abs(b - a).mean()) for a, b in zip(change, change[1:])])   # i -> i+1
            at = np.array([jumps[i - 1] for i in starts])
            rest = np.delete(jumps, [i - 1 for i in starts])
            res[label] = {"jump at segment starts": round(float(at.mean()), 4),
                          "jump elsewhere": round(float(rest.mean()), 4), "faces": out.report.get("faces")}
            print(label, json.dumps(res[label]), flush=True)
        P.LEAD_IN_FRAMES, FaceStage.warm_start = 8, False
    print(json.dumps(res, indent=1))
    if args.json:
        args.json.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()

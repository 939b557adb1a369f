"""Frames per second of `oldfilm restore --scratches on --faces` with the light default networks.

Runs the real stages (RestoreStage with its scratch detector, then FaceStage) on a 640x480 frame
that holds one face and synthetic damage, best of N, fp32, ``--threads`` torch threads. The face
stage is timed over ``--face-frames`` consecutive frames after a reset (default ``--face-keyframes``,
48: one keyframe period of the video detector ``track``, whose CNN search runs on the first of
them), per frame.
Networks: the installed defaults (checkpoints/*.safetensors) when present, else the same light
configurations freshly built (``--from-configs``: timing only, the weights do not matter for speed
except through the scratch mask, which is then the synthetic damage mask).

    .venv/bin/python bench/bench_restore_defaults.py --repeats 5 --threads 2
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent


def frame_with_face(w: int = 640, h: int = 480) -> tuple[np.ndarray, np.ndarray]:
    from oldfilm.restore.degrade import DegradeRecipe, degrade

    face = cv2.imread(str(REPO / "tests" / "data" / "faces" / "grace_hopper.jpg"))[..., ::-1]
    bg = np.full((h, w, 3), 120, np.uint8)
    f = cv2.resize(face, (300, int(300 * face.shape[0] / face.shape[1])))
    fh = min(f.shape[0], h - 40)
    bg[40 : 40 + fh, 170 : 470] = f[:fh]
    # scratches and lines everywhere, but no blur/fading heavy enough to hide the face from dlib: the
    # timed run must include the face generator (main() says how many faces were restored)
    r = DegradeRecipe(p_gray=1.0, p_curves=1.0, p_lines=1.0, p_overlay=0.0, p_fade=0.0, p_contrast=0.0,
                      p_blur=0.0, p_lowres=0.0, p_vignette=0.0)
    degraded, mask = degrade(bg, np.random.default_rng(0), r)
    band = np.s_[40 : 40 + fh, 250:390]     # the face itself stays free of line scratches
    grey = cv2.cvtColor(cv2.cvtColor(bg, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    degraded[band] = cv2.GaussianBlur(grey, (3, 3), 0)[band]
    mask[band] = 0
    return degraded, mask


class FixedMask(torch.nn.Module):
    """Stands in for an untrained detector: logits of the synthetic damage mask."""

    multiple = 16

    def __init__(self, mask: np.ndarray, inner: torch.nn.Module):
        super().__init__()
        self.mask, self.inner = mask, inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inner(x)  # pay the detector's cost
        m = cv2.resize(self.mask, (x.shape[3], x.shape[2]), interpolation=cv2.INTER_NEAREST)
        return torch.from_numpy(np.where(m > 0, 5.0, -5.0).astype(np.float32))[None, None]


def build_stages(from_configs: bool, mask: np.ndarray, detector: str = "auto", keyframes: int = 48):
    from oldfilm.options import FaceOptions, RestoreOptions, RunOptions
    from oldfilm.restore.faces.stage import FaceStage, build_face_stage
    from oldfilm.restore.stage import RestoreStage, build_restore_stage

    if not from_configs:
        run = RunOptions(device="cpu")
        return (build_restore_stage(RestoreOptions(scratches="on"), run),
                build_face_stage(FaceOptions(enabled=True, detector=detector, keyframe_every=keyframes), run, is_video=True),
                "installed checkpoints")
    from oldfilm.restore.detector import build_detector
    from oldfilm.restore.faces.spade import build_face_generator
    from oldfilm.restore.faces.train import CONFIGS as FC
    from oldfilm.restore.mapping import build_mapping
    from oldfilm.restore.restorer import RestorerNets
    from oldfilm.restore.train_restorer import CONFIGS as RC
    from oldfilm.restore.train_scratch import CONFIGS as SC
    from oldfilm.restore.vae import build_vae

    c = RC["light"]
    enc, dec = build_vae(c["vae"]).eval(), build_vae(c["vae"]).eval()
    scratch = RestorerNets(enc, build_mapping(c["mapping_scratch"]).eval(), dec)
    quality = RestorerNets(enc, build_mapping(c["mapping_quality"]).eval(), dec)
    det = FixedMask(mask, build_detector(SC["light"]).eval())
    return (RestoreStage(quality, scratch, det, "on"),
            FaceStage(build_face_generator(FC["light"]).eval(), 256, FaceOptions(enabled=True)), "light configs, fresh weights")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--from-configs", action="store_true")
    ap.add_argument("--face-detector", default="auto", choices=("auto", "hog", "cnn", "track"),
                    help="video face detector (installed checkpoints only; auto = track)")
    ap.add_argument("--face-keyframes", type=int, default=48, help="track: frames from one CNN search to the next")
    ap.add_argument("--face-frames", type=int, default=None, help="frames timed after each reset (default: --face-keyframes)")
    a = ap.parse_args()
    a.face_frames = a.face_frames or a.face_keyframes
    torch.set_num_threads(a.threads)
    frame, mask = frame_with_face()
    restore, faces, what = build_stages(a.from_configs, mask, a.face_detector, a.face_keyframes)
    times = {"restore": [], "faces": []}
    for i in range(a.repeats + 1):
        t0 = time.perf_counter()
        out = restore([frame])
        t1 = time.perf_counter()
        # fresh weights restore to noise, in which dlib finds no face: time the face stage on the input
        faces.reset()
        for _ in range(a.face_frames):
            faces([frame] if a.from_configs else out)
        t2 = time.perf_counter()
        if i:  # first pass is warm-up
            times["restore"].append(t1 - t0)
            times["faces"].append((t2 - t1) / a.face_frames)
    r, f = min(times["restore"]), min(times["faces"])
    print(f"640x480, {what}, {a.threads} threads, best of {a.repeats}: restore+scratches {r*1000:.0f} ms, "
          f"faces ({faces.detector.kind}, {faces.report()['faces']} faces in {a.face_frames} frames) {f*1000:.0f} ms, "
          f"total {(r+f)*1000:.0f} ms = {1/(r+f):.2f} fps; "
          f"load average {open('/proc/loadavg').read().split()[0]}")


if __name__ == "__main__":
    main()

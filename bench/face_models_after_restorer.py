"""Face models side by side on the face stage's real input: held-out faces restored first.

    .venv/bin/python bench/face_models_after_restorer.py default runs/faces3/face-default.safetensors [--scale 64 384]

Each of the held-out UTKFace faces (5 % by file hash, the trainer's split) is made as
``oldfilm train faces --after-restorer default`` makes them, with the export's seed (1234): toned,
resized to a side in the frame drawn from ``--scale``, degraded by the face recipe, restored by the
installed global restorer, warped back to 256. Every model named (an installed face model such as
``default``, or a file) then scores on the same faces, in the central face region, as the cards do.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from oldfilm.restore.faces.stage import load_face_generator
from oldfilm.restore.faces.train import face_dirs, face_inputs, face_scores, load_face
from oldfilm.restore.training import data as D


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="installed face model names or face model files")
    ap.add_argument("--restorer", default="default")
    ap.add_argument("--scale", type=int, nargs=2, default=None, metavar=("MIN", "MAX"))
    ap.add_argument("--faces", type=int, default=32, help="held-out faces scored (the cards use 32)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="write the scores here (JSON)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    margs = argparse.Namespace(data=None, overlays=str(D.SHARED_DATA / "overlays"), recipe="photo",
                               after_restorer=a.restorer, face_scale=a.scale)
    images = D.ImageSet.from_folders(face_dirs(margs), 0.05)
    inputs = face_inputs(margs, torch.device("cpu"))
    rng = np.random.default_rng(1234)
    triples = [inputs(load_face(p), rng) for p in images.val[: a.faces]]
    results = {}
    for name in a.models:
        net, _ = load_face_generator(name)
        net.eval()
        s = face_scores(net, triples)
        results[name] = s
        print(f"{name}: degraded {s['psnr_in']:.2f} dB / {s['ssim_in']:.3f}, restorer {s['psnr_net_in']:.2f} / "
              f"{s['ssim_net_in']:.3f}, face model {s['psnr_out']:.2f} / {s['ssim_out']:.3f} "
              f"({s['psnr_out'] - s['psnr_net_in']:+.2f} dB over the restorer), classical {s['psnr_base']:.2f} / "
              f"{s['ssim_base']:.3f}; {s['n']} faces", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"restorer": a.restorer, "scale": list(inputs.scale), "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Milliseconds per face on CPU: detection + landmarks, the SPADE generators, the whole stage.

    .venv/bin/python bench/bench_faces.py --threads 2 --repeat 3

Best of ``--repeat`` runs (the shared box is noisy). The published-size generator runs with the
parity recipe weights from ../shared/reference when present (timing does not depend on the
values); the light config is oldfilm's default size (``LIGHT_CONFIG``) with random weights.
Prints a Markdown table for docs/bench-faces.md.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oldfilm.options import FaceOptions  # noqa: E402
from oldfilm.restore.faces.detect import FaceDetector, smallest_detectable_face  # noqa: E402
from oldfilm.restore.faces.landmarks import LandmarkModel  # noqa: E402
from oldfilm.restore.faces.spade import LIGHT_CONFIG, PUBLISHED_CONFIG, build_face_generator  # noqa: E402
from oldfilm.restore.faces.stage import FaceStage  # noqa: E402

FACES = REPO / "tests" / "data" / "faces"
REFERENCE = REPO.parent / "shared" / "reference"


def best_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times) * 1000


def frames() -> dict[str, np.ndarray]:
    """Fixture portraits as they are, and one pasted into 480p and 1080p frames."""
    out = {p.stem: np.asarray(Image.open(p).convert("RGB")) for p in sorted(FACES.glob("*.jpg"))}
    photo = Image.open(FACES / "obama.jpg").convert("RGB")
    # 480p gets the portrait at half size (face box ~75 px), 1080p at full size (~150 px).
    for name, (h, w), (fw, fh) in (("480p", (480, 854), (256, 320)), ("1080p", (1080, 1920), (512, 640))):
        face = np.asarray(photo.resize((fw, fh), Image.BILINEAR))
        canvas = np.full((h, w, 3), 90, np.uint8)
        canvas[h // 2 - fh // 2 : h // 2 + fh // 2, w // 2 - fw // 2 : w // 2 + fw // 2] = face
        out[name] = canvas
    return out


def published_generator() -> torch.nn.Module:
    net = build_face_generator(PUBLISHED_CONFIG)
    if (REFERENCE / "recipe.py").is_file():
        sys.path.insert(0, str(REFERENCE))
        from recipe import load_manifest, make_state_dict  # type: ignore[import-not-found]

        net.load_state_dict(make_state_dict(load_manifest("bopbtl-face-spade-256")))
    return net.eval()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-512", action="store_true", help="skip the slow 512 published-size run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"CPU: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} threads, best of {args.repeat}\n")

    det, lm5, lm68 = FaceDetector(min_face=24), LandmarkModel(5), LandmarkModel(68)
    print("| frame | size | detection scale | smallest face found (px) | faces | detect+5pt ms/face | detect+68pt ms/face |")
    print("|---|---|---|---|---|---|---|")
    for name, img in frames().items():
        boxes = det(img)
        n = max(1, len(boxes))
        plan = det.plan(*img.shape[:2])
        t5 = best_ms(lambda: [lm5(img, b) for b in det(img)], args.repeat) / n
        t68 = best_ms(lambda: [lm68(img, b) for b in det(img)], args.repeat) / n
        print(f"| {name} | {img.shape[1]}x{img.shape[0]} | {plan.scale:.2f} | "
              f"{smallest_detectable_face(plan)} | {len(boxes)} | {t5:.0f} | {t68:.0f} |")

    print("\n| generator | params | crop | batch | ms/face |")
    print("|---|---|---|---|---|")
    nets = {"published size (Setting_9 / FaceSR_512), recipe weights": published_generator(),
            "light default config (ngf 8, hidden 8)": build_face_generator(LIGHT_CONFIG).eval()}
    for label, net in nets.items():
        params = sum(p.numel() for p in net.parameters())
        sizes = [(256, 1), (256, 4)] + ([] if args.skip_512 else [(512, 1)])
        for crop, batch in sizes:
            x = torch.rand(batch, 3, crop, crop) * 2 - 1
            with torch.inference_mode():
                net(x[:1])                                  # warm-up
                ms = best_ms(lambda: net(x), args.repeat if crop == 256 else 1) / batch
            print(f"| {label} | {params / 1e6:.1f} M | {crop} | {batch} | {ms:.0f} |")

    print("\n| whole stage, light config, 256 crops | faces | ms/face |")
    print("|---|---|---|")
    stage = FaceStage(nets["light default config (ngf 8, hidden 8)"], 256, FaceOptions())
    for name in ("grace_hopper", "obama", "1080p"):
        img = frames()[name]

        def run() -> None:
            stage.reset()
            stage([img])

        ms = best_ms(run, args.repeat)
        print(f"| {name} | {stage.report()['faces']} | {ms / max(1, stage.report()['faces']):.0f} |")


if __name__ == "__main__":
    main()

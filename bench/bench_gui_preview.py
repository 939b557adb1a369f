"""How long `oldfilm gui`'s preview takes: one frame before/after through the real default
stages, for a photo and two video frames, whole frame scaled to 720 px and a 1:1 window, with
three settings. "first" includes building the stages (loading networks); "warm" is the best of
N repeats with the stages kept, as when the user moves the time slider or the 1:1 window; "new
settings" is a colour change, which builds the stages again (a Pipeline per settings).

    .venv/bin/python bench/bench_gui_preview.py --threads 2 --json docs/eval/gui_preview.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oldfilm.gui.preview import Previewer  # noqa: E402
from oldfilm.gui.settings import options_from_form  # noqa: E402

FIX = REPO.parent / "shared" / "fixtures"
FILES = [
    (FIX / "photos" / "lomiri_friends.jpg", 0.0),
    (FIX / "video" / "chaplin_bw_mp3_10s.mp4", 5.0),
    (FIX / "video" / "bbb_720p_aac51_5s.mp4", 2.5),
]
SETTINGS = {
    "restore": {"mode": "restore"},
    "restore, no faces": {"mode": "restore", "faces": False},
    "restore + colorize": {"mode": "restore", "colorize": True, "recolor": True},
    "colorize only": {"mode": "colorize", "recolor": True},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    import torch

    torch.set_num_threads(a.threads)
    rows = []
    for name, form in SETTINGS.items():
        pv = Previewer()
        options, _ = options_from_form(form)
        for path, t in FILES:
            for crop in (None, (0.5, 0.4)):
                t0 = time.perf_counter()
                r = pv.render(path, options, t, crop)
                first = time.perf_counter() - t0
                warm = []
                for _ in range(a.repeats):
                    t0 = time.perf_counter()
                    pv.render(path, options, t, crop)
                    warm.append(time.perf_counter() - t0)
                rows.append({"settings": name, "file": path.name, "size": list(r.size),
                             "shown": [r.before.shape[1], r.before.shape[0]], "crop": crop is not None,
                             "stages": r.stages, "first_s": round(first, 2), "warm_s": round(min(warm), 2)})
                print(f"{name:20s} {path.name:28s} {'1:1 ' if crop else 'fit '}{r.before.shape[1]}x{r.before.shape[0]}"
                      f"  first {first:5.2f} s  warm {min(warm):5.2f} s  {','.join(r.stages)}", flush=True)
        # A colour change: new settings, new stages (the page's saturation slider).
        changed, _ = options_from_form({**form, "saturation": 1.3} if form.get("colorize") or form["mode"] == "colorize"
                                       else {**form, "scratches": "on"})
        path, t = FILES[1]
        t0 = time.perf_counter()
        pv.render(path, changed, t)
        rows.append({"settings": name, "file": path.name, "new_settings_s": round(time.perf_counter() - t0, 2)})
        print(f"{name:20s} {path.name:28s} new settings {rows[-1]['new_settings_s']:.2f} s", flush=True)
    from oldfilm.video.still import frame_at

    path, t = FILES[1]
    seek = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        frame_at(path, t)
        seek.append(time.perf_counter() - t0)
    rows.append({"file": path.name, "frame_at_s": round(min(seek), 3)})
    print(f"frame_at {path.name} {t} s: {min(seek):.3f} s", flush=True)
    out = {"command": "bench/bench_gui_preview.py", "threads": a.threads, "load_average": os.getloadavg()[0],
           "rows": rows}
    if a.json:
        a.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""How long `oldfilm gui`'s preview takes: one frame before/after through the real default
stages, for a photo and two video frames, whole frame scaled to 720 px and a 1:1 window, with
four settings.

- "first": the first preview with these settings (builds the stages, loads networks);
- "new frame": best of N previews of a frame not seen yet (the time slider, the 1:1 window, a
  new file): restoration and colour both run (the kept restored frames are dropped first);
- "colour change": best of N previews after a saturation change, on a frame already shown: the
  restored frame is kept, so only the colorizer runs (plus building its new stage);
- "restore change": `scratches on` on a frame already shown: everything runs again.

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
        colour = form.get("colorize") or form["mode"] == "colorize"
        first = None
        for path, t in FILES:
            for crop in (None, (0.5, 0.4)):
                new, change, restore_change = [], [], None
                for k in range(a.repeats + 1):
                    pv._restored.clear()          # a frame not seen yet
                    t0 = time.perf_counter()
                    r = pv.render(path, options, t, crop)
                    (new.append if first is not None else lambda x: None)(time.perf_counter() - t0)
                    first = first if first is not None else time.perf_counter() - t0
                if colour:
                    for k in range(a.repeats):
                        changed, _ = options_from_form({**form, "saturation": 1.1 + 0.1 * k})
                        t0 = time.perf_counter()
                        pv.render(path, changed, t, crop)
                        change.append(time.perf_counter() - t0)
                if form["mode"] == "restore":
                    changed, _ = options_from_form({**form, "scratches": "on"})
                    t0 = time.perf_counter()
                    pv.render(path, changed, t, crop)
                    restore_change = time.perf_counter() - t0
                row = {"settings": name, "file": path.name, "size": list(r.size),
                       "shown": [r.before.shape[1], r.before.shape[0]], "crop": crop is not None, "stages": r.stages,
                       "new_frame_s": round(min(new), 2), "colour_change_s": round(min(change), 2) if change else None,
                       "restore_change_s": None if restore_change is None else round(restore_change, 2)}
                rows.append(row)
                print(f"{name:18s} {path.name:26s} {'1:1 ' if crop else 'fit '}{r.before.shape[1]}x{r.before.shape[0]}"
                      f"  new frame {row['new_frame_s']:5.2f} s  colour change {row['colour_change_s']}  "
                      f"restore change {row['restore_change_s']}  {','.join(r.stages)}", flush=True)
        rows.append({"settings": name, "first_s": round(first, 2)})
        print(f"{name:18s} first preview (building the stages) {first:.2f} s", flush=True)
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

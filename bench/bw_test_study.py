"""How well the black-and-white test (oldfilm.monochrome) tells toned from colour pictures.

    .venv/bin/python bench/bw_test_study.py [--photos DIR] [--out docs/eval/bw_detection.json]

Colour: every photo below ../shared/data/photos (3,034 colour photos; a few are nearly grey by
nature, such as grey clothes on a white sheet). Counted twice: all photos called
black-and-white, and those among them with visible colour (99th percentile of chroma above 25
codes), whose colours `--colorize` would replace.

Monochrome: every 5th photo made grey, sepia-toned, dye-tinted (any hue), split-toned, cyanotype
or yellowed, then JPEG q 60-95; every 15th made grey or sepia with independent noise of sigma
3-12 codes per channel (a print scanned in colour), JPEG q 85; and the real black-and-white
fixtures (10 frames of each b/w clip, as `oldfilm info` samples them, and the two old photos).
All counted as errors when called colour.

Rules compared: the previous one-hue test (99th percentile off the dominant hue axis, every
other pixel at full size, < 4 codes) and the current one (both scores on a 128 px thumbnail).
"""
from __future__ import annotations

import argparse
import colorsys
import glob
import io
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from oldfilm.monochrome import monochrome_scores  # noqa: E402
from oldfilm.video.info import sample_frames  # noqa: E402
from oldfilm.video.probe import probe  # noqa: E402

KINDS = ["gray", "sepia", "tint", "split", "cyan", "yellowed"]


def previous_score(rgb: np.ndarray) -> float:
    """The test before 2026-12-04: off-axis chroma, 99th percentile, every other pixel."""
    x = rgb[::2, ::2].astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u, v = 0.564 * (b - y), 0.713 * (r - y)
    mu, mv = float(u.mean()), float(v.mean())
    norm = float(np.hypot(mu, mv))
    off = np.abs(u * mv - v * mu) / norm if norm > 1.0 else np.hypot(u, v)
    return float(np.percentile(off, 99))


def chroma99(rgb: np.ndarray) -> float:
    x = rgb.astype(np.float32)
    y = 0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]
    return float(np.percentile(np.hypot(0.564 * (x[..., 2] - y), 0.713 * (x[..., 0] - y)), 99))


def jpeg(rgb: np.ndarray, q: float) -> np.ndarray:
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, "JPEG", quality=int(q))
    return np.asarray(Image.open(b).convert("RGB"))


def tone(rgb: np.ndarray, rng: np.random.Generator, kind: str) -> np.ndarray:
    """uint8 RGB -> uint8 RGB: the photo's BT.601 luma, toned as `kind` at a random strength."""
    x = rgb.astype(np.float32)
    t = ((0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]) / 255.0)[..., None]
    a = rng.uniform(0.3, 1.0)
    if kind == "gray":
        out = t * np.ones(3)
    elif kind == "sepia":
        col = (1 - t) * np.array([1.0, 0.78, 0.55]) + t * np.array([1.0, 0.96, 0.85])
        out = t * ((1 - a) + a * col)
    elif kind == "tint":
        c = np.array(colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(0.2, 0.7), 1.0))
        out = t * c + (1 - c) * rng.uniform(0, 0.3) * t
    elif kind == "split":
        col = (1 - t) * np.array([0.85, 0.95, 1.15]) + t * np.array([1.1, 1.0, 0.82])
        out = t * ((1 - a) + a * col)
    elif kind == "cyan":
        out = t * ((1 - a) + a * np.array([0.55, 0.8, 1.0])) + a * 0.08 * (1 - t)
    else:  # yellowed
        out = t * 0.9 + 0.1 * np.array([1.0, 0.9, 0.5]) * rng.uniform(0.3, 1)
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)


def record(kind: str, name: str, rgb: np.ndarray) -> dict:
    s = monochrome_scores(rgb)
    return {"kind": kind, "name": name, "previous": previous_score(rgb), "hue_axis": s.hue_axis,
            "tone_curve": s.tone_curve, "monochrome": s.monochrome, "chroma99": chroma99(rgb)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--photos", default=str(ROOT.parent / "shared/data/photos"))
    ap.add_argument("--fixtures", default=str(ROOT.parent / "shared/fixtures"))
    ap.add_argument("--out", default=str(ROOT / "docs/eval/bw_detection.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    rows: list[dict] = []
    files = sorted(glob.glob(f"{args.photos}/*/*"))
    for i, f in enumerate(files):
        rgb = np.asarray(Image.open(f).convert("RGB"))
        name = str(Path(f).relative_to(args.photos))
        rows.append(record("colour", name, rgb))
        if i % 5 == 0:
            kind = KINDS[(i // 5) % len(KINDS)]
            rows.append(record(kind, name, jpeg(tone(rgb, rng, kind), rng.uniform(60, 95))))
        if i % 15 == 7:
            t = tone(rgb, rng, ["gray", "sepia"][i % 2]).astype(np.float32)
            t += rng.normal(0, rng.uniform(3, 12), rgb.shape)
            rows.append(record("noisy scan", name, jpeg(np.clip(t, 0, 255).astype(np.uint8), 85)))
    for clip in ("chaplin_bw_mp3_10s.mp4", "example3_mp3_2s.mp4"):
        for fr in sample_frames(probe(Path(args.fixtures) / "video" / clip)):
            rows.append(record("real b/w", clip, fr))
    for f in sorted(glob.glob(f"{args.fixtures}/old_photos/*")):
        rows.append(record("real b/w", Path(f).name, np.asarray(Image.open(f).convert("RGB"))))

    summary: dict = {}
    for rule, bw in (("previous", lambda r: r["previous"] < 4.0), ("current", lambda r: r["monochrome"])):
        colour = [r for r in rows if r["kind"] == "colour"]
        called = [r for r in colour if bw(r)]
        summary[rule] = {
            "colour photos called b/w": len(called),
            "  of which visibly coloured (chroma99 > 25)": sum(r["chroma99"] > 25 for r in called),
            **{f"{k} called colour": sum(not bw(r) for r in rows if r["kind"] == k)
               for k in [*KINDS, "noisy scan", "real b/w"]},
        }
    counts = {k: sum(r["kind"] == k for r in rows) for k in ["colour", *KINDS, "noisy scan", "real b/w"]}
    print(f"{'':44s} {'previous':>9s} {'current':>9s}   of")
    for key in summary["current"]:
        k = key.replace(" called colour", "").replace(" called b/w", "").strip()
        n = counts.get(k, counts["colour"])
        print(f"{key:44s} {summary['previous'][key]:9d} {summary['current'][key]:9d}   {n}")
    # Tried: also calling a picture monochrome when its tone curve alone is very low, whatever its
    # hues (split toning has two hues on one curve). Trades split-toned misses for colour photos.
    sweep = {}
    for low in (1.5, 2.0, 2.5, 3.0):
        def bw_or_low(r: dict, low: float = low) -> bool:
            return r["monochrome"] or r["tone_curve"] < low
        called = [r for r in rows if r["kind"] == "colour" and bw_or_low(r)]
        sweep[str(low)] = {"colour photos called b/w": len(called),
                           "visibly coloured": sum(r["chroma99"] > 25 for r in called),
                           **{f"{k} called colour": sum(not bw_or_low(r) for r in rows if r["kind"] == k)
                              for k in ("split", "tint", "noisy scan")}}
        print(f"or tone_curve < {low}: {sweep[str(low)]}")
    # Rows kept: only the pictures either rule gets wrong (the full set is 3,800 rows).
    def wrong_by(r: dict, called_bw: bool) -> bool:
        return called_bw == (r["kind"] == "colour")

    wrong = [r for r in rows if wrong_by(r, r["previous"] < 4.0) or wrong_by(r, r["monochrome"])]
    keys = ("kind", "name", "previous", "hue_axis", "tone_curve", "chroma99")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "command": "bench/bw_test_study.py", "counts": counts, "summary": summary,
        "tried_or_tone_curve_below": sweep,
        "rows_either_rule_gets_wrong": [[round(r[k], 2) if isinstance(r[k], float) else r[k] for k in keys]
                                        for r in wrong], "row_keys": keys,
    }, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()

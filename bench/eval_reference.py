"""Reference colours (`--reference`, oldfilm/colorize/reference.py): how much a colour reference helps.

Every case colorizes a gray target and scores it against the target's true colours (mean
CIEDE2000, lower is better; colourfulness as a share of the truth's, CF/GT). Methods:

- ``net``: the default colorizer alone (render factor 21), as without `--reference`;
- ``copy``: the reference's colours at the same place in the frame (its chroma stretched onto the
  target: right only where nothing moved);
- ``global``: the colorizer's a*, b* shifted and scaled to the reference's mean and spread
  (a colour-transfer baseline in the manner of Reinhard et al. 2001);
- ``ours``: `--reference` as shipped (feature matching with the lightness term and the reference
  selection, the background gate with the bundled background photos);
- ``ours, no gate``: the same without the background gate (every frame takes the references'
  colours in full); ``ours, no lightness``: without the lightness term.

Cases:

1. ``shift``, ``zoom``, ``flip``: held-out photos of the colorizer's split (its trainers never saw
   them). The reference is another view of the same photo: the top-left 75 % against the
   bottom-right 75 % (a camera move); the whole photo against its middle 60 % enlarged (a zoom); the
   photo mirrored (everything moved).
2. ``unrelated``: a different held-out photo as the reference. Nothing in it is right for the
   target; a good method falls back to the colorizer's own colours.
3. ``exemplar``: the Deep Exemplar reference sets (data/photos/dexemplar_refs): each photo of a
   set against the others of its set as references (same kind of scene, other people and
   clothes). The colorizer trained on most of these photos, so its ``net`` figure is flattering.
4. ``keyframes``: the colour fixture clips, split into shots at cuts (video/deflicker.is_cut), as
   one reel. The first frame of each shot, in colour, is its keyframe. Every other frame of the
   shot is colorized with its own keyframe (``own``), with every shot's keyframe pooled (``pooled``,
   as `--reference` takes several), and with the other shots' keyframes only (``others``: a shot
   nobody coloured; the gate should fall back to the colorizer). Every third frame is scored, and
   the flicker index F_ab (metrics.md) of each shot's frames is reported beside the truth's.

The gate's bounds, the lightness weight and the selection weight were chosen on the first 30
(20 for the selection) held-out photos, the exemplar sets and the clips (bench/reference_tuning.py);
the photo figures here are on all 157.

    .venv/bin/python bench/eval_reference.py --threads 2 --json docs/eval/reference_colours.json --sheet docs/reference-colours.jpg
"""
from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from oldfilm.colorize import reference as R  # noqa: E402
from oldfilm.colorize.adjust import cielab, cielab_to_rgb8  # noqa: E402
from oldfilm.colorize.render import finish, model_input, model_rgb, run_network  # noqa: E402
from oldfilm.colorize.stage import background_photos  # noqa: E402
from oldfilm.compare import read_rgb8  # noqa: E402
from oldfilm.contact_sheet import contact_sheet  # noqa: E402
from oldfilm.evaluate import load_references  # noqa: E402
from oldfilm.metrics.color import colourfulness, mean_ciede2000  # noqa: E402
from oldfilm.metrics.temporal import flicker_index  # noqa: E402
from oldfilm.video import deflicker as dfl  # noqa: E402
from oldfilm.weights import load_model  # noqa: E402

DATA = REPO.parent / "shared/data/photos"
CLIPS = sorted((REPO.parent / "shared/fixtures/video").glob("*.mp4"))
RF = 21


def gray(rgb: np.ndarray) -> np.ndarray:
    return R.gray_rgb(rgb)


class Colorizer:
    """The default colorizer, and references encoded for it with the bundled background."""

    def __init__(self) -> None:
        self.net = next(iter(load_model("colorize", "default").values())).eval()
        self.background = background_photos()
        # the background's keys do not depend on the references: encode them once
        self.bank = R.encode_references(self.net, self.background[:1], RF, background=self.background).background

    def encode(self, images: list[np.ndarray]) -> R.References:
        return dataclasses.replace(R.encode_references(self.net, images, RF), background=self.bank)

    def ours(self, target: np.ndarray, refs: R.References) -> tuple[np.ndarray, float]:
        out, w = R.colorize_frames_with_references([gray(target)], self.net, refs)
        return out[0], w[0]


def outputs(col: Colorizer, target: np.ndarray, refs: R.References, ref_images: list[np.ndarray],
            weights: dict[str, list] | None = None) -> dict[str, np.ndarray]:
    """Every method's colorization of ``target`` (a colour image, colorized from its gray)."""
    g = gray(target)
    square = model_rgb(run_network(col.net, model_input(g, RF)[None])[0])
    out = {"net": finish(g, square)[1]}
    size = (square.shape[1], square.shape[0])
    out["copy"] = finish(g, cv2.resize(ref_images[0], size, interpolation=cv2.INTER_AREA))[1]
    lab = cielab(square)
    ref_ab = np.concatenate([cielab(r)[..., 1:].reshape(-1, 2) for r in ref_images])
    ab = lab[..., 1:].reshape(-1, 2)
    lab[..., 1:] = ((ab - ab.mean(0)) / (ab.std(0) + 1e-3) * ref_ab.std(0) + ref_ab.mean(0)).reshape(lab[..., 1:].shape)
    out["global"] = finish(g, cielab_to_rgb8(lab))[1]
    out["ours"], w = col.ours(target, refs)
    if weights is not None:
        weights["ours"].append(w)
    out["ours, no gate"], _ = col.ours(target, dataclasses.replace(refs, background=None))
    out["ours, no lightness"], _ = col.ours(target, without_lightness(refs))
    return out


def without_lightness(refs: R.References) -> R.References:
    """``refs`` with the lightness term off: its three key channels zeroed (LIGHTNESS_WEIGHT 0)."""
    def cut(k: torch.Tensor | None) -> torch.Tensor | None:
        if k is None:
            return None
        k = k.clone()
        k[-3:] = 0
        return k
    return dataclasses.replace(refs, keys=cut(refs.keys), background=cut(refs.background))


def score(rows: dict[str, list], out: dict[str, np.ndarray], truth: np.ndarray) -> None:
    cf = max(colourfulness(truth), 1e-6)
    for k, o in out.items():
        rows[k].append((mean_ciede2000(o, truth), colourfulness(o) / cf))


def summary(rows: dict[str, list], weights: dict[str, list] | None = None) -> dict[str, dict[str, float]]:
    res = {k: {"de00": round(float(np.mean([r[0] for r in v])), 3), "cf_gt": round(float(np.mean([r[1] for r in v])), 3),
               "n": len(v)} for k, v in rows.items()}
    for k, v in (weights or {}).items():
        res[k]["weight_mean"] = round(float(np.mean(v)), 3)
        res[k]["weight_full"] = round(float(np.mean(np.asarray(v) >= 1)), 3)
        res[k]["weight_zero"] = round(float(np.mean(np.asarray(v) <= 0)), 3)
    return res


def views(img: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(reference, target) views of one photo."""
    h, w = img.shape[:2]
    if kind == "shift":
        return img[: int(h * .75), : int(w * .75)], img[h - int(h * .75):, w - int(w * .75):]
    if kind == "zoom":
        mid = img[int(h * .2): int(h * .8), int(w * .2): int(w * .8)]
        return img, cv2.resize(mid, (w, h), interpolation=cv2.INTER_CUBIC)
    if kind == "flip":
        return np.ascontiguousarray(img[:, ::-1]), img
    raise ValueError(kind)


def photo_cases(col: Colorizer, limit: int | None, sheet: list) -> dict:
    photos = load_references([DATA], holdout=5.0, holdout_task="colorize", max_side=384, limit=limit)
    res = {}
    for kind in ("shift", "zoom", "flip", "unrelated"):
        rows: dict[str, list] = collections.defaultdict(list)
        weights: dict[str, list] = collections.defaultdict(list)
        for i, (_, img) in enumerate(photos):
            if kind == "unrelated":
                ref, tgt = photos[(i + len(photos) // 2) % len(photos)][1], img
            else:
                ref, tgt = views(img, kind)
            out = outputs(col, tgt, col.encode([ref]), [ref], weights)
            score(rows, out, tgt)
            if kind in ("shift", "zoom", "unrelated") and i in (3, 77, 120):
                sheet.append((kind, [ref, gray(tgt), out["net"], out["ours"], tgt]))
        res[kind] = summary(rows, weights)
        print(kind, len(photos), json.dumps({k: v["de00"] for k, v in res[kind].items()}),
              "weight", res[kind]["ours"]["weight_mean"], flush=True)
    return res


def exemplar_case(col: Colorizer) -> dict:
    sets: dict[str, list[Path]] = collections.defaultdict(list)
    for f in sorted((DATA / "dexemplar_refs").glob("v*.jpg")):
        sets[f.name[:3]].append(f)
    rows: dict[str, list] = collections.defaultdict(list)
    weights: dict[str, list] = collections.defaultdict(list)
    for files in sets.values():
        if len(files) < 2:
            continue
        imgs = [read_rgb8(f) for f in files]
        for i, tgt in enumerate(imgs):
            others = imgs[:i] + imgs[i + 1:]
            score(rows, outputs(col, tgt, col.encode(others), others, weights), tgt)
    res = summary(rows, weights)
    print("exemplar", json.dumps({k: v["de00"] for k, v in res.items()}), "weight", res["ours"]["weight_mean"], flush=True)
    return res


def clip_frames(path: Path, max_side: int = 640) -> list[np.ndarray]:
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            a = f.to_ndarray(format="rgb24")
            s = max_side / max(a.shape[:2])
            if s < 1:
                a = cv2.resize(a, (round(a.shape[1] * s) // 2 * 2, round(a.shape[0] * s) // 2 * 2),
                               interpolation=cv2.INTER_AREA)
            out.append(a)
    return out


def reel_shots() -> list[tuple[str, list[np.ndarray]]]:
    """(name, frames) of every shot of at least 6 frames in the colour fixture clips."""
    shots = []
    for path in CLIPS:
        frames = clip_frames(path)
        if np.mean([R.chroma_level(f) for f in frames[::10]]) < R.MIN_CHROMA:
            continue      # the black-and-white clip has no truth to score against
        thumbs = [dfl.luma_thumbnail(f) for f in frames]
        cuts = np.array([False] + [dfl.is_cut(a, b) for a, b in zip(thumbs, thumbs[1:])])
        shots += [(f"{path.stem[:12]} {s}-{e}", frames[s:e]) for s, e in dfl.shot_bounds(cuts) if e - s >= 6]
    return shots


def keyframe_case(col: Colorizer, sheet: list) -> dict:
    shots = reel_shots()
    keys = [frames[0] for _, frames in shots]
    pooled = col.encode(keys)
    rows: dict[str, list] = collections.defaultdict(list)
    weights: dict[str, list] = collections.defaultdict(list)
    flick: dict[str, list] = collections.defaultdict(list)
    per_shot = {}
    for i, (name, frames) in enumerate(shots):
        variants = {"own": (col.encode([keys[i]]), [keys[i]]), "pooled": (pooled, keys)}
        others = keys[:i] + keys[i + 1:]
        if others:
            variants["others"] = (col.encode(others), others)
        seq: dict[str, list] = collections.defaultdict(list)
        shot_rows: dict[str, list] = collections.defaultdict(list)
        for t in range(1, len(frames)):
            tgt = frames[t]
            o: dict[str, np.ndarray] = {}
            for vname, (refs, imgs) in variants.items():
                w: dict[str, list] = collections.defaultdict(list)
                vo = outputs(col, tgt, refs, imgs, w)
                weights[f"{vname}: ours"] += w["ours"]
                if vname == "own":
                    o.update({k: vo[k] for k in ("net", "copy")})
                o.update({f"{vname}: {k}": v for k, v in vo.items() if k.startswith("ours")})
            o["truth"] = tgt
            for k, v in o.items():
                seq[k].append(v)
            if t % 3 == 0:
                score(rows, {k: v for k, v in o.items() if k != "truth"}, tgt)
                score(shot_rows, {k: v for k, v in o.items() if k != "truth"}, tgt)
        for k, v in seq.items():
            flick[k].append(flicker_index(v).ab)
        per_shot[name] = {k: v["de00"] for k, v in summary(shot_rows).items()}
        print(name, len(frames), json.dumps(per_shot[name]), flush=True)
        if len(frames) > 20:
            t = len(frames) * 3 // 4
            sheet.append((f"shot {name}", [keys[i], gray(frames[t]), seq["net"][t - 1], seq["pooled: ours"][t - 1],
                                          frames[t]]))
    res = summary(rows, weights)
    for k, v in flick.items():
        res.setdefault(k, {})["f_ab"] = round(float(np.mean(v)), 4)
    res["shots"] = per_shot
    print("keyframes", json.dumps({k: (v.get("de00"), v.get("f_ab")) for k, v in res.items() if k != "shots"}), flush=True)
    return res


def timing(col: Colorizer) -> dict:
    """Seconds per 640x480 frame: the colorizer alone, and with 1 and 16 references."""
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), np.uint8), (0, 0), 5)
    from oldfilm.colorize.render import colorize_frames

    out = {}
    for name, fn in (
        ("plain", lambda: colorize_frames([frame] * 4, col.net, RF)),
        ("1 reference", lambda refs=col.encode([frame]): R.colorize_frames_with_references([frame] * 4, col.net, refs)),
        ("16 references", lambda refs=col.encode([frame] * 16): R.colorize_frames_with_references([frame] * 4, col.net, refs)),
    ):
        fn()
        t = time.perf_counter()
        for _ in range(3):
            fn()
        out[name] = round((time.perf_counter() - t) / 12, 4)
    print("seconds per frame", out, flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="held-out photos to use (default all)")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--sheet", type=Path)
    ap.add_argument("--skip", nargs="*", default=[], choices=("photos", "exemplar", "keyframes", "timing"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    col = Colorizer()
    report: dict = {"render_factor": RF, "temperature": R.TEMPERATURE, "feature_layer": R.FEATURE_LAYER,
                    "lightness_weight": R.LIGHTNESS_WEIGHT, "share_bounds": [R.SHARE_LOW, R.SHARE_HIGH],
                    "background_photos": len(col.background), "background_stride": R.BACKGROUND_STRIDE}
    sheet: list = []
    t0 = time.time()
    if "photos" not in a.skip:
        report["photos"] = photo_cases(col, a.limit, sheet)
    if "exemplar" not in a.skip:
        report["exemplar"] = exemplar_case(col)
    if "keyframes" not in a.skip:
        report["keyframes"] = keyframe_case(col, sheet)
    if "timing" not in a.skip:
        report["seconds_per_frame_640x480"] = timing(col)
    report["wall_s"] = round(time.time() - t0, 1)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(report, indent=1) + "\n")
    if a.sheet and sheet:
        img = contact_sheet([r for _, r in sheet], ["reference", "input (gray)", "colorizer alone", "with --reference", "truth"],
                            [n for n, _ in sheet], cell=176)
        cv2.imwrite(str(a.sheet), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])


if __name__ == "__main__":
    main()

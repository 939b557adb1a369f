"""`oldfilm eval`: measure a restoration or colorization pipeline on clean references.

Photos: each clean reference is degraded with the restoration degradation model (task
``restore``) or only made grayscale (task ``colorize``); the pipeline runs on that input and its
output is scored against the reference, next to baselines:

- colorize: the grayscale input itself, and a constant sepia tint of it;
- restore: the degraded input, and OpenCV fastNlMeans denoising + Telea inpainting on a
  thresholded damage mask ("classical").

A clip (or ``--pan N``: a synthetic pan over the first photo) also gets the temporal metrics of
the output against the input: CDC, warp error and the flicker index.

Library use (training helpers, model cards)::

    report = evaluate_colorize("val/", network_or_stage, render_factor=35)
    report = evaluate_restore("val/", stage, recipe="photo", seed=0)

Each returns a JSON-ready dict: ``methods`` (name -> mean metrics), ``per_image`` rows, and
``temporal`` for clips. ``print_table(report)`` prints it; ``write_outputs`` writes the JSON
report and the contact sheet.
"""
from __future__ import annotations

import argparse
import sys
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from . import metrics
from .contact_sheet import contact_sheet
from .errors import BadInputError, OldfilmError, OutputError
from .stage import Stage

Image = np.ndarray                     # uint8 RGB HxWx3
Method = Callable[[list[Image]], list[Image]]
# A degrader maps (clean, rng) to (degraded, mask) or (target, degraded, mask); the target is the
# clean image with any toning (grayscale/sepia) the degradation applied, since toning is not damage.
Degrader = Callable[[Image, np.random.Generator], tuple]

SEPIA_AB = (6.0, 20.0)                 # CIELAB a*, b* of our constant sepia tint (warm brown)
SHEET_ROWS = 8


# ---------------------------------------------------------------- inputs
def _resize_max(rgb: Image, max_side: int | None) -> Image:
    if not max_side or max(rgb.shape[:2]) <= max_side:
        return rgb
    s = max_side / max(rgb.shape[:2])
    size = (max(16, round(rgb.shape[1] * s)), max(16, round(rgb.shape[0] * s)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def is_held_out_for(task: str, path: Path, pct: float) -> bool:
    """Whether the training commands of ``task`` ("colorize" or "restore") hold ``path`` out for
    validation at ``pct`` percent. Both rules read the file's content hash, but they pick different
    photos: the colorizer's trainer (``oldfilm.colorize.data.is_validation``) and the restoration
    trainers, restorer, scratch detector and faces (``oldfilm.restore.training.data.is_held_out``),
    so each task is scored on its own trainers' split."""
    if task == "restore":
        from .restore.training.data import is_held_out

        return is_held_out(path, pct / 100)
    if task != "colorize":
        raise ValueError(f"holdout task {task!r}: expected colorize or restore")
    from .colorize.data import file_digest, is_validation

    return is_validation(file_digest(path), pct)


def load_references(paths: Sequence[str | Path], *, max_side: int | None = 512,
                    limit: int | None = None, holdout: float | None = None,
                    holdout_task: str = "colorize") -> list[tuple[str, Image]]:
    """(name, uint8 RGB) for every photo under ``paths`` (files or folders, recursive, sorted),
    scaled down so the long side is at most ``max_side``. ``holdout`` (percent) keeps only the
    photos that the training commands of ``holdout_task`` hold out for validation at that
    percentage (:func:`is_held_out_for`), so figures are on images never trained on."""
    from .compare import read_rgb8
    from .images import IMAGE_EXTENSIONS

    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS and f.is_file()
                            and not any(part.startswith(".") for part in f.relative_to(p).parts))
        elif p.is_file():
            files.append(p)
        else:
            raise BadInputError(p, "no such file or folder")
    if holdout is not None:
        files = [f for f in files if is_held_out_for(holdout_task, f, holdout)]
    if not files:
        raise OldfilmError(f"no reference photos found in {', '.join(map(str, paths))}"
                           + (f" (held-out {holdout}% split of the {holdout_task} trainers)" if holdout is not None else ""))
    files = files[:limit] if limit else files
    return [(f.name, _resize_max(read_rgb8(f), max_side)) for f in files]


def load_clip(path: str | Path, *, max_side: int | None = 320, max_frames: int = 48) -> list[Image]:
    """The first ``max_frames`` frames of a video, uint8 RGB, long side at most ``max_side``."""
    from .video.decode import timed_frames

    frames = []
    for _, rgb in timed_frames(Path(path)):
        frames.append(_resize_max(rgb, max_side))
        if len(frames) >= max_frames:
            break
    if len(frames) < 2:
        raise BadInputError(path, f"has {len(frames)} frame(s); a clip evaluation needs at least 2")
    return frames


def pan_clip(rgb: Image, n_frames: int = 24, step: int = 4, crop: float = 0.6) -> list[Image]:
    """A synthetic left-to-right pan over a still photo: ``n_frames`` crops ``crop`` of its size,
    moving ``step`` px per frame (the motion is exact, so flicker comes only from the method)."""
    h, w = rgb.shape[:2]
    ch, cw = max(16, int(h * crop)), max(16, int(w * crop))
    step = max(0, min(step, (w - cw) // max(1, n_frames - 1)))
    y = (h - ch) // 2
    return [np.ascontiguousarray(rgb[y:y + ch, t * step:t * step + cw]) for t in range(n_frames)]


# ---------------------------------------------------------------- inputs for each task, baselines
def grayscale(rgb: Image) -> Image:
    """Rec.601 luma (what a black-and-white print shows), replicated to uint8 RGB HxWx3."""
    return np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)


def sepia_tint(rgb: Image, ab: tuple[float, float] = SEPIA_AB) -> Image:
    """The baseline 'colorizer': the image's CIELAB lightness with one constant warm a*/b*."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    lab[..., 1], lab[..., 2] = ab
    out = cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)


def noise_sigma(rgb: Image) -> float:
    """Gaussian noise sigma of an image in gray levels, Immerkaer's (1996) Laplacian estimate."""
    g = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float64)
    resp = cv2.filter2D(g, -1, kernel)[1:-1, 1:-1]
    return float(math.sqrt(math.pi / 2) * np.abs(resp).mean() / 6) if resp.size else 0.0


def damage_threshold_mask(rgb: Image, threshold: int = 80) -> np.ndarray:
    """Classical damage guess, uint8 HxW in {0, 255}: thin bright or dark marks, i.e. pixels whose
    white or black top-hat (5x5 ellipse) exceeds ``threshold`` gray levels. It finds scratches,
    hairs and dust; broad stains are beyond it."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    hat = np.maximum(cv2.morphologyEx(gray, cv2.MORPH_TOPHAT, k), cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, k))
    return (hat > threshold).astype(np.uint8) * 255


def classical_restore_with_mask(rgb: Image) -> tuple[Image, np.ndarray]:
    """The restoration baseline: OpenCV fastNlMeans denoising with h = the estimated noise sigma
    (clipped to 3..30), then Telea inpainting (radius 3) of ``damage_threshold_mask`` of the
    denoised image, grown by one pixel. Returns (restored, the undilated mask)."""
    h = float(np.clip(noise_sigma(rgb), 3.0, 30.0))
    den = cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(rgb), None, h, h, 7, 21)
    mask = damage_threshold_mask(den)
    return cv2.inpaint(den, cv2.dilate(mask, np.ones((3, 3), np.uint8)), 3, cv2.INPAINT_TELEA), mask


def classical_restore(rgb: Image) -> Image:
    """``classical_restore_with_mask`` without the mask: uint8 RGB in, uint8 RGB out."""
    return classical_restore_with_mask(rgb)[0]


def _per_image(fn: Callable[[Image], Image]) -> Method:
    return lambda frames: [fn(f) for f in frames]


# ---------------------------------------------------------------- running what is measured
def as_method(model: Any, *, render_factor: int | None = None, independent: bool = True) -> Method:
    """A batch function (list of uint8 RGB -> list) from a Stage, a colorizer network
    (``torch.nn.Module``, run through ``colorize_array`` at ``render_factor``, default 35) or a
    plain function of one image. A Stage is reset before every photo when ``independent`` (so no
    temporal state crosses unrelated photos), and once now for a clip."""
    if isinstance(model, Stage):
        model.reset()

        def run_stage(frames: list[Image]) -> list[Image]:
            if not independent:
                return list(model(frames))
            out = []
            for f in frames:
                model.reset()
                out += model([f])
            return out
        return run_stage
    try:
        import torch

        if isinstance(model, torch.nn.Module):
            from .colorize import colorize_array
            from .colorize.published import DEOLDIFY_PHOTO_RENDER_FACTOR

            rf = render_factor or DEOLDIFY_PHOTO_RENDER_FACTOR
            return _per_image(lambda f: colorize_array(f, model, rf))
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    if callable(model):
        return _per_image(model)
    raise TypeError(f"cannot evaluate a {type(model).__name__}: expected a Stage, an nn.Module or a function")


def build_pipeline_stage(task: str, *, model: str = "default", faces: bool | None = None,
                         scratches: str = "auto", render_factor: int | None = None, device: str = "auto",
                         is_video: bool = False, restore: bool = True, steady: float | None = None,
                         strength: float = 1.0) -> Stage:
    """The installed pipeline for ``task`` (restore: restore + faces; colorize: colorize only), as
    the CLI would run it (``restore=False``: the face stage alone, as ``--no-restore --faces``).
    Raises NoWeightsError (one line) when a checkpoint is missing."""
    from .options import ColorizeOptions, FaceOptions, PipelineOptions, RestoreOptions, RunOptions
    from .pipeline import Pipeline

    if task == "colorize":
        opts = PipelineOptions(restore=RestoreOptions(enabled=False), faces=FaceOptions(enabled=False),
                               colorize=ColorizeOptions(enabled=True, model=model, render_factor=render_factor,
                                                        steady=steady),
                               run=RunOptions(device=device))
    else:
        opts = PipelineOptions(restore=RestoreOptions(enabled=restore, model=model, scratches=scratches,  # type: ignore[arg-type]
                                                      strength=strength),
                               faces=FaceOptions(enabled=faces), run=RunOptions(device=device))
    return Pipeline(opts).chain(is_video)


def _run_timed(method: Method, frames: list[Image], batch: int = 4) -> tuple[list[Image], float]:
    t0 = time.perf_counter()
    out: list[Image] = []
    for i in range(0, len(frames), batch):
        out += method(frames[i:i + batch])
    for a, b in zip(out, frames):
        if a.shape != b.shape or a.dtype != np.uint8:
            raise OldfilmError(f"the evaluated method returned {a.dtype} {a.shape} for a {b.shape} input")
    return out, time.perf_counter() - t0


# ---------------------------------------------------------------- scoring
def mask_scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 and IoU of a predicted damage mask (nonzero = damage) against the
    synthetic one; 1.0 each when both are empty."""
    p, t = pred > 0, true > 0
    tp, fp, fn = float((p & t).sum()), float((p & ~t).sum()), float((~p & t).sum())
    if tp + fp + fn == 0:
        return {"precision": 1.0, "recall": 1.0, "f1": 1.0, "iou": 1.0}
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": prec, "recall": rec, "f1": 2 * tp / (2 * tp + fp + fn), "iou": tp / (tp + fp + fn)}


Box = tuple[int, int, int, int]              # x0, y0, x1, y1 (exclusive) in pixels


def detect_faces_hog(rgb: Image) -> list[Box]:
    """Frontal faces in a uint8 RGB image: dlib's HOG detector (one upsampling), each box grown
    by 15 % per side and clipped to the image. Used to score face regions of the clean reference."""
    h, w = rgb.shape[:2]
    boxes = []
    for r in _hog_detector()(np.ascontiguousarray(rgb), 1):
        m = int(0.15 * max(r.width(), r.height()))
        boxes.append((max(0, r.left() - m), max(0, r.top() - m), min(w, r.right() + m), min(h, r.bottom() + m)))
    return boxes


_HOG = None


def _hog_detector():
    global _HOG
    if _HOG is None:
        import dlib

        _HOG = dlib.get_frontal_face_detector()
    return _HOG


def score_regions(out: Image, truth: Image, boxes: Sequence[Box]) -> list[dict[str, float]]:
    """PSNR and SSIM inside each box (SSIM only for boxes of at least 11x11 px)."""
    rows = []
    for x0, y0, x1, y1 in boxes:
        a, b = out[y0:y1, x0:x1], truth[y0:y1, x0:x1]
        if a.size == 0:
            continue
        rows.append({"psnr": metrics.psnr(a, b), "ssim": metrics.ssim(a, b) if min(a.shape[:2]) >= 11 else math.nan})
    return rows


def score_colorize(out: Image, truth: Image) -> dict[str, float]:
    cf, cf_gt = metrics.colourfulness(out), metrics.colourfulness(truth)
    return {
        "deltaE00": metrics.mean_ciede2000(out, truth),
        "colourfulness": cf,
        "cf_ratio": cf / cf_gt if cf_gt > 0 else math.nan,
        "delta_cf": abs(cf - cf_gt),
        "psnr": metrics.psnr(out, truth),
        "psnr_ab": metrics.psnr_ab(out, truth),
        "ssim": metrics.ssim(out, truth) if min(out.shape[:2]) >= 11 else math.nan,
    }


def score_restore(out: Image, truth: Image) -> dict[str, float]:
    return {
        "psnr": metrics.psnr(out, truth),
        "ssim": metrics.ssim(out, truth) if min(out.shape[:2]) >= 11 else math.nan,
        "deltaE00": metrics.mean_ciede2000(out, truth),
    }


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = rows[0].keys()
    out = {}
    for k in keys:
        vals = np.array([r[k] for r in rows], dtype=np.float64)
        finite = vals[np.isfinite(vals)]
        out[k] = float(finite.mean()) if finite.size else (float(vals[0]) if vals.size else math.nan)
    return out


def reference_flows(reference: list[Image]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(forward, backward) OpenCV DIS flow of each consecutive pair of the clean reference clip."""
    return [(metrics.optical_flow(reference[t - 1], reference[t]), metrics.optical_flow(reference[t], reference[t - 1]))
            for t in range(1, len(reference))]


def temporal_scores(out: list[Image], inp: list[Image], reference: list[Image],
                    flows: list[tuple[np.ndarray, np.ndarray]] | None = None) -> dict[str, float]:
    """Stability of ``out`` next to its input: CDC, warp error (flow of the clean reference clip),
    flicker index and its ratios to the input's and the reference's, MABD-MSE to the reference."""
    fo, fi, fr = metrics.flicker_index(out), metrics.flicker_index(inp), metrics.flicker_index(reference)
    ratio = metrics.flicker_ratio(out, inp)
    ratio_ref = metrics.flicker_ratio(out, reference)
    flows = flows if flows is not None else reference_flows(reference)
    return {
        "cdc": metrics.cdc(out) if len(out) > 4 else math.nan,
        "cdc_input": metrics.cdc(inp) if len(inp) > 4 else math.nan,
        "warp_error": metrics.warp_error(out, flows=flows),
        "warp_error_input": metrics.warp_error(inp, flows=flows),
        "flicker_L": fo.L, "flicker_ab": fo.ab,
        "flicker_L_input": fi.L, "flicker_ab_input": fi.ab,
        "flicker_L_reference": fr.L, "flicker_ab_reference": fr.ab,
        "flicker_L_ratio": ratio.L, "flicker_ab_ratio": ratio.ab,
        "flicker_L_ratio_reference": ratio_ref.L, "flicker_ab_ratio_reference": ratio_ref.ab,
        "mabd_mse": metrics.mabd_mse(out, reference),
    }


def sheet_indices(n: int, rows: int = SHEET_ROWS) -> list[int]:
    """Which cases the contact sheet shows: ``rows`` spread evenly over ``n``."""
    return [int(i) for i in np.unique(np.linspace(0, n - 1, min(rows, n)).round().astype(int))]


@dataclass
class _Case:
    name: str
    truth: Image
    inp: Image
    mask: np.ndarray | None = None
    faces: list[Box] | None = None     # face boxes found on the clean reference


def _evaluate(task: str, cases: list[_Case], method: Method | None, name: str,
              baselines: dict[str, Method], *, clip: bool, batch: int,
              detect_mask: Callable[[Image], np.ndarray] | None) -> dict:
    score = score_colorize if task == "colorize" else score_restore
    inputs = [c.inp for c in cases]
    runs = ({name: method} if method is not None else {}) | baselines
    if not runs:
        raise OldfilmError("nothing to evaluate: no model and no baselines")
    truth = [c.truth for c in cases]
    flows = reference_flows(truth) if clip else None
    shown = sheet_indices(len(cases))
    outputs: dict[str, dict[int, Image]] = {}     # kept for the contact sheet only: memory stays small
    temporal: dict[str, dict[str, float]] = {}
    per_image: list[dict] = []
    methods: dict[str, dict[str, float]] = {}
    for mname, m in runs.items():
        outs, seconds = _run_timed(m, inputs, batch)
        rows = [score(o, c.truth) for o, c in zip(outs, cases)]
        for c, r in zip(cases, rows):
            per_image.append({"image": c.name, "method": mname, **r})
        methods[mname] = _mean(rows)
        methods[mname]["seconds_per_image"] = seconds / len(cases)
        face_rows = [r for o, c in zip(outs, cases) if c.faces for r in score_regions(o, c.truth, c.faces)]
        if face_rows:
            face_mean = _mean(face_rows)
            methods[mname]["face_psnr"], methods[mname]["face_ssim"] = face_mean["psnr"], face_mean["ssim"]
        if clip:
            temporal[mname] = temporal_scores(outs, inputs, truth, flows)
        outputs[mname] = {i: outs[i] for i in shown}
    ref_cf = float(np.mean([metrics.colourfulness(c.truth) for c in cases]))
    if task == "colorize":   # ratio of the means: a per-image mean of ratios is ruled by near-gray photos
        for m in methods.values():
            m["cf_ratio"] = m["colourfulness"] / ref_cf if ref_cf > 0 else math.nan
    ref_name = "degraded" if task == "restore" else "grayscale"
    if ref_name in methods:   # the gain over doing nothing
        for mname, m in methods.items():
            m["psnr_gain"] = m["psnr"] - methods[ref_name]["psnr"]
            m["ssim_gain"] = m["ssim"] - methods[ref_name]["ssim"]
            if "face_psnr" in m:
                m["face_psnr_gain"] = m["face_psnr"] - methods[ref_name]["face_psnr"]
            if task == "colorize":
                m["deltaE00_vs_grayscale"] = m["deltaE00"] / methods[ref_name]["deltaE00"] - 1.0
    report: dict[str, Any] = {
        "task": task, "model": name if method is not None else None, "images": len(cases), "clip": clip, "methods": methods,
        "reference": {"colourfulness": ref_cf, "faces": sum(len(c.faces or []) for c in cases)},
        "per_image": per_image,
    }
    if task == "restore" and cases[0].mask is not None:
        masks: dict[str, dict[str, float]] = {}
        if detect_mask is not None and method is not None:
            masks[name] = _mean([mask_scores(detect_mask(c.inp), c.mask) for c in cases])
        if "classical" in baselines:
            masks["classical"] = _mean([mask_scores(classical_restore_with_mask(c.inp)[1], c.mask) for c in cases])
        if masks:
            report["scratch_mask"] = masks
    if clip:
        report["temporal"] = temporal
    report["_outputs"] = outputs          # dropped from the JSON; the contact sheet uses it
    report["_cases"] = cases
    return report


def _clip_or_photos(references: Any, max_side: int | None, limit: int | None, frames: int,
                    pan: int | None, holdout: float | None = None,
                    holdout_task: str = "colorize") -> tuple[list[tuple[str, Image]], bool]:
    """(named frames, is_clip) from a path/list of paths (photos or one video) or arrays."""
    if isinstance(references, (str, Path)):
        references = [references]
    refs = list(references)
    if refs and isinstance(refs[0], np.ndarray):
        named = [(f"#{i}", _resize_max(r, max_side)) for i, r in enumerate(refs)]
        clip = False
    elif len(refs) == 1 and Path(refs[0]).is_file() and not _is_photo(Path(refs[0])):
        clip_frames = load_clip(refs[0], max_side=max_side, max_frames=frames)
        return [(f"frame{t:04d}", f) for t, f in enumerate(clip_frames)], True
    else:
        named = load_references(refs, max_side=max_side, limit=None if pan else limit, holdout=holdout,
                                holdout_task=holdout_task)
        clip = False
    if pan:
        return [(f"pan{t:03d}", f) for t, f in enumerate(pan_clip(named[0][1], pan))], True
    return (named[:limit] if limit else named), clip


def _is_photo(p: Path) -> bool:
    from .images import IMAGE_EXTENSIONS

    return p.suffix.lower() in IMAGE_EXTENSIONS


def evaluate_colorize(references: Any, model: Any, *, name: str = "ours", render_factor: int | None = None,
                      baselines: bool = True, max_side: int | None = 512, limit: int | None = None,
                      frames: int = 48, pan: int | None = None, holdout: float | None = None,
                      batch: int = 4) -> dict:
    """Colorization quality: each reference made grayscale, colorized by ``model`` (Stage,
    network or function), scored against the reference. ``references``: photo files/folders, one
    clip, or a list of uint8 RGB arrays. Baselines: ``grayscale`` (the input) and ``sepia``.
    ``model=None`` scores the baselines only."""
    named, clip = _clip_or_photos(references, max_side, limit, frames, pan, holdout, "colorize")
    cases = [_Case(n, rgb, grayscale(rgb)) for n, rgb in named]
    base = {"grayscale": _per_image(lambda f: f), "sepia": _per_image(sepia_tint)} if baselines else {}
    method = None if model is None else as_method(model, render_factor=render_factor, independent=not clip)
    report = _evaluate("colorize", cases, method, name, base,
                       clip=clip, batch=batch, detect_mask=None)
    report["render_factor"] = _render_factor_used(model, render_factor)
    return report


def _render_factor_used(model: Any, render_factor: int | None) -> int | None:
    """The render factor ``model`` ran at: the one asked for, a Stage's own (the CLI's default for its
    model), or ``as_method``'s 35 for a bare network; None for a plain function."""
    if render_factor is not None:
        return render_factor
    if isinstance(model, Stage):
        return model.report().get("render_factor")
    import torch

    from .colorize.published import DEOLDIFY_PHOTO_RENDER_FACTOR

    return DEOLDIFY_PHOTO_RENDER_FACTOR if isinstance(model, torch.nn.Module) else None


def default_degrader(recipe: str = "photo", overlays: str | Path | None = None, *,
                     clip_size: tuple[int, int] | None = None, seed: int = 0, flicker: float = 0.0,
                     consistent: bool = False) -> Degrader:
    """The restoration degradation model (oldfilm.restore.degrade) with a named recipe. For a clip
    (``clip_size`` = (height, width)) one film-scratch track runs through all frames, so vertical
    scratch lines persist from frame to frame as on real film; ``flicker`` adds exposure flicker
    to a clip's frames (levels x exp(N(0, flicker)) + N(0, flicker / 4) of the full range), and
    ``consistent`` draws a clip's toning, ageing and scan settings once, as a reel ages
    (``degrade.ClipDraws``; noise, grain, dust and flicker still change from frame to frame)."""
    from dataclasses import replace

    from .restore import degrade as deg

    r = deg.recipe_by_name(recipe, overlays)
    if flicker:
        r = replace(r, flicker_gain_sd=flicker, flicker_offset_sd=flicker / 4)
    track = None
    if clip_size is not None and hasattr(deg, "FilmScratchTrack"):
        track = deg.FilmScratchTrack(clip_size[0], clip_size[1], np.random.default_rng([seed, 1 << 30]), r)
    if consistent and clip_size is not None:
        return lambda rgb, rng: deg.degrade_pair(rgb, rng, r, track, clip_seed=[seed, 1 << 31])
    if hasattr(deg, "degrade_pair"):
        return lambda rgb, rng: deg.degrade_pair(rgb, rng, r, track)
    return lambda rgb, rng: deg.degrade(rgb, rng, r, track)


def evaluate_restore(references: Any, model: Any, *, name: str = "ours", recipe: str = "photo",
                     overlays: str | Path | None = None, seed: int = 0, degrade_fn: Degrader | None = None,
                     detect_mask: Callable[[Image], np.ndarray] | None = None, baselines: bool = True,
                     max_side: int | None = 512, limit: int | None = None, frames: int = 48,
                     pan: int | None = None, holdout: float | None = None, batch: int = 4,
                     face_boxes: Callable[[Image], list[Box]] | bool = False, flicker: float = 0.0,
                     deflicker: bool = False, consistent: bool = False) -> dict:
    """Restoration quality: each reference degraded (seeded: image i uses rng([seed, i])),
    restored by ``model``, scored against the clean (toned) target. Baselines: ``degraded`` (the
    input) and ``classical`` (fastNlMeans + Telea). ``detect_mask`` (uint8 RGB -> HxW mask) adds
    the scratch-mask F1/IoU of your detector; the classical threshold mask is always scored.
    ``face_boxes`` (True: ``detect_faces_hog``; or a function of the clean image returning boxes)
    adds face-region PSNR/SSIM (``face_psnr``, ``face_ssim``). ``model=None`` scores the
    baselines only. Clips: ``flicker`` adds exposure flicker to the degradation and
    ``consistent`` draws its settings once per clip (``default_degrader``); ``deflicker``
    steadies the degraded clip first, as ``--deflicker`` does (video/deflicker.py), and adds the
    baseline ``deflickered`` (that step alone)."""
    named, clip = _clip_or_photos(references, max_side, limit, frames, pan, holdout, "restore")
    if (flicker or deflicker or consistent) and not clip:
        raise OldfilmError("--flicker, --deflicker and --consistent-clip need a clip: one video, or --pan N")
    fn = degrade_fn or default_degrader(recipe, overlays, clip_size=named[0][1].shape[:2] if clip else None,
                                        seed=seed, flicker=flicker, consistent=consistent)
    cases = []
    for i, (n, rgb) in enumerate(named):
        res = fn(rgb, np.random.default_rng([seed, i]))
        target, degraded, mask = (rgb, *res) if len(res) == 2 else res
        find = detect_faces_hog if face_boxes is True else (face_boxes or None)
        cases.append(_Case(n, target, degraded, mask, find(target) if find else None))
    base = {"degraded": _per_image(lambda f: f), "classical": _per_image(classical_restore)} if baselines else {}
    method = None if model is None else as_method(model, independent=not clip)
    if deflicker:
        from .video.deflicker import steady_frames

        steady = dict(zip((id(c.inp) for c in cases), steady_frames([c.inp for c in cases], _clip_fps(references))))

        def first_steady(frames: list[Image]) -> list[Image]:
            # _evaluate hands every method slices of the cases' own input arrays: found by identity
            return [steady.get(id(f), f) for f in frames]
        if method is not None:
            inner = method
            method = lambda frames: inner(first_steady(frames))   # noqa: E731
        if baselines:
            base["deflickered"] = first_steady
    report = _evaluate("restore", cases, method, name, base, clip=clip, batch=batch,
                       detect_mask=detect_mask)
    report.update(recipe=recipe if degrade_fn is None else "custom", seed=seed, flicker=flicker,
                  deflicker=deflicker, consistent_clip=consistent)
    return report


def _clip_fps(references: Any) -> float:
    """Frames a second of a reference video, as the runner's deflicker takes them (24 for a
    panning clip made from a photo)."""
    refs = [references] if isinstance(references, (str, Path)) else list(references)
    if len(refs) == 1 and isinstance(refs[0], (str, Path)) and not _is_photo(Path(refs[0])):
        from .video.probe import probe

        info = probe(refs[0])
        return float(info.base_fps or info.fps or 24)
    return 24.0


# ---------------------------------------------------------------- output
TABLE_COLUMNS = {
    "colorize": [("deltaE00", "ΔE00↓", 6.2), ("colourfulness", "CF", 6.2), ("cf_ratio", "CF/GT", 5.2),
                 ("psnr", "PSNR", 6.2), ("psnr_ab", "PSNRab", 6.2), ("ssim", "SSIM", 5.3),
                 ("seconds_per_image", "s/img", 6.3)],
    "restore": [("psnr", "PSNR", 6.2), ("psnr_gain", "ΔPSNR", 6.2), ("ssim", "SSIM", 5.3),
                ("ssim_gain", "ΔSSIM", 6.3), ("deltaE00", "ΔE00", 6.2), ("face_psnr", "facePSNR", 8.2),
                ("face_ssim", "faceSSIM", 8.3), ("seconds_per_image", "s/img", 6.3)],
}
TEMPORAL_COLUMNS = [("cdc", "CDC", 7.4), ("warp_error", "Ewarp", 8.6), ("flicker_L", "F_L", 6.3),
                    ("flicker_ab", "F_ab", 6.3), ("flicker_L_ratio_reference", "F_L/ref", 7.2),
                    ("flicker_ab_ratio_reference", "F_ab/ref", 8.2)]


def _fmt(v: float, width: int, prec: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—".rjust(width)
    if math.isinf(v):
        return "inf".rjust(width)
    return f"{v:{width}.{prec}f}"


def format_table(report: dict) -> str:
    """The report's per-method means as a plain text table (one line per method)."""
    def table(rows: dict[str, dict], cols: list[tuple[str, str, float]]) -> list[str]:
        cols = [c for c in cols if any(c[0] in r for r in rows.values())]   # e.g. no faces: no face columns
        widths = [int(w) for _, _, w in cols]
        wname = max(10, *(len(m) for m in rows))
        lines = [" ".join([" " * wname] + [h.rjust(max(w, len(h))) for (_, h, _), w in zip(cols, widths)])]
        for m, vals in rows.items():
            cells = [_fmt(vals.get(k, math.nan), max(int(w), len(h)), round((w % 1) * 10)) for k, h, w in cols]
            lines.append(" ".join([m.ljust(wname)] + cells))
        return lines

    task = report["task"]
    head = f"{task} · {report['images']} {'frames' if report.get('clip') else 'images'} · model {report['model'] or '(baselines only)'}"
    if task == "restore":
        head += f" · recipe {report.get('recipe')} seed {report.get('seed')}"
    else:
        head += f" · reference colourfulness {report['reference']['colourfulness']:.2f}"
    lines = [head, *table(report["methods"], TABLE_COLUMNS[task])]
    if report.get("scratch_mask"):
        lines += ["damage mask:", *table(report["scratch_mask"], [("f1", "F1", 5.3), ("iou", "IoU", 5.3),
                                                                   ("precision", "prec", 5.3), ("recall", "rec", 5.3)])]
    if report.get("temporal"):
        lines += ["temporal (output vs input; flow from the clean reference):",
                  *table(report["temporal"], TEMPORAL_COLUMNS)]
    return "\n".join(lines)


def print_table(report: dict) -> None:
    print(format_table(report))


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None    # strict JSON has no inf/NaN
    if isinstance(x, np.integer):
        return int(x)
    return x


def report_sheet(report: dict, cell: int = 192) -> np.ndarray:
    """Contact sheet: input | each method's output | reference, for the cases ``sheet_indices``
    picked (evenly spread frames for a clip)."""
    cases: list[_Case] = report["_cases"]
    outputs: dict[str, dict[int, Image]] = report["_outputs"]
    shown = [m for m in outputs if m not in ("grayscale", "degraded")]
    idx = sheet_indices(len(cases))
    cols = ["input", *shown, "reference"]
    grid = [[cases[i].inp, *[outputs[m][i] for m in shown], cases[i].truth] for i in idx]
    return contact_sheet(grid, cols, [cases[i].name for i in idx], cell=cell)


def write_outputs(report: dict, out_dir: str | Path, stem: str | None = None) -> tuple[Path, Path]:
    """Write ``<stem>.json`` (the report without images) and ``<stem>_sheet.png`` under ``out_dir``."""
    from PIL import Image as PILImage

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(out_dir, f"cannot create the folder ({e.strerror or e})") from None
    stem = stem or f"eval_{report['task']}"
    js, png = out_dir / f"{stem}.json", out_dir / f"{stem}_sheet.png"
    js.write_text(json.dumps(_jsonable(report), indent=1) + "\n")
    PILImage.fromarray(report_sheet(report)).save(png)
    return js, png


# ---------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("references", nargs="+", metavar="REF",
                        help="clean reference photos or folders of them, or one video clip")
    parser.add_argument("--task", choices=("restore", "colorize"), default="restore",
                        help="restore: degrade then restore (default); colorize: make grayscale then colorize")
    parser.add_argument("--model", default="default", metavar="NAME|PATH",
                        help="restorer (task restore) or colorizer (task colorize): registry name or "
                             "checkpoint; 'none' scores only the baselines")
    parser.add_argument("--faces", action=argparse.BooleanOptionalAction, default=None,
                        help="restore: run the face stage (default: when a face generator is installed)")
    parser.add_argument("--scratches", choices=("auto", "on", "off"), default="auto", help="restore: scratch repair")
    parser.add_argument("--no-restore", action="store_true",
                        help="restore: skip the global restorer (score the face stage alone, with --faces)")
    parser.add_argument("--strength", type=float, default=1.0, metavar="S",
                        help="restore: share of the restoration kept, as the CLI's --strength (default 1)")
    parser.add_argument("--face-metrics", action="store_true",
                        help="restore: also score PSNR/SSIM inside the faces dlib finds on each reference")
    parser.add_argument("--render-factor", type=int, default=None, help="colorize: render factor (default: as the CLI: 21, DeOldify's models 35 on photos)")
    parser.add_argument("--steady-colors", dest="steady", type=float, default=None, metavar="S",
                        help="colorize, clips: the colour-flicker filter's strength, as the CLI's (default 0.9; 0 off)")
    parser.add_argument("--recipe", default="photo", help="restore: degradation recipe: photo, film or bopbtl")
    parser.add_argument("--overlays", type=Path, default=None, help="restore: folder of film-damage overlays")
    parser.add_argument("--flicker", type=float, default=0.0, metavar="SD",
                        help="restore, clips: add exposure flicker (each frame's levels x exp(N(0, SD)), e.g. 0.08)")
    parser.add_argument("--deflicker", action="store_true",
                        help="restore, clips: steady the degraded clip before the model, as --deflicker does")
    parser.add_argument("--consistent-clip", action="store_true",
                        help="restore, clips: draw the toning, ageing and scan settings once for the clip, as a "
                             "reel ages (default: each frame draws its own); noise, dust and flicker still change")
    parser.add_argument("--seed", type=int, default=0, help="degradation seed (default 0)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate at most N photos")
    parser.add_argument("--holdout", type=float, default=None, metavar="PCT",
                        help="only the photos the task's training commands hold out at PCT%% (e.g. 5); the "
                             "colorizer's and the restoration trainers' splits are different photos")
    parser.add_argument("--size", type=int, default=512, help="scale references so the long side is at most PX (default 512)")
    parser.add_argument("--frames", type=int, default=48, help="clip: evaluate the first N frames (default 48)")
    parser.add_argument("--pan", type=int, default=None, metavar="N",
                        help="make an N-frame panning clip from the first photo and evaluate it as a clip")
    parser.add_argument("--no-baselines", action="store_true", help="skip the baseline methods")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("-o", "--out", type=Path, default=Path("eval"), help="folder for the JSON report and contact sheet")
    parser.add_argument("--name", default=None, help="name of the file stem under --out (default eval_<task>)")


def run(args: argparse.Namespace) -> int:
    if args.task == "colorize" and (args.flicker or args.deflicker or args.consistent_clip):
        raise OldfilmError("--flicker, --deflicker and --consistent-clip are for --task restore")
    if args.task == "colorize" and args.strength != 1.0:
        raise OldfilmError("--strength is for --task restore")
    if args.task != "colorize" and args.steady is not None:
        raise OldfilmError("--steady-colors is for --task colorize")
    is_clip = bool(args.pan) or (len(args.references) == 1 and Path(args.references[0]).is_file()
                                 and not _is_photo(Path(args.references[0])))
    stage = None
    if args.model != "none":
        stage = build_pipeline_stage(args.task, model=args.model, faces=args.faces, scratches=args.scratches,
                                     render_factor=args.render_factor, device=args.device, is_video=is_clip,
                                     restore=not args.no_restore, steady=args.steady, strength=args.strength)
    name = "faces only" if args.task == "restore" and args.no_restore else args.model
    if args.task == "restore" and args.strength != 1.0:
        name += f", strength {args.strength:g}"
    common = dict(name=name, baselines=not args.no_baselines, max_side=args.size, limit=args.limit,
                  frames=args.frames, pan=args.pan, holdout=args.holdout)
    if args.task == "colorize":
        report = evaluate_colorize(args.references, stage, render_factor=args.render_factor, **common)
    else:
        report = evaluate_restore(args.references, stage, recipe=args.recipe, overlays=args.overlays,
                                  seed=args.seed, face_boxes=args.face_metrics, flicker=args.flicker,
                                  deflicker=args.deflicker, consistent=args.consistent_clip, **common)
    print_table(report)
    js, png = write_outputs(report, args.out, args.name)
    print(f"report: {js}\ncontact sheet: {png}")
    return 0



if __name__ == "__main__":  # same parsing and one-line errors as `oldfilm`
    from oldfilm.cli import main

    sys.exit(main(['eval', *sys.argv[1:]]))

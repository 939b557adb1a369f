"""Training images: folders -> held-out split by file hash -> random crops -> degraded batches.

Images are read from disk on every draw (cv2, a few ms each) so several runs can share a small
machine without each holding the data set in RAM.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ...errors import BadInputError, OldfilmError
from ..degrade import IMAGE_SUFFIXES, DegradeRecipe, degrade_pair

import os

SHARED_DATA = Path(os.environ.get("OLDFILM_SHARED", Path(__file__).resolve().parents[3].parent / "shared")) / "data"
DEFAULT_PHOTO_DIRS = [
    "photos/imagenet_samples", "photos/bsds500", "photos/urban100", "photos/sun_hays80", "photos/set14_set5",
    "photos/clothing_cc0", "photos/debian_wallpaper_photos", "photos/pkg_samples", "photos/dexemplar_refs",
    "photos/faces_hires",
]
# data/README.md: clothing is narrow content; cap its share of a batch at about 30%.
FOLDER_SHARE_CAPS = {"clothing_cc0": 0.3}


def real_old_photos() -> list[Path]:
    """The real old photographs among the shared fixtures (none on a machine without them)."""
    return sorted((SHARED_DATA.parent / "fixtures" / "old_photos").glob("*.png"))


def is_held_out(path: Path, fraction: float) -> bool:
    """Deterministic validation membership from the file's bytes (renames and moves keep it)."""
    digest = hashlib.sha1(path.read_bytes()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise OldfilmError(f"{folder}: training image folder not found")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise OldfilmError(f"{folder}: no images (jpg/png) in it")
    return files


def read_rgb(path: Path) -> np.ndarray:
    """uint8 RGB HxWx3 (gray files become three equal channels)."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise BadInputError(path, "not a readable image")
    return np.ascontiguousarray(bgr[..., ::-1])


@dataclass
class ImageSet:
    """Files of several folders with per-folder sampling weights, split into train and held-out."""

    folders: list[Path]
    train: list[list[Path]]
    val: list[Path]
    weights: np.ndarray          # per folder, sums to 1

    @classmethod
    def from_folders(cls, folders: list[str | Path], val_fraction: float = 0.05) -> "ImageSet":
        folders = [Path(f) for f in folders]
        train, val, counts = [], [], []
        for f in folders:
            files = list_images(f)
            held = [is_held_out(p, val_fraction) for p in files]
            tr = [p for p, h in zip(files, held) if not h]
            val += [p for p, h in zip(files, held) if h]
            if not tr:                       # a tiny folder: keep it trainable
                tr = files
            train.append(tr)
            counts.append(len(tr))
        w = np.array(counts, np.float64)
        w /= w.sum()
        for i, f in enumerate(folders):
            cap = FOLDER_SHARE_CAPS.get(f.name)
            if cap is not None and w[i] > cap and len(w) > 1:
                rest = 1 - w[i]
                w = w * (1 - cap) / rest
                w[i] = cap
        return cls(folders, train, sorted(val), w / w.sum())

    def sample(self, rng: np.random.Generator) -> Path:
        files = self.train[int(rng.choice(len(self.train), p=self.weights))]
        return files[int(rng.integers(len(files)))]

    @property
    def n_train(self) -> int:
        return sum(len(t) for t in self.train)


def random_crop(rgb: np.ndarray, size: int, rng: np.random.Generator, scale: tuple[float, float] = (0.5, 1.0)) -> np.ndarray:
    """A size x size crop after a random down-scale (so the net sees several scales), with h-flip."""
    h, w = rgb.shape[:2]
    s = rng.uniform(*scale)
    s = max(s, size / min(h, w))            # never smaller than the crop
    if abs(s - 1) > 1e-3:
        rgb = cv2.resize(rgb, (max(size, round(w * s)), max(size, round(h * s))),
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
        h, w = rgb.shape[:2]
    y, x = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
    out = rgb[y : y + size, x : x + size]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def center_crop(rgb: np.ndarray, size: int) -> np.ndarray:
    """Short side resized to ``size`` (area), then the central square: held-out evaluation crops."""
    h, w = rgb.shape[:2]
    f = size / min(h, w)
    rgb = cv2.resize(rgb, (max(size, round(w * f)), max(size, round(h * f))), interpolation=cv2.INTER_AREA)
    h, w = rgb.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(rgb[y : y + size, x : x + size])


def to_tensor(batch: list[np.ndarray]) -> torch.Tensor:
    """uint8 RGB HxWx3 list -> float32 Nx3xHxW in [-1,1]."""
    x = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float()
    return x / 127.5 - 1


def mask_tensor(masks: list[np.ndarray]) -> torch.Tensor:
    """uint8 HxW {0,255} list -> float32 Nx1xHxW in {0,1}."""
    return torch.from_numpy(np.stack(masks)[:, None].astype(np.float32) / 255.0)


def to_uint8(x: torch.Tensor) -> list[np.ndarray]:
    """float Nx3xHxW in [-1,1] -> list of uint8 RGB HxWx3."""
    a = ((x.detach().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return list(a)


@dataclass
class DegradedBatch:
    clean: torch.Tensor       # Nx3xHxW [-1,1], the target (same toning as the input)
    degraded: torch.Tensor    # Nx3xHxW [-1,1]
    mask: torch.Tensor        # Nx1xHxW {0,1}, 1 = scratch/damage


def degraded_batch(
    images: ImageSet, n: int, size: int, rng: np.random.Generator, recipe: DegradeRecipe, p_clean: float = 0.0
) -> DegradedBatch:
    """``n`` random crops and their synthetic degradations. With p=``p_clean`` an input is left clean
    (the identity pair), so models learn to leave good images alone."""
    tg, dg, ms = [], [], []
    for _ in range(n):
        crop = random_crop(read_rgb(images.sample(rng)), size, rng)
        if rng.random() < p_clean:
            t, d, m = crop, crop, np.zeros(crop.shape[:2], np.uint8)
        else:
            t, d, m = degrade_pair(crop, rng, recipe)
        tg.append(t), dg.append(d), ms.append(m)
    return DegradedBatch(to_tensor(tg), to_tensor(dg), mask_tensor(ms))


def held_out_pairs(paths: list[Path], n: int, size: int, seed: int, recipe: DegradeRecipe) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Fixed (target, degraded, mask) triplets from the held-out files: the same for every evaluation."""
    if not paths:
        raise OldfilmError("no held-out images to score (raise --val-fraction or add images)")
    rng = np.random.default_rng(seed)
    out = []
    for p in paths[:n]:
        out.append(degrade_pair(center_crop(read_rgb(p), size), rng, recipe))
    return out

"""Colorizer training data: any folders of colour images -> (old-looking grayscale, colour) pairs.

Training only (imported by ``oldfilm.colorize.train``); no fastai here, so the augmentation can be
previewed and tested without it.

* Files are found recursively; the held-out validation split is chosen by a hash of each file's
  bytes, so it does not depend on folder order, machine or which other folders were given.
* A *group* is the first folder level under each ``--data`` directory (e.g. ``clothing_cc0``);
  groups listed in ``caps`` are limited to that share of every batch (data/README.md asks for
  clothing_cc0 <= ~30 %).
* Inputs are degraded the way real old photos are (sepia, fade, contrast loss, grain, blur) and
  then made grayscale exactly as inference does (PIL ``'L'`` weights), so the network learns the
  inputs it will see; the targets are the clean colour crops.
"""
from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from PIL import Image, ImageFilter

from ..errors import OldfilmError

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
DEFAULT_CAPS = {"clothing_cc0": 0.30}


# --------------------------------------------------------------------------- files and split


@dataclass(frozen=True)
class ImageFile:
    path: Path
    group: str          # first folder under the --data directory (its own name for files directly in it)
    digest: str         # sha1 of the file bytes: decides the split


def file_digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def is_validation(digest: str, val_pct: float) -> bool:
    """Deterministic held-out membership: the first 32 bits of the content hash, per mille."""
    return int(digest[:8], 16) % 1000 < round(val_pct * 10)


def list_images(dirs: Sequence[str | Path]) -> list[ImageFile]:
    """Every image under ``dirs`` (recursive, sorted), with its group and content hash."""
    out: list[ImageFile] = []
    for d in map(Path, dirs):
        if not d.is_dir():
            raise OldfilmError(f"{d}: training data folder not found")
        found = sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())
        if not found:
            raise OldfilmError(f"{d}: no images ({', '.join(sorted(IMAGE_EXTS))}) found")
        for p in found:
            rel = p.relative_to(d).parts
            out.append(ImageFile(p, rel[0] if len(rel) > 1 else d.resolve().name, file_digest(p)))
    return out


def split_files(files: Sequence[ImageFile], val_pct: float = 5.0) -> tuple[list[ImageFile], list[ImageFile]]:
    """(train, validation), by content hash; duplicates of one file land on the same side."""
    train = [f for f in files if not is_validation(f.digest, val_pct)]
    val = [f for f in files if is_validation(f.digest, val_pct)]
    if not train:
        raise OldfilmError("no training images left after holding out the validation split")
    return train, val


# --------------------------------------------------------------------------- old-photo look
# All pure functions on float32 HxWx3 RGB in [0,1] (or HxW gray in [0,1]).


def luminance(rgb: np.ndarray) -> np.ndarray:
    """HxW in [0,1] with PIL's 'L' weights (what inference uses to make its gray input)."""
    return rgb @ np.array([19595, 38470, 7471], np.float32) / 65536.0


def sepia(gray: np.ndarray, amount: float) -> np.ndarray:
    """Warm brown toning of a gray HxW image, blended by ``amount`` in [0,1] -> HxWx3."""
    tone = np.stack([gray * 1.07, gray * 0.74, gray * 0.43], -1) + np.array([0.08, 0.06, 0.02], np.float32)
    g3 = np.repeat(gray[..., None], 3, -1)
    return np.clip(g3 + amount * (tone - g3), 0, 1)


def fade(rgb: np.ndarray, amount: float, paper: float = 0.92) -> np.ndarray:
    """Faded print: blacks lift towards the paper tone; ``amount`` in [0,1]."""
    return rgb * (1 - amount) + paper * amount * (0.5 + 0.5 * rgb)


def contrast_loss(rgb: np.ndarray, amount: float) -> np.ndarray:
    """Squash contrast around the mean by ``amount`` in [0,1)."""
    m = rgb.mean()
    return m + (rgb - m) * (1 - amount)


def grain(rgb: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Luminance film grain, std ``sigma`` (in [0,1] units), slightly clumped (2x2 upsampled)."""
    h, w = rgb.shape[:2]
    n = rng.standard_normal(((h + 1) // 2, (w + 1) // 2), dtype=np.float32)
    n = np.repeat(np.repeat(n, 2, 0), 2, 1)[:h, :w] * 0.6 + rng.standard_normal((h, w), dtype=np.float32) * 0.4
    return rgb + sigma * n[..., None]


def blur(rgb: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian blur of radius ``radius`` px (soft lenses, copies of copies)."""
    if radius <= 0:
        return rgb
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    return np.asarray(img.filter(ImageFilter.GaussianBlur(radius)), np.float32) / 255.0


@dataclass
class OldPhotoLook:
    """Probabilities and ranges of the input degradations (each drawn independently)."""

    p_sepia: float = 0.5
    p_fade: float = 0.4
    p_contrast: float = 0.4
    p_grain: float = 0.5
    p_blur: float = 0.4
    max_fade: float = 0.35
    max_contrast_loss: float = 0.45
    max_grain: float = 0.06
    max_blur: float = 1.2

    def __call__(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """float32 HxWx3 RGB [0,1] colour -> float32 HxWx3 gray (3 equal channels) [0,1]."""
        x = np.repeat(luminance(rgb)[..., None], 3, -1)
        if rng.random() < self.p_sepia:
            x = sepia(x[..., 0], rng.uniform(0.4, 1.0))
        if rng.random() < self.p_fade:
            x = fade(x, rng.uniform(0.05, self.max_fade))
        if rng.random() < self.p_contrast:
            x = contrast_loss(x, rng.uniform(0.1, self.max_contrast_loss))
        if rng.random() < self.p_blur:
            x = blur(x, rng.uniform(0.3, self.max_blur))
        if rng.random() < self.p_grain:
            x = grain(x, rng.uniform(0.01, self.max_grain), rng)
        # Inference feeds the network PIL 'L' gray, whatever the tint: so does training.
        return np.repeat(np.clip(luminance(np.clip(x, 0, 1)), 0, 1)[..., None], 3, -1)


def normalize(rgb: np.ndarray) -> torch.Tensor:
    """float32 HxWx3 [0,1] -> float32 3xHxW ImageNet-normalised (the generator's space)."""
    return torch.from_numpy(((rgb - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1).copy())


def denormalize(t: torch.Tensor) -> torch.Tensor:
    """float32 (N)x3xHxW ImageNet-normalised -> same shape in [0,1] (clamped)."""
    mean = torch.tensor(IMAGENET_MEAN, device=t.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=t.device).view(3, 1, 1)
    return (t * std + mean).clamp(0, 1)


# --------------------------------------------------------------------------- crops and dataset


def load_rgb(path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except OSError as e:
        raise OldfilmError(f"{path}: unreadable image ({e})") from e


def random_crop(img: Image.Image, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop, flipped half the time, resized to ``size`` -> float32 size x size x 3
    in [0,1]. The side is log-uniform between ``size`` (native pixels) and the short side (the
    whole picture, as inference sees it at a small render factor), so the network meets both
    scales."""
    w, h = img.size
    short = min(w, h)
    lo = min(size, short)
    side = int(round(math.exp(rng.uniform(math.log(lo), math.log(short)))))
    side = max(1, min(side, short))
    x0 = int(rng.integers(0, w - side + 1))
    y0 = int(rng.integers(0, h - side + 1))
    crop = img.crop((x0, y0, x0 + side, y0 + side)).resize((size, size), Image.BILINEAR)
    if rng.random() < 0.5:
        crop = crop.transpose(Image.FLIP_LEFT_RIGHT)
    return np.asarray(crop, np.float32) / 255.0


def center_crop(img: Image.Image, size: int) -> np.ndarray:
    w, h = img.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return np.asarray(img.crop(box).resize((size, size), Image.BILINEAR), np.float32) / 255.0


@dataclass
class ColorizePairs(torch.utils.data.Dataset):
    """(x, y): x the old-looking gray input, y the colour target; both float32 3xSxS normalised.

    Training items are random crops with a fresh random degradation per access (seeded by
    ``seed``, the index and a per-process counter); validation items (``train=False``) are
    centre crops with a degradation fixed by the file's hash, so validation losses are comparable
    across runs.
    """

    files: Sequence[ImageFile]
    size: int
    train: bool = True
    seed: int = 0
    look: OldPhotoLook = field(default_factory=OldPhotoLook)

    def __post_init__(self) -> None:
        self._draws = 0

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.files[i]
        img = load_rgb(f.path)
        if self.train:
            self._draws += 1
            rng = np.random.default_rng([self.seed, i, self._draws, random.getrandbits(32)])
            y = random_crop(img, self.size, rng)
        else:
            rng = np.random.default_rng(int(f.digest[:8], 16))
            y = center_crop(img, self.size)
        x = self.look(y, rng)
        return normalize(x), normalize(y)


def capped_indices(
    files: Sequence[ImageFile], n: int, batch_size: int, caps: dict[str, float], rng: random.Random
) -> list[int]:
    """``n`` sample indices in batches of ``batch_size`` where each capped group fills at most
    ceil(cap * batch_size) slots of every batch; the rest are uniform over the other files."""
    by_group: dict[str, list[int]] = {}
    for i, f in enumerate(files):
        by_group.setdefault(f.group if f.group in caps else "", []).append(i)
    free = by_group.pop("", [])
    total = len(files)
    out: list[int] = []
    while len(out) < n:
        batch: list[int] = []
        for g, idx in by_group.items():
            share = min(caps[g], len(idx) / total) if free else 1.0
            k = sum(rng.random() < share for _ in range(batch_size))
            k = min(k, math.ceil(caps[g] * batch_size)) if free else k
            batch += [rng.choice(idx) for _ in range(min(k, batch_size - len(batch)))]
        pool = free or [i for idx in by_group.values() for i in idx]
        batch += [rng.choice(pool) for _ in range(batch_size - len(batch))]
        rng.shuffle(batch)
        out += batch
    return out[:n]


def group_shares(files: Sequence[ImageFile], indices: Sequence[int]) -> dict[str, float]:
    counts: dict[str, int] = {}
    for i in indices:
        counts[files[i].group] = counts.get(files[i].group, 0) + 1
    return {g: c / max(1, len(indices)) for g, c in sorted(counts.items())}


def iter_batches(indices: Sequence[int], batch_size: int) -> Iterator[list[int]]:
    for s in range(0, len(indices) - batch_size + 1, batch_size):
        yield list(indices[s:s + batch_size])

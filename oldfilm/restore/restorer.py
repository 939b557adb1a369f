"""Global restoration of one frame: scratch mask, VAE_A encode, latent mapping, VAE_B decode.

Pure functions over arrays: uint8 RGB H x W x 3 in, uint8 RGB H x W x 3 out (same size).
What differs from BOPBTL's test.py (restore-spec §3.7, §9), on purpose:

* any size: the image is reflect-padded to the network's multiple and cropped back (no resize);
* no per-image min-max stretch: uint8 = round((y + 1) / 2 * 255), so video does not flicker;
* bounded memory: large frames run in tiles (tiling.py). Instance-norm statistics and the
  partial non-local key bank come from one pass over a copy of the whole frame downscaled to at
  most ``stats_size`` pixels on its long side (context_norm.py); every tile then uses them, so
  tiles agree with each other. A frame that fits in one tile runs untiled, exactly as BOPBTL.
* a black-and-white input gives a black-and-white output (no colour cast); colour stays colour.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from .attention import PartialNonLocal
from .context_norm import applying, context_modules, recording
from .tiling import run_tiled

MASK_THRESHOLD = 0.4        # BOPBTL detection.py: sigmoid(logits) >= 0.4
HOLE_FILLS = ("white", "none")


@dataclass
class RestorerNets:
    """One restoration path: VAE_A (encoder), a mapping, VAE_B (decoder).

    ``mask_dilation``: 3x3 dilations of the scratch mask before use (BOPBTL HR mode uses 3).
    ``hole_fill``: what the scratch path's encoder sees under the mask: ``"white"`` (BOPBTL: the
    marked pixels are cut out) or ``"none"`` (the pixels are kept and only the mapping is told
    where the damage is, so content a detector marks by mistake is not lost).
    """

    encoder: nn.Module          # has .encode
    mapping: nn.Module          # forward(z) or forward(z, mask) when .needs_mask
    decoder: nn.Module          # has .decode
    mask_dilation: int = 0
    hole_fill: str = "white"
    auto_min_marked: float | None = None   # scratch path: the `auto` cut saved with it (auto_cut.py), if any

    def __post_init__(self) -> None:
        if self.hole_fill not in HOLE_FILLS:
            raise ValueError(f"hole_fill {self.hole_fill!r}: expected one of {', '.join(HOLE_FILLS)}")

    @property
    def needs_mask(self) -> bool:
        return bool(getattr(self.mapping, "needs_mask", False))

    @property
    def scale(self) -> int:
        return int(getattr(self.encoder, "scale", 4))

    @property
    def align(self) -> int:
        """Image-pixel multiple tiles start on: the VAE stride, times the largest patch (HR)."""
        patches = getattr(self.mapping, "patch_sizes", (1,))
        return self.scale * max(patches)


@dataclass(frozen=True)
class TileSettings:
    tile: int = 512             # image pixels per tile side (encoder/decoder); the mapping uses 2x (default_tile)
    stats_size: int = 512       # long side of the whole-frame statistics pass
    encoder_margin: int = 64    # image px of context (receptive field of VAE_A ~ 45 px)
    mapping_margin: int = 32    # latent px (quality mapping reaches 20, scratch 26)
    decoder_margin: int = 16    # latent px (VAE_B reaches ~11)
    blend: int = 32             # image px cross-fade between neighbouring tiles


def to_network(rgb: np.ndarray) -> torch.Tensor:
    """uint8 RGB H x W x 3 -> float32 1 x 3 x H x W in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div_(127.5).sub_(1.0)


def to_uint8(y: torch.Tensor) -> np.ndarray:
    """float 1 x 3 x H x W in [-1, 1] -> uint8 RGB H x W x 3 by the fixed map (y + 1) / 2 (no stretch).

    Works in place on ``y`` (a 24 Mpx frame would otherwise hold three more float copies)."""
    v = y[0].clamp_(-1, 1).add_(1).mul_(127.5).round_()
    return v.to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def is_grayscale(rgb: np.ndarray, tolerance: int = 2) -> bool:
    """True when every pixel has R, G and B within ``tolerance`` levels (a B&W scan)."""
    sub = rgb[:: max(1, rgb.shape[0] // 256), :: max(1, rgb.shape[1] // 256)].astype(np.int16)
    return int(np.abs(sub - sub[..., :1]).max()) <= tolerance


def fill_holes(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """BOPBTL's irregular_hole_synthesize: scratch pixels (mask True) become white."""
    out = rgb.copy()
    out[mask] = 255
    return out


def dilate(mask: np.ndarray, iterations: int) -> np.ndarray:
    if iterations <= 0:
        return mask
    return cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=iterations) > 0


MIN_SIDE = 16               # smaller frames are padded up: the latent needs >= 4 px for its 3x3 pads


def _pad_to(a: np.ndarray, mult: int) -> np.ndarray:
    """Symmetric-pad bottom/right to multiples of ``mult`` and at least MIN_SIDE."""
    h, w = a.shape[:2]
    ph, pw = max(-h % mult, MIN_SIDE - h), max(-w % mult, MIN_SIDE - w)
    ph, pw = ph + (-(h + ph) % mult), pw + (-(w + pw) % mult)
    if not ph and not pw:
        return a
    pad = [(0, ph), (0, pw)] + [(0, 0)] * (a.ndim - 2)
    return np.pad(a, pad, mode="symmetric")


def _proxy(rgb: np.ndarray, mask: np.ndarray | None, size: int, mult: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The whole frame at most ``size`` px on its long side (area-averaged), dims multiples of ``mult``;
    a proxy pixel is a hole if any pixel it covers is."""
    h, w = rgb.shape[:2]
    f = min(1.0, size / max(h, w))
    ph, pw = max(mult, round(h * f / mult) * mult), max(mult, round(w * f / mult) * mult)
    if (ph, pw) == (h, w):
        return rgb, mask
    small = cv2.resize(rgb, (pw, ph), interpolation=cv2.INTER_AREA)
    small_mask = None
    if mask is not None:
        small_mask = cv2.resize(mask.astype(np.float32), (pw, ph), interpolation=cv2.INTER_AREA) > 0
    return small, small_mask


def _mask_tensor(mask: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(mask.astype(np.float32))[None, None]


def _forward_whole(nets: RestorerNets, rgb: np.ndarray, mask: np.ndarray | None, device: torch.device) -> torch.Tensor:
    x = to_network(rgb).to(device)
    z = nets.encoder.encode(x)
    z = nets.mapping(z, _mask_tensor(mask).to(device)) if nets.needs_mask else nets.mapping(z)
    return nets.decoder.decode(z).float().cpu()


def has_frame_norms(*models: nn.Module) -> bool:
    """Whether any norm pools over the frame (instance norms: the published files), as opposed to our
    norm-free defaults, whose only whole-frame context is the partial non-local block's key bank."""
    return any(not isinstance(m, PartialNonLocal) for model in models for m in context_modules(model))


def default_tile(*paths: RestorerNets | None) -> int:
    """Tile side for ``paths``: 512 px with frame norms (the published widths, whose activations
    bound memory), else 1024 px. The light norm-free nets hold little per pixel (a 1080p frame whole
    adds about 0.45 GB), and a frame that fits one tile needs no context pass and no tile margins."""
    nets = [m for p in paths if p is not None for m in (p.encoder, p.mapping, p.decoder)]
    return 512 if has_frame_norms(*nets) else 1024


def _needs_context_pass(models: tuple[nn.Module, ...], mask: np.ndarray | None) -> bool:
    """Whether tiles need whole-frame context recorded first: for any norm that pools over the frame
    (the published files), or for the partial non-local blocks' key banks when there is a hole.
    Without a hole a partial non-local block passes its input through, bank or not."""
    found = [m for model in models for m in context_modules(model)]
    if any(not isinstance(m, PartialNonLocal) for m in found):
        return True
    return bool(found) and mask is not None and bool(mask.any())


def _record(nets: RestorerNets, rgb: np.ndarray, mask: np.ndarray | None, device: torch.device) -> None:
    """The whole-frame pass that records context; the decoder runs only if it holds context of its own
    (norm "none" defaults: the proxy's decoding would be thrown away)."""
    x = to_network(rgb).to(device)
    z = nets.encoder.encode(x)
    z = nets.mapping(z, _mask_tensor(mask).to(device)) if nets.needs_mask else nets.mapping(z)
    if context_modules(nets.decoder):
        nets.decoder.decode(z)


@torch.inference_mode()
def restore_image(nets: RestorerNets, rgb: np.ndarray, mask: np.ndarray | None = None,
                  settings: TileSettings | None = None, device: torch.device | str = "cpu") -> np.ndarray:
    """Restore one frame. rgb: uint8 RGB H x W x 3 (any size >= 1 px); mask: bool H x W (True =
    scratch) or None; used only by a mapping that takes a mask. Returns uint8 RGB H x W x 3.
    ``settings``: tiling; by default tiles of :func:`default_tile` for ``nets``.

    Runs under torch.inference_mode().
    """
    settings = settings or TileSettings(tile=default_tile(nets))
    device = torch.device(device)
    h, w = rgb.shape[:2]
    gray = is_grayscale(rgb)
    if nets.needs_mask:
        mask = np.zeros((h, w), bool) if mask is None else dilate(mask, nets.mask_dilation)
        src = fill_holes(rgb, mask) if nets.hole_fill == "white" else rgb
    else:
        mask, src = None, rgb
    mult = nets.align
    src = _pad_to(src, mult)
    pmask = _pad_to(mask, mult) if mask is not None else None
    H, W = src.shape[:2]
    models = (nets.encoder, nets.mapping, nets.decoder)
    if H <= settings.tile and W <= settings.tile:
        y = _forward_whole(nets, src, pmask, device)
    elif not _needs_context_pass(models, pmask):
        y = _tiled(nets, src, pmask, settings, device)      # pure convolutions (norm "none"), no hole: no context pass
    else:
        small, small_mask = _proxy(src, pmask, settings.stats_size, mult)
        with recording(*models):
            _record(nets, small, small_mask, device)
        with applying(*models):
            y = _tiled(nets, src, pmask, settings, device)
    out = to_uint8(y[:, :, :h, :w])
    if gray:
        luma = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)
        out = np.repeat(luma[..., None], 3, axis=2)
    return out


def _tiled(nets: RestorerNets, src: np.ndarray, mask: np.ndarray | None, s: TileSettings,
           device: torch.device) -> torch.Tensor:
    H, W = src.shape[:2]
    k = nets.scale
    lat_align = nets.align // k

    def encode(y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        return nets.encoder.encode(to_network(src[y0:y1, x0:x1]).to(device))

    c = int(getattr(nets.encoder, "latent_channels", 64))
    z = run_tiled(encode, H, W, c, 1 / k, s.tile, s.encoder_margin, s.blend, nets.align)

    def mapping(y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        zt = z[:, :, y0:y1, x0:x1].to(device)
        if not nets.needs_mask:
            return nets.mapping(zt)
        assert mask is not None
        return nets.mapping(zt, _mask_tensor(mask[y0 * k:y1 * k, x0 * k:x1 * k]).to(device))

    h, w = H // k, W // k
    z = run_tiled(mapping, h, w, c, 1, 2 * s.tile // k, s.mapping_margin, s.blend // k, lat_align)

    def decode(y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        return nets.decoder.decode(z[:, :, y0:y1, x0:x1].to(device))

    return run_tiled(decode, h, w, 3, k, s.tile // k, s.decoder_margin, s.blend // k, lat_align)


# --------------------------------------------------------------------------- scratch detection


def detector_input(rgb: np.ndarray, short_side: int = 256, max_long: int = 4096, mult: int = 16) -> np.ndarray:
    """Grey (ITU-R 601 luma) copy resized so the short side is ``short_side`` (as BOPBTL's
    detection.py), long side capped at ``max_long``, dims multiples of ``mult``. float32 in [-1, 1]."""
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    f = min(short_side / min(h, w), max_long / max(h, w))
    th, tw = max(mult, round(h * f / mult) * mult), max(mult, round(w * f / mult) * mult)
    interp = cv2.INTER_AREA if th < h else cv2.INTER_CUBIC
    small = cv2.resize(gray, (tw, th), interpolation=interp)
    return small.astype(np.float32) / 127.5 - 1.0


@torch.inference_mode()
def scratch_probability(detector: nn.Module, rgb: np.ndarray, device: torch.device | str = "cpu",
                        short_side: int = 256, tile: int = 512, margin: int = 96) -> np.ndarray:
    """float32 H x W scratch probability (sigmoid of the detector's logits), at the input's size.

    The detector runs on a ~256 px short-side grey copy (what the published detector expects),
    in tiles when that copy is large (BatchNorm in eval mode: tiles agree away from borders).
    """
    device = torch.device(device)
    mult = int(getattr(detector, "multiple", 16))
    g = detector_input(rgb, short_side, mult=mult)
    x = torch.from_numpy(g)[None, None]
    gh, gw = g.shape

    def run(y0: int, y1: int, x0: int, x1: int) -> torch.Tensor:
        return detector(x[:, :, y0:y1, x0:x1].to(device))

    if gh <= tile and gw <= tile:
        logits = run(0, gh, 0, gw).float().cpu()
    else:
        logits = run_tiled(run, gh, gw, 1, 1, tile, margin, 32, mult)
    prob = torch.sigmoid(logits)[0, 0].numpy()
    return cv2.resize(prob, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)


def _meta(module: nn.Module) -> dict[str, str]:
    """The metadata ``weights.load_builtin`` keeps on a module of our checkpoints ({} for others)."""
    return getattr(module, "oldfilm_meta", None) or {}


def _saved(detector: nn.Module, key: str, default: float) -> float:
    """An operating point saved in our checkpoint's metadata (``weights.load_builtin``), else ``default``."""
    return float(_meta(detector).get(key, default))


def saved_hole_fill(mapping: nn.Module) -> str:
    """What a scratch mapping's encoder was trained to see under the mask (``RestorerNets.hole_fill``):
    ``oldfilm.hole_fill`` in our checkpoint's metadata, else BOPBTL's ``"white"``."""
    return _meta(mapping).get("oldfilm.hole_fill", "white")


def saved_auto_cut(mapping: nn.Module) -> float | None:
    """The share of marked pixels above which ``--scratches auto`` takes this scratch mapping's path,
    chosen for it at export on training photos (``oldfilm.auto_min_marked``, oldfilm.restore.auto_cut);
    None for a file without one."""
    value = _meta(mapping).get("oldfilm.auto_min_marked")
    return None if value is None else float(value)


def detector_threshold(detector: nn.Module) -> float:
    """The probability from which ``detector`` marks a pixel: the threshold calibrated at export
    and saved in our checkpoint's metadata (``oldfilm.threshold``), else BOPBTL's 0.4."""
    return _saved(detector, "oldfilm.threshold", MASK_THRESHOLD)


def detector_auto_min_marked(detector: nn.Module) -> float:
    """The share of marked pixels above which ``--scratches auto`` takes the scratch path: what the
    detector marks on most undamaged photos (``oldfilm.auto_min_marked``, measured at export), so a
    photo it only speckles with false marks keeps the quality path. 0 (any marked pixel) without it."""
    return _saved(detector, "oldfilm.auto_min_marked", 0.0)


def detect_scratches(detector: nn.Module, rgb: np.ndarray, device: torch.device | str = "cpu",
                     threshold: float | None = None) -> np.ndarray:
    """bool H x W: True where sigmoid(logits) >= ``threshold`` (default: :func:`detector_threshold`)."""
    t = detector_threshold(detector) if threshold is None else threshold
    return scratch_probability(detector, rgb, device) >= t

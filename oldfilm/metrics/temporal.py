"""Temporal-consistency metrics for clips, as pure functions (metrics.md).

A clip is a sequence of uint8 RGB HxWx3 frames of one size, and of one shot: cuts inflate every
score here, so split at cuts before calling.

- ``cdc``: colour distribution consistency (TCVC, Liu et al. 2021), no flow needed.
- ``warp_error``: Lai et al. 2018, with Ruder et al. 2016's occlusion masks, on OpenCV flow of the
  *input* clip (or on exact flow, e.g. for a synthetic pan). OpenCV flow is not FlowNet2: use it for
  relative comparisons between our own runs, not against published numbers.
- ``flicker_index``: frame-to-frame jumps of the Lab frame means (our proposal; report out/in).
- ``mabd`` / ``mabd_mse``: mean absolute brightness differences (Jiang et al. 2019).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import cv2
import numpy as np

from .color import rgb_to_lab

Frames = Sequence[np.ndarray]
FlowMethod = Literal["dis", "farneback"]


def _check_clip(frames: Frames, min_len: int = 2) -> None:
    if len(frames) < min_len:
        raise ValueError(f"need at least {min_len} frames, got {len(frames)}")
    shape = frames[0].shape
    for f in frames:
        if f.shape != shape:
            raise ValueError(f"frames differ in shape: {shape} vs {f.shape}")


# ---------------------------------------------------------------- CDC
def _channel_histograms(frame: np.ndarray) -> np.ndarray:
    """3x256 float64, each row a probability histogram of one channel."""
    hists = np.stack([np.bincount(frame[..., c].ravel(), minlength=256)[:256] for c in range(3)])
    return hists / hists.sum(axis=1, keepdims=True)


def _js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence (natural log) between rows of p and q, in [0, ln 2]."""
    m = 0.5 * (p + q)

    def kl(x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(x > 0, x * np.log(x / m), 0.0)
        return terms.sum(axis=-1)

    return 0.5 * kl(p) + 0.5 * kl(q)


def cdc(frames: Frames, dilations: Sequence[int] = (1, 2, 4)) -> float:
    """Colour distribution consistency, >= 0 (0 = every frame has the same colour histograms).

    CDC = sum over d in dilations of (1/len(dilations)) * mean over channels and t of
    JS(h_c(t), h_c(t+d)), with h_c the 256-bin normalised histogram of channel c. Needs more frames
    than the largest dilation. Lower is more stable; values are small (about 0.001..0.05).
    """
    _check_clip(frames, max(dilations) + 1)
    for f in frames:
        if f.dtype != np.uint8 or f.ndim != 3:
            raise ValueError("cdc expects uint8 RGB HxWx3 frames")
    hists = [_channel_histograms(f) for f in frames]
    per_dilation = []
    for d in dilations:
        per_dilation.append(np.mean([_js_divergence(hists[t], hists[t + d]).mean() for t in range(len(hists) - d)]))
    return float(np.mean(per_dilation))


# ---------------------------------------------------------------- flow and warping
def optical_flow(src: np.ndarray, dst: np.ndarray, method: FlowMethod = "dis") -> np.ndarray:
    """Dense flow from ``src`` to ``dst`` (uint8 RGB HxWx3): float32 HxWx2 (dx, dy) in pixels,
    such that src(p) ~ dst(p + flow(p)). DIS (medium preset) by default; Farneback on request."""
    a = cv2.cvtColor(src, cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(dst, cv2.COLOR_RGB2GRAY)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return dis.calc(a, b, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    raise ValueError(f"unknown flow method {method!r}: expected 'dis' or 'farneback'")


def _sample_grid(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return gx + flow[..., 0].astype(np.float32), gy + flow[..., 1].astype(np.float32)


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp: out(p) = image(p + flow(p)), bilinear, borders replicated. float32 out."""
    mx, my = _sample_grid(flow)
    return cv2.remap(image.astype(np.float32), mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def occlusion_mask(flow_ab: np.ndarray, flow_ba: np.ndarray) -> np.ndarray:
    """Occluded pixels of frame a (bool HxW), Ruder et al. 2016 as in Lai et al.'s evaluation code.

    flow_ab: a -> b, flow_ba: b -> a, both HxWx2. A pixel of a is occluded when the round trip does
    not come back (|w~ + w|^2 > 0.01 (|w~|^2 + |w|^2) + 0.5, w~ = flow_ba sampled at p + flow_ab),
    when it lies on a motion boundary (|grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002), or when its
    flow leaves the frame (nothing to compare it with).
    """
    back = warp(flow_ba, flow_ab)
    fb = back + flow_ab
    mag = lambda f: f[..., 0] ** 2 + f[..., 1] ** 2  # noqa: E731 - squared magnitude, as in the paper
    round_trip = mag(fb) > 0.01 * (mag(back) + mag(flow_ab)) + 0.5
    u, v = flow_ab[..., 0].astype(np.float64), flow_ab[..., 1].astype(np.float64)
    grad = np.zeros(u.shape)
    for c in (u, v):
        dx = np.zeros_like(c)
        dy = np.zeros_like(c)
        dx[:, :-1] = c[:, :-1] - c[:, 1:]
        dy[:-1, :] = c[:-1, :] - c[1:, :]
        grad += dx**2 + dy**2
    boundary = grad > 0.01 * mag(flow_ab) + 0.002
    mx, my = _sample_grid(flow_ab)
    h, w = u.shape
    outside = (mx < 0) | (mx > w - 1) | (my < 0) | (my > h - 1)
    return round_trip | boundary | outside


def warp_error(
    outputs: Frames,
    inputs: Frames | None = None,
    flows: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
    method: FlowMethod = "dis",
) -> float:
    """Warping error E_warp (Lai et al. 2018) of a clip, >= 0, lower is more stable.

    E_warp = 1/(T-1) sum_t sum_i M(i) |W(O_t)(i) - O_{t-1}(i)|^2 / sum_i M(i), with O in [0, 1]
    (so one pixel's term is at most 3), W warping frame t back onto t-1 with the flow of the
    *input* clip and M the non-occlusion mask of ``occlusion_mask``. ``flows`` gives, per pair
    (t-1, t), the (forward t-1 -> t, backward t -> t-1) flows; otherwise they are computed from
    ``inputs`` (default: the outputs themselves) with OpenCV ``method``.
    """
    _check_clip(outputs)
    source = outputs if inputs is None else inputs
    if len(source) != len(outputs):
        raise ValueError(f"inputs have {len(source)} frames, outputs {len(outputs)}")
    if flows is not None and len(flows) != len(outputs) - 1:
        raise ValueError(f"need {len(outputs) - 1} flow pairs, got {len(flows)}")
    total = 0.0
    for t in range(1, len(outputs)):
        if flows is not None:
            fw, bw = flows[t - 1]
        else:
            fw = optical_flow(source[t - 1], source[t], method)
            bw = optical_flow(source[t], source[t - 1], method)
        keep = ~occlusion_mask(fw, bw)
        prev = outputs[t - 1].astype(np.float32) / 255.0
        cur = warp(outputs[t].astype(np.float32) / 255.0, fw)
        sq = ((cur - prev) ** 2).sum(axis=-1)
        n = int(keep.sum())
        total += float(sq[keep].sum() / n) if n else float(sq.mean())
    return total / (len(outputs) - 1)


# ---------------------------------------------------------------- flicker
@dataclass(frozen=True)
class Flicker:
    """Mean frame-to-frame jump of the Lab frame means: L in L* units, ab in a*b* units (>= 0)."""

    L: float
    ab: float


def flicker_index(frames: Frames) -> Flicker:
    """F_L = mean_t |mu_L(t) - mu_L(t-1)|, F_ab = mean_t ||mu_ab(t) - mu_ab(t-1)||_2 (CIELAB).

    0 for a static clip. A pan over a still photo changes the means a little too, so read it
    against the input's value: ``flicker_ratio``.
    """
    _check_clip(frames)
    means = np.stack([rgb_to_lab(f).reshape(-1, 3).mean(axis=0) for f in frames])
    jumps = np.diff(means, axis=0)
    return Flicker(L=float(np.abs(jumps[:, 0]).mean()), ab=float(np.linalg.norm(jumps[:, 1:], axis=1).mean()))


# Below this (CIELAB units) a flicker index is treated as 0: a gray clip's a/b means wobble by
# ~1e-5 from rounding, and dividing by that would report a meaningless huge ratio.
FLICKER_FLOOR = 1e-3


def _ratio(out: float, inp: float) -> float:
    if inp >= FLICKER_FLOOR:
        return out / inp
    return 1.0 if out < FLICKER_FLOOR else math.inf


def flicker_ratio(outputs: Frames, inputs: Frames) -> Flicker:
    """F(out) / F(in) for L and ab: above 1 means the tool added flicker. Values under
    ``FLICKER_FLOOR`` count as 0: 1 when both are 0, +inf when only the output flickers (a
    colorized gray clip: compare F_ab with the ground truth's instead)."""
    fo, fi = flicker_index(outputs), flicker_index(inputs)
    return Flicker(L=_ratio(fo.L, fi.L), ab=_ratio(fo.ab, fi.ab))


def mabd(frames: Frames) -> np.ndarray:
    """MABD_t = mean |V_t - V_{t-1}| for t = 1..T-1, frames scaled to [0, 1]: float64 (T-1,)."""
    _check_clip(frames)
    x = [f.astype(np.float64) / 255.0 for f in frames]
    return np.array([np.abs(x[t] - x[t - 1]).mean() for t in range(1, len(x))])


def mabd_mse(outputs: Frames, reference: Frames) -> float:
    """MSE between the MABD curves of a clip and its reference (BasicSR ``calculate_mabd_mse``), >= 0."""
    a, b = mabd(outputs), mabd(reference)
    if a.shape != b.shape:
        raise ValueError(f"clips differ in length: {len(outputs)} vs {len(reference)}")
    return float(np.mean((a - b) ** 2))

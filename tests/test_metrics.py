"""The metric functions against scikit-image and hand-computed cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from oldfilm import metrics

skimage = pytest.importorskip("skimage")
from skimage import color as skcolor  # noqa: E402
from skimage import data as skdata  # noqa: E402
from skimage.metrics import structural_similarity  # noqa: E402


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 64x96 crop of scikit-image's bundled chelsea photo, uint8 RGB."""
    return np.ascontiguousarray(skdata.chelsea()[100:164, 150:246])


def noisy(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def pan_clip(n: int = 5, step: int = 3, size: int = 64) -> tuple[list[np.ndarray], list]:
    """Frames cropped from a still photo moving right by ``step`` px, with their exact flows."""
    big = skdata.astronaut()[::4, ::4]
    frames = [np.ascontiguousarray(big[20:20 + size, 10 + t * step:10 + t * step + size]) for t in range(n)]
    fw = np.zeros((size, size, 2), np.float32)
    fw[..., 0] = -step   # frame t-1 at p shows what frame t shows at p - step
    bw = -fw
    return frames, [(fw, bw)] * (n - 1)


# ------------------------------------------------------------------ PSNR / SSIM
def test_psnr_of_known_mse():
    a = np.zeros((8, 8, 3), np.uint8)
    b = a.copy()
    b[..., 0] = 10                                  # MSE = 100/3
    assert metrics.mse(a, b) == pytest.approx(100 / 3)
    assert metrics.psnr(a, b) == pytest.approx(10 * math.log10(255**2 * 3 / 100))
    assert metrics.psnr(a, a) == math.inf


def test_psnr_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        metrics.psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


@pytest.mark.parametrize("sigma", [4.0, 25.0])
def test_ssim_matches_scikit_image(photo, sigma):
    other = noisy(photo, sigma)
    ref = structural_similarity(photo, other, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=255, channel_axis=-1)
    assert metrics.ssim(photo, other) == pytest.approx(ref, abs=1e-6)
    gray = photo[..., 1]
    ref_gray = structural_similarity(gray, other[..., 1], gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=255)
    assert metrics.ssim(gray, other[..., 1]) == pytest.approx(ref_gray, abs=1e-6)


def test_ssim_identical_and_inverted(photo):
    assert metrics.ssim(photo, photo) == pytest.approx(1.0)
    assert metrics.ssim(photo, 255 - photo) < 0


# ------------------------------------------------------------------ colour
def test_lab_matches_scikit_image(photo):
    np.testing.assert_allclose(metrics.rgb_to_lab(photo), skcolor.rgb2lab(photo), atol=1e-6)


def test_ciede2000_matches_scikit_image(photo):
    other = noisy(photo, 20, seed=1)
    lab1, lab2 = skcolor.rgb2lab(photo), skcolor.rgb2lab(other)
    np.testing.assert_allclose(metrics.ciede2000(lab1, lab2), skcolor.deltaE_ciede2000(lab1, lab2), atol=1e-9)
    ref = skcolor.deltaE_ciede2000(lab1, lab2).mean()
    assert metrics.mean_ciede2000(photo, other) == pytest.approx(ref, rel=1e-9)


def test_ciede2000_sharma_test_pairs():
    # Pairs 1, 7 and 17 of Sharma, Wu & Dalal's published CIEDE2000 test data (4 decimals).
    lab1 = np.array([[50.0, 2.6772, -79.7751], [50.0, 0.0, 0.0], [50.0, 2.5, 0.0]])
    lab2 = np.array([[50.0, 0.0, -82.7485], [50.0, -1.0, 2.0], [73.0, 25.0, -18.0]])
    np.testing.assert_allclose(metrics.ciede2000(lab1, lab2), [2.0425, 2.3669, 27.1492], atol=1e-4)


def test_colourfulness_hand_cases():
    assert metrics.colourfulness(np.full((8, 8, 3), 77, np.uint8)) == 0.0      # gray: no colour
    red = np.zeros((8, 8, 3), np.uint8)
    red[..., 0] = 200                                                          # rg=200, yb=100
    assert metrics.colourfulness(red) == pytest.approx(0.3 * math.hypot(200, 100))
    half = red.copy()
    half[:, 4:] = 0                                                            # rg, yb: 0 or 200/100
    assert metrics.colourfulness(half) == pytest.approx(math.hypot(100, 50) + 0.3 * math.hypot(100, 50))


def test_psnr_ab_ignores_luminance(photo):
    gray = np.repeat(photo.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    brighter = np.clip(gray.astype(int) + 40, 0, 255).astype(np.uint8)
    assert metrics.psnr_ab(gray, brighter) > 60                                # both neutral: a=b=0
    assert metrics.psnr_ab(photo, gray) < metrics.psnr_ab(photo, noisy(photo, 3))


# ------------------------------------------------------------------ temporal
def test_static_clip_is_perfectly_stable(photo):
    clip = [photo] * 6
    assert metrics.cdc(clip) == 0.0
    assert metrics.flicker_index(clip) == metrics.Flicker(0.0, 0.0)
    assert metrics.warp_error(clip) == pytest.approx(0.0, abs=1e-9)
    assert metrics.flicker_ratio(clip, clip) == metrics.Flicker(1.0, 1.0)
    np.testing.assert_array_equal(metrics.mabd(clip), np.zeros(5))


def test_flicker_index_hand_computed():
    a = np.full((4, 4, 3), 100, np.uint8)
    b = np.full((4, 4, 3), 120, np.uint8)
    la, lb = metrics.rgb_to_lab(a)[0, 0, 0], metrics.rgb_to_lab(b)[0, 0, 0]
    f = metrics.flicker_index([a, b, a])
    assert f.L == pytest.approx(abs(lb - la))
    assert f.ab == pytest.approx(0.0, abs=1e-3)                                # gray stays neutral
    tinted = a.copy()
    tinted[..., 2] = 140                                                       # bluish
    assert metrics.flicker_ratio([a, tinted, a], [a, a, a]).ab == math.inf   # static input, output flickers
    assert metrics.flicker_ratio([a, b, a], [a, b, a]).L == pytest.approx(1.0)
    assert metrics.flicker_ratio([a, a, a], [a, b, a]).L == 0.0


def test_cdc_hand_computed():
    black = np.zeros((4, 4, 3), np.uint8)
    white = np.full((4, 4, 3), 255, np.uint8)
    # Disjoint histograms have JS = ln 2; equal ones 0. Dilation 1 only: every pair differs.
    assert metrics.cdc([black, white, black], dilations=(1,)) == pytest.approx(math.log(2))
    # With dilations 1 and 2: d=1 gives ln 2, d=2 compares black with black: 0.
    assert metrics.cdc([black, white, black], dilations=(1, 2)) == pytest.approx(math.log(2) / 2)


def test_warp_error_of_exact_pan_is_near_zero():
    frames, flows = pan_clip()
    assert metrics.warp_error(frames, flows=flows) == pytest.approx(0.0, abs=1e-10)
    # The same clip with per-frame brightness flicker scores clearly worse with the same flow.
    flick = [np.clip(f.astype(int) + (12 if t % 2 else -12), 0, 255).astype(np.uint8) for t, f in enumerate(frames)]
    assert metrics.warp_error(flick, flows=flows) > 0.005


def test_warp_error_with_opencv_flow_tracks_the_pan():
    frames, _ = pan_clip()
    flick = [np.clip(f.astype(int) + (12 if t % 2 else -12), 0, 255).astype(np.uint8) for t, f in enumerate(frames)]
    for method in ("dis", "farneback"):
        stable = metrics.warp_error(frames, method=method)
        assert stable < 0.003
        assert metrics.warp_error(flick, inputs=frames, method=method) > 3 * stable


def test_occlusion_mask_flags_frame_exits_and_inconsistent_flow():
    _, flows = pan_clip(step=3)
    fw, bw = flows[0]
    occ = metrics.occlusion_mask(fw, bw)
    assert occ[:, :3].all() and not occ[:, 3:].any()          # pixels whose flow leaves the frame
    assert metrics.occlusion_mask(fw, fw).mean() > 0.9         # forward and backward disagree


def test_mabd_mse():
    a = np.zeros((4, 4, 3), np.uint8)
    b = np.full((4, 4, 3), 51, np.uint8)                      # 0.2 in [0, 1]
    np.testing.assert_allclose(metrics.mabd([a, b, b]), [0.2, 0.0])
    assert metrics.mabd_mse([a, b, b], [a, a, a]) == pytest.approx(0.2**2 / 2)

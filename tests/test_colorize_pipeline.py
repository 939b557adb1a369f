"""colorize_array / colorize_frames (spec §4), the chroma transfer and the colorize stage."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from oldfilm import weights as W
from oldfilm.colorize import colorize_array, colorize_frames
from oldfilm.colorize.chroma import transfer_chroma
from oldfilm.colorize.generator import ARCH_NAME, LIGHT_CONFIG, build_generator
from oldfilm.colorize.render import IMAGENET_MEAN, IMAGENET_STD, finish, model_input, model_rgb
from oldfilm.colorize.stage import ColorizeStage, batch_limit, build_colorize_stage, choose_autocast
from oldfilm.errors import NoWeightsError, OldfilmError
from oldfilm.options import ColorizeOptions, RunOptions

RF = 4  # 64 px network input: tiny and fast


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    n = build_generator(LIGHT_CONFIG)
    # A non-zero attention gain and head bias so the render is clearly coloured.
    with torch.no_grad():
        n.layers[5].conv[3].gamma.fill_(0.5)
        n.layers[11][0].bias.copy_(torch.tensor([-0.4, 0.0, 0.4]))  # bluish: unlike sepia
    return n.eval()


def _photo(h: int = 45, w: int = 70, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 60 + np.stack([xx * 140 // w, yy * 140 // h, (xx + yy) * 140 // (h + w)], axis=2)
    return np.clip(base + rng.integers(-20, 20, (h, w, 3)), 0, 255).astype(np.uint8)


def _yuv(a: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(a, cv2.COLOR_RGB2YUV).astype(np.int16)


def _assert_same_luma(out: np.ndarray, src: np.ndarray) -> None:
    """Y of ``out`` is Y of ``src`` (±2 from the 8-bit YUV round trip) wherever YUV2RGB did not
    clip a channel (clipping a strong chroma legitimately moves Y)."""
    unclipped = ((out > 0) & (out < 255)).all(axis=2)
    assert unclipped.mean() > 0.5
    assert np.abs(_yuv(out)[..., 0] - _yuv(src)[..., 0])[unclipped].max() <= 2


def test_transfer_chroma_matches_opencv_fixed_point_formulas():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = transfer_chroma(a, b).astype(np.int64)
    r, g, bl = (a[..., i].astype(np.int64) for i in range(3))
    y = np.clip((4899 * r + 9617 * g + 1868 * bl + 8192) >> 14, 0, 255)
    r2, g2, b2 = (b[..., i].astype(np.int64) for i in range(3))
    y2 = (4899 * r2 + 9617 * g2 + 1868 * b2 + 8192) >> 14
    u = np.clip(((b2 - y2) * 8061 + (128 << 14) + 8192) >> 14, 0, 255) - 128
    v = np.clip(((r2 - y2) * 14369 + (128 << 14) + 8192) >> 14, 0, 255) - 128
    expected = np.stack(
        [y + ((18678 * v + 8192) >> 14), y + ((-9519 * v - 6472 * u + 8192) >> 14), y + ((33292 * u + 8192) >> 14)],
        axis=2,
    )
    np.testing.assert_array_equal(out, np.clip(expected, 0, 255))


def test_model_input_is_gray_imagenet_normalised_square():
    img = _photo()
    x = model_input(img, RF)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    gray = x * torch.tensor(IMAGENET_STD).view(3, 1, 1) + torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    torch.testing.assert_close(gray[0], gray[1], atol=1e-6, rtol=0)
    torch.testing.assert_close(gray[0], gray[2], atol=1e-6, rtol=0)
    # PIL: stretch first (aspect ignored), then L = (19595 R + 38470 G + 7471 B + 32768) >> 16.
    small = np.asarray(Image.fromarray(img).resize((64, 64), Image.Resampling.BILINEAR)).astype(np.int64)
    lum = (19595 * small[..., 0] + 38470 * small[..., 1] + 7471 * small[..., 2] + 32768) >> 16
    np.testing.assert_allclose(gray[0].numpy() * 255, lum, atol=1e-3)


def test_model_rgb_truncates():
    mean, std = torch.tensor(IMAGENET_MEAN).view(3, 1, 1), torch.tensor(IMAGENET_STD).view(3, 1, 1)
    target = torch.full((3, 2, 2), 100.9 / 255)
    target[:, 0, 0] = 1.7  # clamped to 255
    target[:, 0, 1] = -0.2  # clamped to 0
    rgb = model_rgb((target - mean) / std)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert rgb[1, 1].tolist() == [100, 100, 100] and rgb[0, 0].tolist() == [255] * 3 and rgb[0, 1].tolist() == [0] * 3


@pytest.mark.parametrize("shape", [(45, 70), (64, 64), (17, 101)])
def test_colorize_array_keeps_size_and_full_resolution_luminance(net, shape):
    img = _photo(*shape)
    out = colorize_array(img, net, RF)
    assert out.shape == img.shape and out.dtype == np.uint8
    _assert_same_luma(out, img)
    assert np.abs(out.astype(int) - img.astype(int)).max() > 10  # it did colour something


def test_colour_and_sepia_inputs_are_colorized_from_luminance(net):
    gray = _photo(48, 48)
    gray = np.repeat(cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    sepia = np.clip(gray.astype(np.float32) * np.array([1.07, 0.74, 0.43]) + np.array([20, 10, 0]), 0, 255).astype(np.uint8)
    # The network never sees the tint: the model input is the sepia's own luminance (to one level:
    # DeOldify resizes before the gray conversion, so rounding differs from gray-then-resize).
    lum = np.asarray(Image.fromarray(sepia).convert("L"))
    one_level = 1.0 / 255 / min(IMAGENET_STD) + 1e-5
    torch.testing.assert_close(model_input(sepia, RF), model_input(np.repeat(lum[..., None], 3, 2), RF), atol=one_level, rtol=0)
    out = colorize_array(sepia, net, RF)
    with torch.inference_mode():
        raw, _ = finish(sepia, model_rgb(net(model_input(sepia, RF)[None])[0]))
    # Chroma comes from the render, not from the sepia tint; luminance from the sepia.
    unclipped = ((out > 0) & (out < 255)).all(axis=2)
    assert np.abs(_yuv(out)[..., 1:] - _yuv(raw)[..., 1:])[unclipped].max() <= 2
    assert np.abs(_yuv(out)[..., 1:] - _yuv(sepia)[..., 1:]).mean() > 5
    _assert_same_luma(out, sepia)


def test_gray_2d_input_accepted_and_bad_inputs_refused(net):
    g = _photo(30, 40)[..., 0]
    assert colorize_array(g, net, RF).shape == (30, 40, 3)
    with pytest.raises(ValueError):
        colorize_array(g.astype(np.float32), net, RF)
    with pytest.raises(ValueError):
        colorize_array(np.zeros((8, 8, 4), np.uint8), net, RF)
    with pytest.raises(ValueError):
        colorize_array(g, net, 0)


def test_batched_equals_one_by_one(net):
    frames = [_photo(40, 56, seed=s) for s in range(3)] + [_photo(33, 21, seed=9)]
    batched = colorize_frames(frames, net, RF, batch_size=3)
    single = [colorize_array(f, net, RF) for f in frames]
    for b, s in zip(batched, single):
        assert b.shape == s.shape
        assert np.abs(b.astype(int) - s.astype(int)).max() <= 1


def test_train_mode_network_is_refused(net):
    net.train()
    try:
        with pytest.raises(ValueError, match="train mode"):
            colorize_array(_photo(), net, RF)
    finally:
        net.eval()


def test_choose_autocast_and_batch_limit():
    cpu = torch.device("cpu")
    assert choose_autocast(cpu, "fp32") is None
    assert choose_autocast(cpu, "bf16") is torch.bfloat16
    assert choose_autocast(torch.device("cuda"), "auto") is None  # fp16 not measured on a GPU
    assert choose_autocast(torch.device("cuda"), "fp16") is torch.float16
    with pytest.raises(OldfilmError):
        choose_autocast(cpu, "fp16")
    assert batch_limit(21, 4) == 4 and batch_limit(35, 8) == 4 and batch_limit(128, 4) == 1


def test_stage_without_weights_is_one_line_no_weights_error(monkeypatch, tmp_path):
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path))
    for model in ("default", "artistic", "stable", "video"):
        with pytest.raises(NoWeightsError) as e:
            build_colorize_stage(ColorizeOptions(enabled=True, model=model), RunOptions(device="cpu"), False)
        assert "\n" not in str(e.value) and "oldfilm" in str(e.value)
    with pytest.raises(NoWeightsError):
        build_colorize_stage(ColorizeOptions(model=str(tmp_path / "nope.pth")), RunOptions(device="cpu"), False)


def test_photo_render_factor_is_the_models_own():
    from oldfilm.colorize.stage import photo_render_factor

    assert photo_render_factor("default") == 21
    assert [photo_render_factor(m) for m in ("artistic", "stable", "video")] == [35, 35, 35]
    assert photo_render_factor("elsewhere/my-colorizer.safetensors") == 21   # ours, from our trainer
    assert photo_render_factor("elsewhere/ColorizeArtistic_gen.pth") == 35   # DeOldify's
    with pytest.raises(OldfilmError, match="unknown colorize model"):
        photo_render_factor("nope")


def test_stage_from_builtin_default(monkeypatch, tmp_path, net):
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path))
    path = tmp_path / "colorize-default.safetensors"
    W.save_builtin(net, ARCH_NAME, dict(LIGHT_CONFIG), path)
    # Our default's own photo factor is 21 (docs/training-colorize.md), and so is any file of ours;
    # video is 21 for every model; the user's value always wins.
    for model, is_video, user_rf, rf in (("default", False, None, 21), ("default", True, None, 21),
                                         (str(path), False, None, 21), (str(path), True, None, 21),
                                         ("default", False, 9, 9), (str(path), False, 9, 9)):
        stage = build_colorize_stage(ColorizeOptions(enabled=True, model=model, render_factor=user_rf),
                                     RunOptions(device="cpu", precision="fp32"), is_video)
        assert isinstance(stage, ColorizeStage) and stage.render_factor == rf, (model, is_video, user_rf)
    stage = build_colorize_stage(
        ColorizeOptions(enabled=True, model=str(path), render_factor=RF), RunOptions(device="cpu", precision="fp32"), True
    )
    frames = [_photo(36, 48, seed=s) for s in range(3)]
    out = stage(frames)
    assert [o.shape for o in out] == [f.shape for f in frames]
    assert stage.report()["colorized_frames"] == 3 and stage.report()["precision"] == "fp32"
    # fp16 storage of the checkpoint: within a level of the float32 network on most pixels.
    ref = colorize_frames(frames, net, RF)
    assert np.mean([np.abs(a.astype(int) - b.astype(int)).mean() for a, b in zip(out, ref)]) < 1.0
    stage.reset()
    assert stage.report()["colorized_frames"] == 0

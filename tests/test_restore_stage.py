"""The restorer: tiling agrees with an untiled run, any size, fixed tone mapping, weights handling.

Small networks with seeded random weights (the code path is the same for every size); 64-256 px
frames.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from oldfilm import weights
from oldfilm.errors import NoWeightsError
from oldfilm.options import RestoreOptions, RunOptions
from oldfilm.restore import build_detector, build_mapping, build_vae
from oldfilm.restore import restorer
from oldfilm.restore import attention as restorer_attention
from oldfilm.restore.attention import PartialNonLocal
from oldfilm.restore.context_norm import ContextInstanceNorm, applying, recording
from oldfilm.restore.published import DEFAULT_RESTORE_FILES, DEFAULT_SCRATCH_FILES
from oldfilm.restore.restorer import RestorerNets, TileSettings, restore_image, scratch_probability, to_network, \
    to_uint8
from oldfilm.restore.stage import build_restore_stage

LIGHT_VAE = {"ngf": 16, "mc": 16}
LIGHT_MAP = {"nc": 16, "mc": 32, "n_blocks": 2, "nl_blocks": 1}
LIGHT_DET = {"depth": 3, "wf": 3}


def _nets(kind: str) -> RestorerNets:
    torch.manual_seed(1)
    return RestorerNets(build_vae(LIGHT_VAE).eval(), build_mapping({"kind": kind, **LIGHT_MAP}).eval(),
                        build_vae(LIGHT_VAE).eval())


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 90 * np.sin(xx / 9.0), 128 + 90 * np.cos(yy / 7.0), 128 + 60 * np.sin((xx + yy) / 13.0)], -1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def _scratch_mask(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[:, w // 3:w // 3 + 2] = True
    m[h // 2, :] = True
    return m


# Tiles of 32 px with just enough context for these light networks' receptive fields
# (mapping: 4 + 2*2 + 4 = 12 latent px; the scratch one adds 2 for the non-local res block).
SMALL_TILES = TileSettings(tile=32, stats_size=512, encoder_margin=48, mapping_margin=16, decoder_margin=12, blend=8)


@pytest.mark.parametrize("kind", ["quality", "scratch"])
def test_tiled_matches_untiled(kind):
    """Stated tolerance: at most 1 uint8 level anywhere and >= 99 % of values identical."""
    nets = _nets(kind)
    img = _photo(64, 96)
    mask = _scratch_mask(64, 96) if kind == "scratch" else None
    with torch.inference_mode():
        whole = restore_image(nets, img, mask, TileSettings(tile=4096))
        tiled = restore_image(nets, img, mask, SMALL_TILES)
    diff = np.abs(whole.astype(int) - tiled.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.99, (diff.max(), (diff == 0).mean())


def test_hole_fill_none_keeps_the_marked_pixels_for_the_encoder():
    """BOPBTL's scratch path cuts the marked pixels out white before encoding; ``hole_fill="none"``
    hands the encoder the frame as it is and only the mapping gets the mask. An unknown fill is an error."""
    seen = []

    class Recording(torch.nn.Module):
        def __init__(self, vae):
            super().__init__()
            self.vae = vae

        def encode(self, x):
            seen.append(x.clone())
            return self.vae.encode(x)

    base = _nets("scratch")
    img, mask = _photo(64, 96), _scratch_mask(64, 96)
    outs = {}
    for fill in ("white", "none"):
        seen.clear()
        nets = RestorerNets(Recording(base.encoder), base.mapping, base.decoder, hole_fill=fill)
        with torch.inference_mode():
            outs[fill] = restore_image(nets, img, mask, TileSettings(tile=4096))
        x = seen[0][0, :, :64, :96]
        expect = img.copy()
        if fill == "white":
            expect[mask] = 255
        assert torch.allclose(x, to_network(expect)[0], atol=1e-6), fill
    assert not np.array_equal(outs["white"], outs["none"])
    with pytest.raises(ValueError, match="hole_fill"):
        RestorerNets(base.encoder, base.mapping, base.decoder, hole_fill="black")


def test_norm_none_quality_path_tiles_without_a_context_pass(monkeypatch):
    """Pure convolutions (our light defaults' norm "none") need no whole-frame pass: tiled output
    still matches untiled within the same tolerance."""
    torch.manual_seed(1)
    vae = {**LIGHT_VAE, "norm": "none"}
    nets = RestorerNets(build_vae(vae).eval(), build_mapping({"kind": "quality", **LIGHT_MAP, "norm": "none"}).eval(),
                        build_vae(vae).eval())
    img = _photo(64, 96)
    passes = []
    monkeypatch.setattr(restorer, "_proxy", lambda *a: passes.append(1) or a[0:2])
    with torch.inference_mode():
        whole = restore_image(nets, img, None, TileSettings(tile=4096))
        tiled = restore_image(nets, img, None, SMALL_TILES)
    assert not passes
    diff = np.abs(whole.astype(int) - tiled.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.99, (diff.max(), (diff == 0).mean())


def test_tiles_use_whole_frame_statistics():
    """Without shared statistics, per-tile instance norm would differ visibly: the check above
    must be sensitive to it."""
    nets = _nets("quality")
    img = _photo(64, 96)
    with torch.inference_mode():
        whole = restore_image(nets, img, None, TileSettings(tile=4096))
        from oldfilm.restore import restorer

        naive = to_uint8(restorer._tiled(nets, img, None, SMALL_TILES, torch.device("cpu")))  # per-tile stats
    diff = np.abs(whole.astype(int) - naive.astype(int))
    assert diff.max() > 1


@pytest.mark.parametrize("size", [(16, 16), (17, 23), (5, 3), (33, 70)])
@pytest.mark.parametrize("kind", ["quality", "scratch", "patch_attention"])
def test_any_size_keeps_size(kind, size):
    nets = _nets(kind)
    img = _photo(*size, seed=3)
    with torch.inference_mode():
        out = restore_image(nets, img, _scratch_mask(*size), TileSettings(tile=64, encoder_margin=16, mapping_margin=8, decoder_margin=4))
    assert out.shape == img.shape and out.dtype == np.uint8


def test_fixed_tone_mapping_no_stretch():
    """Output = round((y + 1) / 2 * 255) of the decoder output: no per-image min-max stretch."""
    nets = _nets("quality")
    img = _photo(64, 64)
    with torch.inference_mode():
        y = nets.decoder.decode(nets.mapping(nets.encoder.encode(to_network(img))))
        out = restore_image(nets, img)
    expected = np.clip(np.round((y[0].permute(1, 2, 0).numpy() + 1) * 127.5), 0, 255).astype(np.uint8)
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1
    assert out.min() > 0 or out.max() < 255 or y.min() <= -1 + 1e-3  # not stretched to the full range


def test_gray_stays_gray_colour_stays_colour():
    nets = _nets("quality")
    colour = _photo(64, 64)
    gray = np.repeat(colour.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    with torch.inference_mode():
        g = restore_image(nets, gray)
        c = restore_image(nets, colour)
    assert (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
    assert np.abs(c[..., 0].astype(int) - c[..., 2].astype(int)).max() > 5


def test_context_norm_record_apply():
    norm = ContextInstanceNorm(4)
    x, other = torch.randn(1, 4, 9, 7), torch.randn(1, 4, 5, 5) * 3 + 1
    ref = torch.nn.functional.instance_norm(x, eps=1e-5)
    with recording(norm):
        assert torch.allclose(norm(x), ref, atol=1e-6)
    with applying(norm):
        assert torch.allclose(norm(x), ref, atol=1e-5)
        applied = norm(other)
    assert not torch.allclose(applied, torch.nn.functional.instance_norm(other, eps=1e-5), atol=1e-2)
    assert norm.stats is None and norm.mode == "instance"


@pytest.mark.parametrize("max_keys", [10_000, 16])
def test_partial_nonlocal_attends_only_near_holes_without_frame_norms(monkeypatch, max_keys):
    """With norm "none" the attention runs only for positions within the res blocks' reach of a
    hole, and the result equals attending everywhere; with instance norms it attends everywhere."""
    torch.manual_seed(0)
    block = PartialNonLocal(8, 8, n_res=1, max_keys=max_keys, chunk=7, norm="none").eval()
    x = torch.randn(1, 8, 24, 24)
    mask = torch.zeros(1, 1, 96, 96)
    mask[..., 40:44, 60:62] = 1
    rows = []
    real = restorer_attention._attend
    monkeypatch.setattr(restorer_attention, "_attend", lambda q, *a: rows.append(q.shape[0]) or real(q, *a))
    with torch.inference_mode():
        fast = block(x, mask)
        n_fast = sum(rows)
        rows.clear()
        monkeypatch.setattr(block, "_queries", lambda valid: [None] * valid.shape[0])
        everywhere = block(x, mask)
    assert torch.allclose(fast, everywhere, atol=1e-5)
    assert 0 < n_fast < sum(rows) == 24 * 24
    normed = PartialNonLocal(8, 8, n_res=1, max_keys=max_keys, norm="instance").eval()
    assert normed._queries(torch.ones(1, 1, 24, 24)) == [None]


def test_partial_nonlocal_key_cap_and_chunks():
    """Chunked queries give the exact result; beyond max_keys the keys are pooled (bounded)."""
    torch.manual_seed(0)
    full = PartialNonLocal(8, 8, n_res=1, max_keys=10_000, chunk=1_000_000).eval()
    chunked = PartialNonLocal(8, 8, n_res=1, max_keys=10_000, chunk=7).eval()
    chunked.load_state_dict(full.state_dict())
    capped = PartialNonLocal(8, 8, n_res=1, max_keys=16, chunk=7).eval()
    capped.load_state_dict(full.state_dict())
    x = torch.randn(1, 8, 12, 12)
    mask = torch.zeros(1, 1, 48, 48)
    mask[..., 20:28, :] = 1
    with torch.inference_mode():
        a, b, c = full(x, mask), chunked(x, mask), capped(x, mask)
    assert torch.allclose(a, b, atol=1e-5)
    assert c.shape == a.shape and torch.isfinite(c).all()
    clean = mask[..., ::4, ::4] == 0
    assert torch.equal(a[clean.expand_as(a)], x[clean.expand_as(x)])  # clean positions pass through


def test_detector_probability_any_size():
    torch.manual_seed(0)
    det = build_detector(LIGHT_DET).eval()
    for h, w in [(16, 16), (37, 90), (300, 200)]:
        with torch.inference_mode():
            p = scratch_probability(det, _photo(h, w), short_side=64, tile=64, margin=24)
        assert p.shape == (h, w) and p.dtype == np.float32 and 0 <= p.min() <= p.max() <= 1


def test_no_weights_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path))
    with pytest.raises(NoWeightsError) as e:
        build_restore_stage(RestoreOptions(), RunOptions(device="cpu"))
    assert "\n" not in str(e.value) and "oldfilm weights import" in str(e.value)
    with pytest.raises(NoWeightsError):
        build_restore_stage(RestoreOptions(model="bopbtl-scratch"), RunOptions(device="cpu"))


@pytest.fixture
def builtin_light(tmp_path, monkeypatch):
    """Light default checkpoints written through save_builtin, as the training exporter does."""
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path))
    torch.manual_seed(2)
    cfgs = {"vae-a": ("bopbtl-vae", LIGHT_VAE), "vae-b-quality": ("bopbtl-vae", LIGHT_VAE),
            "vae-b-scratch": ("bopbtl-vae", LIGHT_VAE),
            "mapping-quality": ("bopbtl-mapping", {"kind": "quality", **LIGHT_MAP}),
            "mapping-scratch": ("bopbtl-mapping", {"kind": "scratch", **LIGHT_MAP})}
    builders = {"bopbtl-vae": build_vae, "bopbtl-mapping": build_mapping}
    for slot, (arch, cfg) in cfgs.items():
        weights.save_builtin(builders[arch](cfg), arch, cfg, tmp_path / DEFAULT_RESTORE_FILES[slot])
    det = build_detector(LIGHT_DET)
    with torch.no_grad():
        det.last[1].bias.fill_(5.0)   # a detector that sees scratches everywhere
    weights.save_builtin(det, "bopbtl-detector", LIGHT_DET, tmp_path / DEFAULT_SCRATCH_FILES["detector"])
    return tmp_path


@pytest.mark.parametrize("scratches, expect", [("off", 0), ("auto", 1), ("on", 1)])
def test_stage_with_builtin_weights(builtin_light, scratches, expect):
    stage = build_restore_stage(RestoreOptions(scratches=scratches), RunOptions(device="cpu"))
    frames = [_photo(48, 64), _photo(31, 45, seed=5)]
    out = stage(frames)
    assert [o.shape for o in out] == [f.shape for f in frames]
    assert all(o.dtype == np.uint8 for o in out)
    assert stage.report()["scratch_frames"] == expect * len(frames)
    stage.reset()
    assert stage.report()["scratch_frames"] == 0


@pytest.mark.parametrize("min_marked, scratches, expect", [("0.5", "auto", 1), ("1.0", "auto", 0), ("1.0", "on", 1)])
def test_auto_takes_the_scratch_path_only_above_the_saved_share(builtin_light, min_marked, scratches, expect):
    """The fixture's detector marks every pixel. Saved with auto_min_marked 0.5, `auto` inpaints;
    saved with 1.0 (a share no frame exceeds), `auto` keeps the quality path and `on` inpaints anyway."""
    det = weights.load_builtin(builtin_light / DEFAULT_SCRATCH_FILES["detector"])
    weights.save_builtin(det, "bopbtl-detector", LIGHT_DET, builtin_light / DEFAULT_SCRATCH_FILES["detector"],
                         extra={"auto_min_marked": min_marked})
    stage = build_restore_stage(RestoreOptions(scratches=scratches), RunOptions(device="cpu"))
    assert stage._auto_min_marked == float(min_marked)
    stage([_photo(48, 64)])
    assert stage.report()["scratch_frames"] == expect


def test_auto_takes_a_scratch_path_that_keeps_the_pixels_for_any_mark(builtin_light):
    """A scratch mapping saved with hole_fill none (pixels kept, only the mapping told where the
    damage is) costs nothing where the detector marks content, so `auto` ignores the saved share."""
    det = weights.load_builtin(builtin_light / DEFAULT_SCRATCH_FILES["detector"])
    weights.save_builtin(det, "bopbtl-detector", LIGHT_DET, builtin_light / DEFAULT_SCRATCH_FILES["detector"],
                         extra={"auto_min_marked": "1.0"})
    path = builtin_light / DEFAULT_RESTORE_FILES["mapping-scratch"]
    cfg = {"kind": "scratch", **LIGHT_MAP}
    weights.save_builtin(weights.load_builtin(path), "bopbtl-mapping", cfg, path, extra={"hole_fill": "none"})
    stage = build_restore_stage(RestoreOptions(scratches="auto"), RunOptions(device="cpu"))
    assert stage.scratch.hole_fill == "none" and stage._auto_min_marked == 0.0
    stage([_photo(48, 64)])
    assert stage.report()["scratch_frames"] == 1


def test_auto_follows_the_cut_saved_with_the_scratch_mapping(builtin_light):
    """A cut measured for the restorer (saved with its scratch mapping) wins over the detector's
    share and over the keep-the-pixels rule: 1 (never) keeps `auto` on the quality path although
    the fixture's detector marks every pixel and its own share says 0.5."""
    det = weights.load_builtin(builtin_light / DEFAULT_SCRATCH_FILES["detector"])
    weights.save_builtin(det, "bopbtl-detector", LIGHT_DET, builtin_light / DEFAULT_SCRATCH_FILES["detector"],
                         extra={"auto_min_marked": "0.5"})
    path = builtin_light / DEFAULT_RESTORE_FILES["mapping-scratch"]
    cfg = {"kind": "scratch", **LIGHT_MAP}
    weights.save_builtin(weights.load_builtin(path), "bopbtl-mapping", cfg, path,
                         extra={"hole_fill": "none", "auto_min_marked": "1"})
    stage = build_restore_stage(RestoreOptions(scratches="auto"), RunOptions(device="cpu"))
    assert stage.scratch.auto_min_marked == 1.0 and stage._auto_min_marked == 1.0
    stage([_photo(48, 64)])
    assert stage.report()["scratch_frames"] == 0
    on = build_restore_stage(RestoreOptions(scratches="on"), RunOptions(device="cpu"))
    on([_photo(48, 64)])
    assert on.report()["scratch_frames"] == 1


def _norm_free_scratch_nets() -> RestorerNets:
    torch.manual_seed(2)
    vae = {**LIGHT_VAE, "norm": "none"}
    return RestorerNets(build_vae(vae).eval(), build_mapping({"kind": "scratch", **LIGHT_MAP, "norm": "none"}).eval(),
                        build_vae(vae).eval(), hole_fill="none")


def _recorded_then_tiled(nets: RestorerNets, img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The full context pass (encoder, mapping and decoder on the proxy), then the tiles."""
    models = (nets.encoder, nets.mapping, nets.decoder)
    with torch.inference_mode():
        small, small_mask = restorer._proxy(img, mask, SMALL_TILES.stats_size, nets.align)
        with recording(*models):
            restorer._forward_whole(nets, small, small_mask, torch.device("cpu"))
        with applying(*models):
            return to_uint8(restorer._tiled(nets, img, mask, SMALL_TILES, torch.device("cpu")))


@pytest.mark.parametrize("marked", [False, True])
def test_norm_free_scratch_path_records_only_what_its_tiles_use(monkeypatch, marked):
    """Our defaults (norm "none", pixels kept): without a hole no whole-frame pass runs at all (a
    partial non-local block then passes its input through), and with holes the pass skips the
    decoder, whose output it would throw away. Either way the output is the full pass's."""
    nets = _norm_free_scratch_nets()
    img = _photo(64, 96)
    mask = _scratch_mask(64, 96) if marked else np.zeros((64, 96), bool)
    reference = _recorded_then_tiled(nets, img, mask)
    (block,) = [m for m in nets.mapping.modules() if isinstance(m, PartialNonLocal)]
    passes, decoded_while_recording = [], []
    real_proxy, real_decode = restorer._proxy, nets.decoder.decode
    monkeypatch.setattr(restorer, "_proxy", lambda *a: passes.append(1) or real_proxy(*a))
    monkeypatch.setattr(nets.decoder, "decode",
                        lambda z: decoded_while_recording.append(block.mode == "record") or real_decode(z))
    with torch.inference_mode():
        out = restore_image(nets, img, mask, SMALL_TILES)
    assert np.array_equal(out, reference)
    assert len(passes) == int(marked) and decoded_while_recording and not any(decoded_while_recording)


def test_tile_side_follows_the_networks_unless_given(builtin_light):
    """Instance-norm nets (the published files, and this fixture) keep 512 px tiles to bound their
    memory; norm-free nets (our defaults) take 1024, so an SD frame runs whole; an explicit tile wins."""
    assert build_restore_stage(RestoreOptions(), RunOptions(device="cpu")).settings.tile == 512
    assert build_restore_stage(RestoreOptions(tile=256), RunOptions(device="cpu")).settings.tile == 256
    light = _norm_free_scratch_nets()
    assert restorer.default_tile(None, light) == 1024 and restorer.default_tile(_nets("quality"), light) == 512

"""The face stage on real portraits: bit-exact outside faces, edge cases, smoothing, building."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from oldfilm.errors import NoWeightsError, OldfilmError
from oldfilm.options import FaceOptions, RunOptions
from oldfilm.restore.faces.align import similarity_scale
from oldfilm.restore.faces.blend import _frame_box
from oldfilm.restore.faces.landmarks import LICENCE_NOTE_68, AlignPoints
from oldfilm.restore.faces.smoothing import LandmarkSmoother
from oldfilm.restore.faces.spade import ARCH_NAME, build_face_generator
from oldfilm.restore.faces.stage import FaceStage, build_face_stage
from oldfilm.weights import save_builtin

DATA = Path(__file__).parent / "data" / "faces"
TINY = {"ngf": 4, "spade_hidden": 8}


def photo(name: str, scale: float = 1.0) -> np.ndarray:
    img = Image.open(DATA / f"{name}.jpg").convert("RGB")
    if scale != 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
    return np.asarray(img)


@pytest.fixture(scope="module")
def generator():
    torch.manual_seed(0)
    return build_face_generator(TINY).eval()


@pytest.fixture
def stage(generator):
    return FaceStage(generator, 64, FaceOptions())


def _face_boxes_mask(stage: FaceStage, img: np.ndarray, dilate: int = 3) -> np.ndarray:
    stage.reset()
    mask = np.zeros(img.shape[:2], bool)
    for face in stage.find_faces(img):
        x0, y0, x1, y1 = _frame_box(face.crop_to_frame, face.size, *img.shape[:2])
        mask[max(0, y0 - dilate) : y1 + dilate, max(0, x0 - dilate) : x1 + dilate] = True
    stage.reset()
    return mask


@pytest.mark.parametrize("name", ["grace_hopper", "obama"])
def test_pixels_away_from_faces_are_bit_exact(stage, name):
    img = photo(name)
    mask = _face_boxes_mask(stage, img)
    (out,) = stage([img])
    assert stage.report() == {"faces": 1}
    assert 0.02 < mask.mean() < 0.6
    assert np.array_equal(out[~mask], img[~mask])
    assert (out[mask] != img[mask]).any(axis=-1).mean() > 0.3       # the face itself was replaced


def test_zero_faces(stage):
    img = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    (out,) = stage([img])
    assert np.array_equal(out, img) and stage.report() == {"faces": 0}


def test_twenty_faces(stage):
    img = photo("obama", 0.5)                       # face about 75 px
    tile = img[20:140, 70:180]
    grid = np.concatenate([np.concatenate([tile] * 5, axis=1)] * 4, axis=0)
    (out,) = stage([grid])
    assert out.shape == grid.shape
    assert stage.report()["faces"] == 20


def test_faces_cut_by_the_frame_border(stage):
    img = photo("grace_hopper")
    for cut in (img[:, 170:], img[150:, :], img[:200, :260]):
        (out,) = stage([np.ascontiguousarray(cut)])
        stage.reset()
        assert out.shape == cut.shape and out.dtype == np.uint8


def test_tiny_faces_are_skipped(generator):
    img = photo("obama", 0.125)                     # face about 19 px
    small = FaceStage(generator, 64, FaceOptions(min_face=24))
    (out,) = small([img])
    assert np.array_equal(out, img) and small.report() == {"faces": 0}
    big = FaceStage(generator, 64, FaceOptions(min_face=400))   # stated threshold honoured at full size
    img = photo("obama")
    (out,) = big([img])
    assert np.array_equal(out, img) and big.report() == {"faces": 0}


def test_profile_and_rotated_faces_do_not_crash(stage):
    img = photo("obama")
    squashed = np.asarray(Image.fromarray(img).resize((img.shape[1] // 3, img.shape[0])))
    for frame in (np.ascontiguousarray(np.rot90(img)), squashed, np.ascontiguousarray(img[:, ::-1][:, 250:])):
        (out,) = stage([frame])
        assert out.shape == frame.shape


def _clip(n: int) -> list[np.ndarray]:
    img = photo("grace_hopper")
    return [np.ascontiguousarray(img[10 + i : 400 + i, 20 + 2 * i : 400 + 2 * i]) for i in range(n)]


def test_result_does_not_depend_on_batching_and_reset_clears(stage):
    frames = _clip(4)
    whole = stage(frames)
    assert stage.report() == {"faces": 4}
    stage.reset()
    assert stage.report() == {"faces": 0}
    split = stage(frames[:1]) + stage(frames[1:])
    for a, b in zip(whole, split):
        # Same crops (smoothing is causal); only the network's batch-size float rounding may differ.
        assert np.abs(a.astype(int) - b).max() <= 1 and np.mean(a == b) > 0.99
    stage.reset()
    alone = stage(frames[3:])                       # after reset: no history, other crop
    assert np.abs(alone[0].astype(int) - whole[3]).max() > 8


def _pts(x: float, y: float, eye: float = 50.0) -> AlignPoints:
    base = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.2, 0.9], [0.8, 0.9]]) * eye
    return AlignPoints(base + [x, y], "bopbtl5")


def test_smoother_damps_jitter_and_follows_motion():
    rng = np.random.default_rng(0)
    sm = LandmarkSmoother()
    raw, smooth = [], []
    for _ in range(60):
        p = _pts(100, 100)
        noisy = AlignPoints(p.points + rng.normal(0, 1.5, p.points.shape), p.scheme)
        raw.append(noisy.points)
        smooth.append(sm([noisy])[0].points)
    assert np.std(smooth[10:], axis=0).mean() < 0.6 * np.std(raw[10:], axis=0).mean()
    jumped = _pts(140, 100)
    assert np.allclose(sm([jumped])[0].points, jumped.points)          # 0.8 eye distances: follow at once


def test_smoother_keeps_tracks_apart_and_reset_forgets():
    sm = LandmarkSmoother()
    a, b = _pts(0, 0), _pts(300, 0)
    sm([a, b])
    out = sm([_pts(301, 0), _pts(1, 0)])                                 # order swapped, tiny moves
    assert out[0].points[0, 0] > 250 and out[1].points[0, 0] < 50
    assert 0 < out[1].points[0, 0] < 1                                   # smoothed toward the track
    sm.reset()
    assert np.allclose(sm([_pts(1, 0)])[0].points, _pts(1, 0).points)


def test_build_face_stage_without_weights(monkeypatch, tmp_path):
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path))
    run = RunOptions(device="cpu")
    assert build_face_stage(FaceOptions(enabled=False), run) is None
    assert build_face_stage(FaceOptions(enabled=None), run) is None
    with pytest.raises(NoWeightsError) as e:
        build_face_stage(FaceOptions(enabled=True), run)
    assert "\n" not in str(e.value) and "--faces" in str(e.value) and "face-default.safetensors" in str(e.value)
    with pytest.raises(NoWeightsError, match="bopbtl"):
        build_face_stage(FaceOptions(enabled=None, model="bopbtl"), run)


def test_build_face_stage_with_the_builtin_default(monkeypatch, tmp_path, generator):
    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path))
    save_builtin(generator, ARCH_NAME, TINY, tmp_path / "face-default.safetensors", extra={"crop_size": 64})
    stage = build_face_stage(FaceOptions(), RunOptions(device="cpu"))
    assert isinstance(stage, FaceStage) and stage.crop_size == 64
    assert stage.detector.kind == "cnn"             # photos: the detector that finds faded old faces
    assert build_face_stage(FaceOptions(), RunOptions(device="cpu"), is_video=True).detector.kind == "hog/2+cnn/48+track"
    assert build_face_stage(FaceOptions(keyframe_every=5), RunOptions(device="cpu"), is_video=True).detector.every == 5
    with pytest.raises(OldfilmError, match="--face-keyframes"):
        build_face_stage(FaceOptions(keyframe_every=0), RunOptions(device="cpu"), is_video=True)
    assert build_face_stage(FaceOptions(detector="hog"), RunOptions(device="cpu")).detector.kind == "hog"
    with pytest.raises(OldfilmError, match="--face-detector"):
        build_face_stage(FaceOptions(detector="mtcnn"), RunOptions(device="cpu"))
    (out,) = stage([photo("grace_hopper", 0.3)])
    assert stage.report() == {"faces": 1} and stage.warnings == []
    stage68 = build_face_stage(FaceOptions(landmarks=68), RunOptions(device="cpu"))
    assert stage68.warnings == [LICENCE_NOTE_68] and "commercial" in LICENCE_NOTE_68


def test_without_the_global_restorer_default_means_the_model_for_raw_faces(monkeypatch, tmp_path, generator):
    """`--no-restore --faces` loads face-default-alone (learnt on raw degraded faces) when it is
    installed, else face-default; after the restorer, and for any other name, the name as given."""
    from oldfilm.options import PipelineOptions, RestoreOptions
    from oldfilm.pipeline import build_stages

    monkeypatch.setenv("OLDFILM_CHECKPOINTS", str(tmp_path))
    save_builtin(generator, ARCH_NAME, TINY, tmp_path / "face-default.safetensors", extra={"crop_size": 64})
    assert build_face_stage(FaceOptions(), RunOptions(device="cpu"), after_restorer=False).crop_size == 64
    save_builtin(generator, ARCH_NAME, TINY, tmp_path / "face-default-alone.safetensors", extra={"crop_size": 32})
    assert build_face_stage(FaceOptions(), RunOptions(device="cpu"), after_restorer=False).crop_size == 32
    assert build_face_stage(FaceOptions(), RunOptions(device="cpu")).crop_size == 64
    opts = PipelineOptions(restore=RestoreOptions(enabled=False), faces=FaceOptions(enabled=True))
    (faces,) = build_stages(opts, is_video=False)
    assert faces.crop_size == 32


def test_crop_scale_follows_face_size(stage):
    big, small = photo("obama"), photo("obama", 0.5)
    fb, fs = stage.find_faces(big)[0], (stage.reset(), stage.find_faces(small))[1][0]
    assert similarity_scale(fb.crop_to_frame) == pytest.approx(2 * similarity_scale(fs.crop_to_frame), rel=0.1)


def test_black_and_white_photo_gets_no_colour_from_the_face_generator(stage):
    grey = photo("grace_hopper").mean(axis=2, keepdims=True).round().astype(np.uint8).repeat(3, axis=2)
    (out,) = stage([grey])
    assert stage.report() == {"faces": 1}
    assert not np.array_equal(out, grey)                       # the face was replaced...
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])   # ...in grey
    stage.reset()
    (colour,) = stage([photo("grace_hopper")])
    assert np.abs(colour.astype(int) - colour[..., :1]).max() > 10       # a colour photo keeps its colour


def test_face_detector_option_defaults_by_medium():
    assert FaceOptions().detector_for(is_video=False) == "cnn"
    assert FaceOptions().detector_for(is_video=True) == "track"
    assert FaceOptions(detector="cnn").detector_for(is_video=True) == "cnn"

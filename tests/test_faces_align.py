"""Face detection, landmarks and BOPBTL-template alignment on real portraits."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oldfilm.restore.faces.align import (
    align_face,
    bopbtl_template,
    estimate_similarity,
    similarity_scale,
    template_for,
    warp_crop,
)
from oldfilm.restore.faces.detect import FaceDetector, plan_detection, smallest_detectable_face
from oldfilm.restore.faces.landmarks import LandmarkModel, models_dir

DATA = Path(__file__).parent / "data" / "faces"


def photo(name: str) -> np.ndarray:
    return np.asarray(Image.open(DATA / f"{name}.jpg").convert("RGB"))


@pytest.fixture(scope="module")
def detector():
    return FaceDetector(min_face=24)


@pytest.fixture(scope="module")
def lm5():
    return LandmarkModel(5)


@pytest.fixture(scope="module")
def lm68():
    return LandmarkModel(68)


def test_bopbtl_template_matches_spec():
    expected = [[89, 108.5], [167, 108.5], [128, 147.5], [104.6, 195.86], [151.4, 195.86]]
    assert np.allclose(bopbtl_template(256), expected, atol=1e-3)
    assert np.allclose(bopbtl_template(512), np.array(expected) * 2, atol=2e-3)


def test_dlib5_template_eyes_sit_on_bopbtl_eyes():
    t5, tb = template_for("dlib5", 256), bopbtl_template(256)
    right_eye, left_eye = (t5[0] + t5[1]) / 2, (t5[2] + t5[3]) / 2
    assert np.linalg.norm(left_eye - tb[0]) < 4 and np.linalg.norm(right_eye - tb[1]) < 4
    assert tb[2][1] < t5[4][1] < (tb[3][1] + tb[2][1]) / 2      # nose bottom: below the tip, above the mouth


def test_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 256, (5, 2))
    a, s, t = np.deg2rad(23.0), 1.7, np.array([40.0, -12.5])
    rot = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    m = estimate_similarity(src, src @ rot.T + t)
    assert np.allclose(m[:2, :2], rot) and np.allclose(m[:2, 2], t)
    assert similarity_scale(m) == pytest.approx(1.7)


def test_similarity_agrees_with_skimage():
    transform = pytest.importorskip("skimage.transform")
    rng = np.random.default_rng(1)
    src, dst = rng.uniform(0, 256, (5, 2)), rng.uniform(0, 512, (5, 2))
    ref = transform.SimilarityTransform.from_estimate(src, dst)
    assert np.allclose(estimate_similarity(src, dst), ref.params, atol=1e-9)


def test_degenerate_points_give_none():
    assert estimate_similarity(np.zeros((5, 2)), np.ones((5, 2))) is None
    assert estimate_similarity(bopbtl_template(256), np.full((5, 2), np.nan)) is None


def test_crop_matches_skimage_warp():
    transform = pytest.importorskip("skimage.transform")
    img = photo("grace_hopper")
    m = estimate_similarity(bopbtl_template(64), bopbtl_template(64) * 2.3 + [120.0, 90.0])
    ours = warp_crop(img, m, 64).astype(int)
    ref = transform.warp(img, transform.SimilarityTransform(m), output_shape=(64, 64, 3), order=1)
    ref = np.rint(ref * 255).astype(int)
    # OpenCV quantises sample positions to 1/32 px: a few levels on sharp edges, most pixels equal.
    assert np.abs(ours - ref).max() <= 4 and np.mean(np.abs(ours - ref) <= 1) > 0.99


def test_detection_plan_upsamples_small_frames_and_shrinks_big_ones():
    small = plan_detection(240, 320, min_face=24)
    assert small.upsampled and smallest_detectable_face(small) <= 24
    big = plan_detection(4000, 6000, min_face=24)
    assert big.scale < 0.3 and 4000 * 6000 * big.scale**2 <= 1_000_000 * 1.0001
    hd = plan_detection(1080, 1920, min_face=24, max_pixels=2_100_000)
    assert smallest_detectable_face(hd) <= 80          # a bigger budget searches 1080p at full size
    assert plan_detection(480, 640, min_face=160).scale == pytest.approx(0.5)


def test_models_are_found_without_importing_the_package():
    import sys

    assert (models_dir() / "shape_predictor_5_face_landmarks.dat").is_file()
    assert "face_recognition_models" not in sys.modules


@pytest.mark.parametrize("name", ["grace_hopper", "obama"])
def test_one_face_found_and_both_landmark_models_agree(name, detector, lm5, lm68):
    img = photo(name)
    boxes = detector(img)
    assert len(boxes) == 1 and boxes[0].size > 100
    p5, p68 = lm5(img, boxes[0]), lm68(img, boxes[0])
    assert (p5.scheme, p68.scheme) == ("dlib5", "bopbtl5")
    assert 0.25 * boxes[0].size < p5.eye_distance < 0.6 * boxes[0].size
    a5, a68 = align_face(img, p5, 256), align_face(img, p68, 256)
    corners = np.array([[0, 0, 1], [256, 0, 1], [0, 256, 1], [256, 256, 1]], float)
    shift = np.linalg.norm((corners @ a5.crop_to_frame.T - corners @ a68.crop_to_frame.T)[:, :2], axis=1).max()
    assert shift / a68.face_side < 0.1                      # docs/faces.md: 2-7 % on the fixtures
    assert a5.crop.shape == (256, 256, 3) and a5.crop.dtype == np.uint8


def test_no_face_in_a_face_free_image(detector):
    rng = np.random.default_rng(0)
    img = (rng.random((120, 160, 3)) * 40 + 100).astype(np.uint8)
    assert detector(img) == []


def test_small_face_is_found_by_upsampling(detector):
    img = photo("obama")
    small = np.asarray(Image.fromarray(img).resize((128, 160), Image.BILINEAR))   # face ~38 px
    assert detector.plan(160, 128).upsampled
    assert len(detector(small)) == 1
    assert len(FaceDetector(min_face=120)(small)) == 0     # at upsample 0 the same face is missed


def test_cnn_detector_finds_the_faded_old_face_hog_misses():
    old = np.asarray(Image.open(DATA.parent / "old_photos" / "rni6_David_Hilbert.png").convert("RGB"))
    assert FaceDetector(min_face=24)(old) == []                       # HOG, as the photo plan runs it
    boxes = FaceDetector(min_face=60, kind="cnn")(old)               # 1.33x copy: fast enough for a test
    assert len(boxes) == 1
    b = boxes[0]
    # Hilbert's face (between hat brim and collar): centre near (104, 146), about 100 px
    assert abs((b.left + b.right) / 2 - 104) < 15 and abs((b.top + b.bottom) / 2 - 146) < 15
    assert 70 < b.size < 140 and b.score > 0


def test_unknown_detector_kind_is_one_clear_error():
    from oldfilm.errors import OldfilmError

    with pytest.raises(OldfilmError, match="face detector 'mtcnn'"):
        FaceDetector(kind="mtcnn")

"""Blending enhanced faces back: feathered alpha, colour matching, order-free compositing."""
from __future__ import annotations

import numpy as np

from oldfilm.restore.faces.blend import PasteFace, crop_alpha, match_colour, paste_faces, valid_mask


def _ramp_width(alpha: np.ndarray) -> int:
    row = alpha[alpha.shape[0] // 2]
    return int(np.argmax(row >= 1.0))


def test_alpha_is_zero_at_edges_one_inside_and_scales_with_crop():
    a64, a256 = crop_alpha(np.ones((64, 64), bool)), crop_alpha(np.ones((256, 256), bool))
    for a in (a64, a256):
        assert a[0].max() == 0 and a[:, -1].max() == 0 and a[a.shape[0] // 2, a.shape[1] // 2] == 1
    assert abs(_ramp_width(a256) - 4 * _ramp_width(a64)) <= 4


def test_alpha_is_zero_where_the_crop_left_the_frame():
    shift = np.array([[1.0, 0, -32], [0, 1, 0], [0, 0, 1]])      # crop x = frame x + 32: left half outside
    valid = valid_mask(shift, 64, (100, 100))
    assert not valid[:, :32].any() and valid[:, 33:63].all()
    assert crop_alpha(valid)[:, :33].max() == 0


def test_colour_match_moves_mean_and_std():
    rng = np.random.default_rng(0)
    face = (50 + 10 * rng.standard_normal((32, 32, 3))).astype(np.float32)
    ref = np.clip(150 + 30 * rng.standard_normal((32, 32, 3)), 0, 255).astype(np.uint8)
    out = match_colour(face, ref, np.ones((32, 32), np.float32))
    assert np.allclose(out.mean((0, 1)), ref.mean((0, 1)), atol=1.0)
    assert np.allclose(out.std((0, 1)), ref.std((0, 1)), atol=1.0)


def _face(value: float, x: float, y: float, scale: float, size: int = 64) -> PasteFace:
    m = np.array([[scale, 0, x], [0, scale, y], [0, 0, 1]], dtype=np.float64)
    return PasteFace(np.full((size, size, 3), value, np.float32), crop_alpha(np.ones((size, size), bool)), m)


def test_no_faces_returns_the_frame():
    frame = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    out = paste_faces(frame, [])
    assert np.array_equal(out, frame) and out is not frame


def test_overlapping_faces_composite_in_any_order():
    frame = np.random.default_rng(2).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    a, b = _face(20.0, 10, 10, 1.2), _face(230.0, 50, 30, 1.0)
    ab, ba = paste_faces(frame, [a, b]), paste_faces(frame, [b, a])
    assert np.array_equal(ab, ba)
    assert ab[50, 25].mean() < 30 and ab[80, 100].mean() > 220       # (row, col) covered by one face only
    overlap = ab[60, 70].mean()
    assert 20 < overlap < 230                                        # blended, not overwritten


def test_face_partly_outside_the_frame_and_far_pixels_untouched():
    frame = np.random.default_rng(3).integers(0, 256, (80, 100, 3), dtype=np.uint8)
    out = paste_faces(frame, [_face(0.0, -30, -20, 1.0), _face(0.0, 80, 60, 1.0)])
    assert out.shape == frame.shape
    assert np.array_equal(out[45:55, 40:50], frame[45:55, 40:50])
    assert (out[5:15, 5:15] != frame[5:15, 5:15]).any()
    far = paste_faces(frame, [_face(0.0, 500, 500, 1.0)])            # entirely outside: nothing changes
    assert np.array_equal(far, frame)

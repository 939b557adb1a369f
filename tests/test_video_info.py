"""`oldfilm info`: describe()/format_info() for videos and photos, and the B&W decision."""
from __future__ import annotations

import numpy as np
from PIL import Image

from oldfilm.monochrome import is_monochrome
from oldfilm.video.info import describe, format_info

from video_clips import VFR_PTS, make_clip, pattern


def toned(i: int, w: int, h: int, tint=(1.0, 1.0, 1.0)) -> np.ndarray:
    g = pattern(i, w, h).mean(axis=2, keepdims=True) / 255.0
    return np.clip(g * np.array(tint) * 255, 0, 255).astype(np.uint8)


def test_the_test_clips_are_judged_as_the_info_tests_expect():
    grey, sepia = toned(3, 64, 48), toned(3, 64, 48, (1.0, 0.86, 0.67))
    assert is_monochrome([grey, sepia]) and not is_monochrome([pattern(i, 64, 48) for i in range(3)])


def test_describe_video(tmp_path):
    n = len(VFR_PTS)
    bw = make_clip(tmp_path / "bw.mp4", frames=[toned(i, 64, 48, (1.0, 0.86, 0.67)) for i in range(n)],
                   rotation=90)
    d = describe(bw)
    assert d["kind"] == "video" and d["black_and_white"] is True
    assert (d["width"], d["height"], d["rotation"]) == (48, 64, 90)
    assert d["frames"] == n and d["bit_depth"] == 8 and [s["type"] for s in d["streams"]] == ["video", "audio"]
    text = format_info(d)
    assert d["variable_frame_rate"] is True
    for word in ("48x64", "rotated 90", "variable frame rate", "8-bit", "black-and-white: yes", "aac", "h264"):
        assert word in text, word
    colour = describe(make_clip(tmp_path / "c.mkv", audio=None))
    assert colour["black_and_white"] is False and "no (colour)" in format_info(colour)


def test_describe_image(tmp_path):
    p = tmp_path / "old.png"
    Image.fromarray(toned(0, 64, 48)[..., 0], "L").save(p)
    d = describe(p)
    assert d["kind"] == "image" and d["black_and_white"] is True and (d["width"], d["height"]) == (64, 48)
    assert "PNG, 64x48, 8-bit L" in format_info(d)

"""--saturation and --map-color: the user's say over the colorizer's colours (USERS.md §9)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from oldfilm.cli import build_parser, main, options_from_args
from oldfilm.colorize.adjust import ColorMap, adjust_colors, cielab, parse_color
from oldfilm.colorize.generator import LIGHT_CONFIG, build_generator
from oldfilm.colorize.stage import ColorizeStage
from oldfilm.errors import OldfilmError
from oldfilm.options import ColorizeOptions

BLUE, RED, GREY, PALE_BLUE, ORANGE = (40, 80, 200), (200, 30, 30), (128, 128, 128), (150, 160, 190), (230, 130, 30)
BLUISH_GREY = (125, 128, 135)     # CIELAB chroma 4.2: a grey with a cast, no colour to move


def _patches(*colours: tuple[int, int, int]) -> np.ndarray:
    """uint8 RGB, one 4x6 patch per colour, stacked vertically."""
    return np.concatenate([np.full((4, 6, 3), c, np.uint8) for c in colours], 0)


def _hue(rgb: np.ndarray) -> np.ndarray:
    lab = cielab(rgb)
    return np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))


def _hue_gap(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    return np.abs((np.asarray(a) - b + 180) % 360 - 180)


def test_nothing_to_do_returns_the_frame_itself():
    x = _patches(BLUE, RED)
    assert adjust_colors(x) is x


def test_saturation_scales_chroma_and_keeps_lightness():
    x = _patches(BLUE, RED, PALE_BLUE, ORANGE)
    grey = adjust_colors(x, 0.0)
    assert np.ptp(grey.astype(int), axis=2).max() <= 1                       # R = G = B
    assert np.abs(cielab(grey)[..., 0] - cielab(x)[..., 0]).max() < 1.0
    lab, half = cielab(x), cielab(adjust_colors(x, 0.5))
    ratio = np.hypot(half[..., 1], half[..., 2]) / np.hypot(lab[..., 1], lab[..., 2])
    assert np.allclose(ratio, 0.5, atol=0.03)
    assert _hue_gap(_hue(adjust_colors(x, 0.5)), _hue(x)).max() < 2.0         # hues stay
    with pytest.raises(ValueError):
        adjust_colors(x, -0.5)


def test_a_map_moves_its_hue_and_leaves_other_hues_and_greys_alone():
    x = _patches(BLUE, RED, GREY, PALE_BLUE, BLUISH_GREY)
    out = adjust_colors(x, 1.0, (ColorMap.parse("blue=green"),))
    green_hue = _hue(np.array([[parse_color("green")]], np.uint8))[0, 0]
    assert _hue_gap(_hue(out[0:4]), green_hue).max() < 8                      # vivid blue -> green
    blue_hue = _hue(np.array([[parse_color("blue")]], np.uint8))[0, 0]
    offset = _hue(x[12:16]) - blue_hue                                        # pale blue sits off blue's hue...
    assert _hue_gap(_hue(out[12:16]), green_hue + offset).max() < 3           # ...and keeps that offset around green
    pale = cielab(out[12:16])
    assert np.hypot(pale[..., 1], pale[..., 2]).max() < 25                    # and stays pale
    assert np.abs(out[4:12].astype(int) - x[4:12]).max() <= 1                 # red, grey: untouched
    assert np.abs(out[16:20].astype(int) - x[16:20]).max() <= 1               # a grey's blue cast: untouched
    assert np.abs(cielab(out)[..., 0] - cielab(x)[..., 0]).max() < 1.0           # lightness kept


def test_map_width_fades_the_change_out_with_hue_distance():
    src = parse_color("blue")
    lab_src = cielab(np.array([[src]], np.uint8))[0, 0]
    c, h = np.hypot(lab_src[1], lab_src[2]), np.arctan2(lab_src[2], lab_src[1])

    def at(offset_deg: float) -> np.ndarray:
        """A pixel of blue's chroma and lightness, its hue ``offset_deg`` away."""
        import cv2

        t = h + np.radians(offset_deg)
        lab = np.array([[[lab_src[0], 0.6 * c * np.cos(t), 0.6 * c * np.sin(t)]]], np.float32)
        return np.clip(np.round(cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255), 0, 255).astype(np.uint8)

    m = ColorMap.parse("blue=green:20")
    moved = [float(_hue_gap(_hue(adjust_colors(at(d), 1.0, (m,))), _hue(at(d)))[0, 0]) for d in (0, 10, 30, 45)]
    assert moved[0] > 60 and moved[1] > 60                                    # within the width: all the way
    assert 2 < moved[2] < moved[0]                                            # between width and 2x: part way
    assert moved[3] < 1.5                                                     # beyond 2x: untouched


def test_colour_and_map_parsing_errors_name_the_problem():
    assert parse_color("#E8C547") == (0xE8, 0xC5, 0x47) == parse_color("e8c547")
    assert parse_color(" Red ") == parse_color("red")
    assert ColorMap.parse("yellow=#E8C547:40").width == 40
    for bad, msg in (("blue", "expected FROM=TO"), ("blue=", "expected FROM=TO"), ("blue=nope", "'nope'"),
                     ("#808080=red", "grey and has no hue"), ("blue=green:2", "out of range"),
                     ("blue=green:wide", "not a number")):
        with pytest.raises(OldfilmError, match=msg) as e:
            ColorMap.parse(bad)
        assert bad in str(e.value) and "\n" not in str(e.value)


def test_options_validate_before_any_file_is_opened():
    ColorizeOptions(enabled=True, saturation=1.3, color_maps=("blue=green",))
    with pytest.raises(OldfilmError, match="--saturation 5"):
        ColorizeOptions(enabled=True, saturation=5)
    with pytest.raises(OldfilmError, match="add --colorize"):
        ColorizeOptions(enabled=False, saturation=1.3)
    with pytest.raises(OldfilmError, match="--map-color 'blue=nope'"):
        ColorizeOptions(enabled=True, color_maps=("blue=nope",))
    args = build_parser("colorize").parse_args(["colorize", "x.jpg", "--saturation", "1.3", "--map-color", "blue=green",
                                                "--map-color", "yellow=#E8C547"])
    o = options_from_args(args).colorize
    assert o.saturation == 1.3 and o.color_maps == ("blue=green", "yellow=#E8C547")


def test_stage_applies_the_adjustments_and_reports_them():
    torch.manual_seed(0)
    net = build_generator(LIGHT_CONFIG).eval()
    frames = [np.random.default_rng(i).integers(0, 255, (40, 56, 3), dtype=np.uint8) for i in range(2)]
    plain = ColorizeStage(net, 4, torch.device("cpu"))
    grey = ColorizeStage(net, 4, torch.device("cpu"), saturation=0.0, color_maps=(ColorMap.parse("blue=red"),))
    base, out = plain(frames), grey(frames)
    for b, o in zip(base, out):
        assert np.array_equal(o, adjust_colors(b, 0.0, (ColorMap.parse("blue=red"),)))
        assert np.ptp(o.astype(int), axis=2).max() <= 1
    rep = grey.report()
    assert rep["saturation"] == 0.0 and rep["color_maps"] == ["#2850c8=#c81e1e:25"]
    assert "saturation" not in plain.report() and "color_maps" not in plain.report()


def test_cli_refuses_a_bad_map_in_one_line(tmp_path, capsys):
    import cv2

    photo = tmp_path / "a.png"
    cv2.imwrite(str(photo), np.full((8, 8, 3), 100, np.uint8))
    code = main(["colorize", str(photo), "--map-color", "blue=nope", "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "--map-color 'blue=nope'" in err[0]
    assert main(["restore", str(photo), "--saturation", "1.5", "-q"]) != 0
    assert "add --colorize" in capsys.readouterr().err
    assert not (tmp_path / "a_colorized.png").exists() and not (tmp_path / "a_restored.png").exists()

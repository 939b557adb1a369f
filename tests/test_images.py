"""Photo I/O: formats kept, 16-bit kept bit-exact, EXIF orientation, EXIF/ICC, gray, alpha."""
from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms

from oldfilm.errors import BadInputError
from oldfilm.images import apply_residual, read_image, to_uint8, write_image


def gradient(h=48, w=64, dtype=np.uint8) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    top = 255 if dtype == np.uint8 else 65535
    rgb = np.stack([x * top // (w - 1), y * top // (h - 1), (x + y) * top // (w + h - 2)], -1)
    return rgb.astype(dtype)


@pytest.mark.parametrize("fmt,ext,lossless", [("PNG", "png", True), ("TIFF", "tif", True),
                                              ("BMP", "bmp", True), ("WEBP", "webp", False),
                                              ("JPEG", "jpg", False)])
def test_round_trip_keeps_format_and_size(tmp_path, fmt, ext, lossless):
    src = tmp_path / f"in.{ext}"
    Image.fromarray(gradient()).save(src, format=fmt, **({"quality": 95} if not lossless else {}))
    rgb, meta = read_image(src)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8 and meta.format == fmt
    out = tmp_path / "out.partial"                    # any name: the format comes from meta
    write_image(out, rgb, meta)
    with Image.open(out) as im:
        assert im.format == fmt and im.size == (64, 48)
    back, _ = read_image(out)
    if lossless:
        assert np.array_equal(back, rgb)
    else:
        assert np.abs(back.astype(int) - rgb.astype(int)).mean() < 3


@pytest.mark.parametrize("ext", ["tif", "png"])
def test_16bit_round_trip_is_bit_exact(tmp_path, ext):
    rgb16 = gradient(dtype=np.uint16)
    rgb16[5, 7] = (1, 65534, 12345)                   # values 8 bits cannot hold
    src = tmp_path / f"scan.{ext}"
    assert cv2.imwrite(str(src), rgb16[..., ::-1])
    rgb, meta = read_image(src)
    assert rgb.dtype == np.uint16 and meta.bit_depth == 16 and np.array_equal(rgb, rgb16)
    out = tmp_path / f"out.{ext}"
    write_image(out, rgb, meta)
    back, meta2 = read_image(out)
    assert back.dtype == np.uint16 and meta2.bit_depth == 16 and np.array_equal(back, rgb16)


def test_16bit_identity_via_residual_is_exact():
    rgb16 = gradient(dtype=np.uint16) + 77
    before = to_uint8(rgb16)
    assert np.array_equal(apply_residual(rgb16, before, before.copy()), rgb16)
    brighter = np.clip(before.astype(int) + 10, 0, 255).astype(np.uint8)
    out = apply_residual(rgb16, before, brighter)
    changed = brighter.astype(int) - before.astype(int)
    assert np.array_equal(out.astype(int), np.clip(rgb16.astype(int) + changed * 257, 0, 65535))
    assert np.array_equal(to_uint8(np.arange(256, dtype=np.uint16) * 257), np.arange(256))


@pytest.mark.parametrize("orientation,expect", [(1, lambda a: a), (3, lambda a: a[::-1, ::-1]),
                                                (6, lambda a: np.rot90(a, -1)),
                                                (8, lambda a: np.rot90(a, 1)),
                                                (2, lambda a: a[:, ::-1])])
def test_exif_orientation_applied_and_reset(tmp_path, orientation, expect):
    stored = gradient()
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"                          # Make: must survive the round trip
    src = tmp_path / "photo.png"
    Image.fromarray(stored).save(src, exif=exif.tobytes())
    rgb, meta = read_image(src)
    assert np.array_equal(rgb, expect(stored)) and meta.orientation == orientation
    out = tmp_path / "out.png"
    write_image(out, rgb, meta)
    with Image.open(out) as im:
        e = im.getexif()
        assert e.get(0x0112, 1) == 1 and e.get(0x010F) == "TestCam"
    back, _ = read_image(out)
    assert np.array_equal(back, rgb)                  # upright now, not turned twice


def test_jpeg_exif_orientation_and_icc_kept(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6
    src = tmp_path / "cam.jpg"
    Image.fromarray(gradient()).save(src, exif=exif.tobytes(), icc_profile=icc, quality=95)
    rgb, meta = read_image(src)
    assert rgb.shape == (64, 48, 3) and meta.icc == icc
    out = tmp_path / "out.jpg"
    write_image(out, rgb, meta)
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == icc and im.getexif().get(0x0112, 1) == 1
        assert im.size == (48, 64)


def test_gray_comes_back_rgb_and_is_written_gray(tmp_path):
    g = gradient()[..., 0]
    src = tmp_path / "gray.png"
    Image.fromarray(g, "L").save(src)
    rgb, meta = read_image(src)
    assert rgb.shape == (48, 64, 3) and np.array_equal(rgb[..., 0], g) and meta.gray
    out = tmp_path / "out.png"
    write_image(out, rgb, meta)
    with Image.open(out) as im:
        assert im.mode == "L"
    colour = rgb.copy()
    colour[..., 0] = 255 - colour[..., 0]             # a colorized result stays colour
    write_image(out, colour, meta)
    with Image.open(out) as im:
        assert im.mode == "RGB"


def test_alpha_kept(tmp_path):
    rgba = np.dstack([gradient(), np.full((48, 64), 128, np.uint8)])
    src = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(src)
    rgb, meta = read_image(src)
    assert rgb.shape == (48, 64, 3) and meta.alpha is not None
    out = tmp_path / "out.png"
    write_image(out, rgb, meta)
    back = np.asarray(Image.open(out))
    assert back.shape == (48, 64, 4) and np.array_equal(back, rgba)


def test_corrupt_and_empty_files_are_one_line_errors(tmp_path):
    empty = tmp_path / "e.jpg"
    empty.write_bytes(b"")
    junk = tmp_path / "j.png"
    junk.write_bytes(b"garbage!" * 10)
    buf = io.BytesIO()
    Image.fromarray(gradient()).save(buf, format="JPEG")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buf.getvalue()[:200])
    for p, word in [(empty, "0 bytes"), (junk, "not an image"), (cut, "")]:
        with pytest.raises(BadInputError) as e:
            read_image(p)
        assert str(e.value).startswith(str(p)) and "\n" not in str(e.value) and word in str(e.value)
        assert "BytesIO" not in str(e.value)     # no Python object reprs in a user's error line


def test_a_gray_tiff_written_in_colour_is_a_readable_tiff(tmp_path):
    """A TIFF's first directory says how its pixels are stored; carried onto the colorized RGB
    pixels it made a file no reader could open. Only the descriptive tags travel."""
    gray = gradient()[..., 0]
    im = Image.fromarray(gray, "L")
    ifd = im.getexif()
    ifd[315] = "Studio Lumiere"           # Artist
    ifd[270] = "box 12, print 3"           # ImageDescription
    src = tmp_path / "scan.tif"
    im.save(src, exif=ifd, compression="tiff_lzw", dpi=(600, 600))
    rgb, meta = read_image(src)
    assert meta.gray and meta.dpi == (600, 600)
    colour = rgb.copy()
    colour[..., 0] = 255 - colour[..., 0]              # no longer gray: written as RGB
    write_image(tmp_path / "out.tif", colour, meta)
    with Image.open(tmp_path / "out.tif") as out:
        out.load()
        assert out.mode == "RGB" and out.size == im.size
        assert np.array_equal(np.asarray(out), colour)
        tags = out.getexif()
        assert tags[315] == "Studio Lumiere" and tags[270] == "box 12, print 3"
        assert tuple(round(float(v)) for v in out.info["dpi"]) == (600, 600)


@pytest.mark.parametrize("fmt,ext", [("JPEG", "jpg"), ("PNG", "png"), ("TIFF", "tif")])
def test_scan_resolution_kept(tmp_path, fmt, ext):
    src = tmp_path / f"a.{ext}"
    Image.fromarray(gradient()).save(src, format=fmt, dpi=(1200, 1200))
    rgb, meta = read_image(src)
    write_image(tmp_path / f"b.{ext}", rgb, meta)
    with Image.open(tmp_path / f"b.{ext}") as out:
        assert tuple(round(float(v)) for v in out.info["dpi"]) == (1200, 1200)


def test_every_page_of_a_multipage_tiff_is_restored(tmp_path):
    """A print's front (8-bit colour) and back (16-bit grey, 600 dpi, its own caption) in one TIFF:
    both come back, each as it was stored; an animated WebP gives its first frame and says so."""
    from oldfilm.images import read_pages
    from oldfilm.pipeline import Pipeline
    from oldfilm.stage import IdentityStage

    front = gradient()
    back16 = (np.arange(48 * 64).reshape(48, 64) * 21).astype(np.uint16)
    src = tmp_path / "print.tif"
    import tifffile

    with tifffile.TiffWriter(src) as tif:
        tif.write(front, photometric="rgb", metadata=None)
        tif.write(back16, photometric="minisblack", resolution=(600, 600), resolutionunit="INCH",
                  metadata=None, description=None, extratags=[(270, "s", 0, "verso: 'Aunt May, 1921'", True)])
    assert read_image(src)[1].pages == 2
    res = Pipeline(stages=[IdentityStage()]).run_photo(src, tmp_path / "print_restored.tif")
    assert res.frames == 2 and not res.warnings
    pages = read_pages(tmp_path / "print_restored.tif")
    assert len(pages) == 2
    (a, ma), (b, mb) = pages
    assert a.dtype == np.uint8 and np.array_equal(a, front) and not ma.gray
    assert b.dtype == np.uint16 and mb.gray and np.array_equal(b[..., 0], back16)
    assert tuple(round(v) for v in mb.dpi) == (600, 600)
    with Image.open(tmp_path / "print_restored.tif") as out:
        out.seek(1)
        assert out.tag_v2[270] == "verso: 'Aunt May, 1921'" and out.tag_v2[11].startswith("oldfilm ")

    anim = tmp_path / "anim.webp"
    Image.fromarray(gradient()).save(anim, save_all=True, append_images=[Image.fromarray(255 - gradient())])
    res = Pipeline(stages=[IdentityStage()]).run_photo(anim, tmp_path / "anim_r.webp")
    assert any("first of its 2 frames" in w for w in res.warnings)


@pytest.mark.parametrize("ext", ["tif", "png"])
def test_16bit_gray_master_keeps_pixels_and_metadata(tmp_path, ext):
    g16 = (np.arange(48 * 64).reshape(48, 64) * 21).astype(np.uint16)
    src = tmp_path / f"master.{ext}"
    im = Image.frombytes("I;16", (64, 48), g16.astype("<u2").tobytes())
    extra = {"exif": _artist_exif(im)} if ext == "tif" else {}
    im.save(src, dpi=(600, 600), **extra)
    rgb, meta = read_image(src)
    assert rgb.dtype == np.uint16 and meta.gray
    write_image(tmp_path / f"out.{ext}", rgb, meta)
    back, meta2 = read_image(tmp_path / f"out.{ext}")
    assert back.dtype == np.uint16 and np.array_equal(back[..., 0], g16) and meta2.gray
    assert tuple(round(v) for v in meta2.dpi) == (600, 600)
    if ext == "tif":
        with Image.open(tmp_path / "out.tif") as out:
            assert out.getexif()[315] == "Archive"


def _artist_exif(im):
    ifd = im.getexif()
    ifd[315] = "Archive"
    return ifd


def test_a_gray_profile_is_not_put_on_colour_pixels(tmp_path):
    """A gray scan's ICC profile (colour space GRAY) describes one channel: kept on the gray
    output, left off the colorized one, where readers would refuse or misread it."""
    gray_icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    gray_icc = gray_icc[:16] + b"GRAY" + gray_icc[20:]          # only the header's space is read
    src = tmp_path / "scan.png"
    Image.fromarray(gradient()[..., 0], "L").save(src, icc_profile=gray_icc)
    rgb, meta = read_image(src)
    write_image(tmp_path / "gray.png", rgb, meta)
    colour = rgb.copy()
    colour[..., 2] = 0
    write_image(tmp_path / "colour.png", colour, meta)
    with Image.open(tmp_path / "gray.png") as g, Image.open(tmp_path / "colour.png") as c:
        assert g.info.get("icc_profile") == gray_icc
        assert c.mode == "RGB" and "icc_profile" not in c.info


@pytest.mark.parametrize("ext", ["tif", "png"])
def test_16bit_colour_keeps_pixels_and_metadata(tmp_path, ext):
    """A colorized 16-bit master: pixels bit for bit, and the resolution, the descriptive tags
    (with oldfilm's own line) and an RGB ICC profile as the source had them."""
    from oldfilm.provenance import read_exif, stamp_exif

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / f"master.{ext}"
    Image.fromarray(gradient()).save(src, dpi=(800, 800), icc_profile=srgb)
    _, meta = read_image(src)
    exif = Image.Exif()
    exif[315] = "Archive"
    meta.exif = stamp_exif(exif.tobytes(), "oldfilm 1: colorize (default)")
    rgb16 = gradient(dtype=np.uint16)
    write_image(tmp_path / f"out.{ext}", rgb16, meta)
    back, meta2 = read_image(tmp_path / f"out.{ext}")
    assert back.dtype == np.uint16 and np.array_equal(back, rgb16)
    assert tuple(round(v) for v in meta2.dpi) == (800, 800)
    assert meta2.icc == srgb
    assert read_exif(meta2.exif) == "oldfilm 1: colorize (default)"
    with Image.open(tmp_path / f"out.{ext}") as out:
        assert out.getexif()[315] == "Archive"


def test_16bit_colour_with_alpha_round_trips(tmp_path):
    rgb16 = gradient(dtype=np.uint16)
    alpha = (np.arange(48 * 64).reshape(48, 64) * 20).astype(np.uint16)
    for ext in ("tif", "png"):
        src = tmp_path / f"a.{ext}"
        Image.fromarray(gradient()).save(src)
        _, meta = read_image(src)
        meta.alpha = alpha
        write_image(tmp_path / f"b.{ext}", rgb16, meta)
        back, meta2 = read_image(tmp_path / f"b.{ext}")
        assert np.array_equal(back, rgb16) and np.array_equal(meta2.alpha, alpha), ext

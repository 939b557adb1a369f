"""Photo I/O: JPEG, PNG, TIFF (16-bit scans too), WebP, BMP.

Pixels are read with OpenCV (the only reader here that handles 16-bit RGB TIFF and PNG) and
metadata (format, EXIF, ICC) with Pillow. Images come back upright (EXIF orientation applied) as
uint8 or uint16 RGB HxWx3; grayscale and alpha inputs come back as 3-channel RGB, with the alpha
plane kept in the metadata so writing puts it back.
"""
from __future__ import annotations

import errno
import io
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import BadInputError, OutputError
from .image_metadata import TIFF_DESCRIPTIVE_TAGS, ascii_tags, dpi_of, icc_fits, png_with_metadata

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"})
# GIF holds 256 colours at most: a restored or colorized GIF is written as PNG (jobs name it so).
REWRITTEN_AS = {".gif": ".png"}

_EXIF_ORIENTATION = 0x0112
# Pillow format name -> OpenCV encoder extension, for the 16-bit path.
_CV_EXT = {"PNG": ".png", "TIFF": ".tiff"}


@dataclass
class ImageMeta:
    format: str                     # Pillow format name: JPEG, PNG, TIFF, WEBP, BMP
    bit_depth: int                  # 8 or 16 per channel
    exif: bytes | None              # raw EXIF, orientation reset to 1 (pixels are upright)
    icc: bytes | None               # ICC profile
    mode: str                       # Pillow mode of the source: "RGB", "L", "RGBA", "I;16", ...
    orientation: int = 1            # the EXIF orientation that was applied on read
    alpha: np.ndarray | None = None  # HxW, same dtype as the pixels, upright; None when opaque
    gray: bool = False              # source had one channel: written back as one channel
    dpi: tuple[float, float] | None = None   # the scan's resolution, written back where the format holds it
    pages: int = 1                  # pages (multi-page TIFF) or frames (animated WebP/PNG) in the source


def _imdecode_quietly(data: bytes) -> np.ndarray | None:
    """cv2.imdecode without libtiff's warnings on stderr (a tag it does not know, such as the
    ProcessingSoftware line oldfilm writes, is not a problem with the picture)."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    finally:
        cv2.utils.logging.setLogLevel(level)


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an HxW[xC] array, giving the upright image."""
    ops = {
        2: lambda x: x[:, ::-1],
        3: lambda x: x[::-1, ::-1],
        4: lambda x: x[::-1],
        5: lambda x: np.swapaxes(x, 0, 1),
        6: lambda x: np.rot90(x, -1),
        7: lambda x: np.rot90(x, 1)[::-1],
        8: lambda x: np.rot90(x, 1),
    }
    op = ops.get(orientation)
    return np.ascontiguousarray(op(a)) if op else a


def read_image(path: str | Path) -> tuple[np.ndarray, ImageMeta]:
    """Read a photo as upright uint8 or uint16 RGB HxWx3 (16-bit stays 16-bit); of a multi-page
    file, the first page (ImageMeta.pages says how many there are; read_pages reads them all)."""
    return read_pages(path, first_only=True)[0]


def read_pages(path: str | Path, first_only: bool = False) -> list[tuple[np.ndarray, ImageMeta]]:
    """Every page of a multi-page TIFF (a print's front and back, an album), each as read_image
    gives a photo: upright uint8/uint16 RGB HxWx3 and its own metadata. Other files: one page."""
    p, data = _read_bytes(path)
    first = _page_meta(p, data, 0)
    if first_only or first.pages <= 1 or first.format != "TIFF":
        a = _imdecode_quietly(data)
        return [_to_rgb(p, a if a is not None else _pillow_pixels(p, data, 0), first)]
    ok, arrays = cv2.imdecodemulti(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if not ok or len(arrays) != first.pages:          # a page OpenCV cannot read: Pillow, 8-bit
        arrays = [_pillow_pixels(p, data, k) for k in range(first.pages)]
    return [_to_rgb(p, a, first if k == 0 else _page_meta(p, data, k)) for k, a in enumerate(arrays)]


def _read_bytes(path: str | Path) -> tuple[Path, bytes]:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise BadInputError(p, f"cannot read: {e.strerror or e}") from None
    if not data:
        raise BadInputError(p, "empty file (0 bytes)")
    return p, data


def _page_meta(p: Path, data: bytes, page: int) -> ImageMeta:
    """Format, mode, EXIF (orientation reset), ICC, dpi and page count of one page (pixels unset)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            pages = int(getattr(im, "n_frames", 1) or 1)
            if page:
                im.seek(page)
            fmt, mode = im.format or "PNG", im.mode
            if fmt == "MPO":          # multi-picture camera JPEGs: the first picture is a JPEG
                fmt = "JPEG"
            exif = im.getexif()
            orientation = int(exif.get(_EXIF_ORIENTATION, 1) or 1)
            icc = im.info.get("icc_profile")
            dpi = dpi_of(im.info.get("dpi"))
            if fmt == "TIFF":
                # A TIFF's "EXIF" is its first directory: how the pixels are stored (bits per
                # sample, samples per pixel, strips...). Written back with different pixels it
                # makes an unreadable file; only the tags that describe the picture travel.
                for tag in [t for t in exif if t not in TIFF_DESCRIPTIVE_TAGS]:
                    del exif[tag]
            if orientation != 1:
                exif[_EXIF_ORIENTATION] = 1
            exif_bytes = exif.tobytes() if len(exif) else None
    except UnidentifiedImageError:
        # Pillow's own text names an anonymous BytesIO at a memory address; the first bytes say more.
        raise BadInputError(p, f"not an image Pillow can identify (first bytes {data[:8]!r})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise BadInputError(p, f"not an image Pillow can read ({e})") from None
    return ImageMeta(format=fmt, bit_depth=8, exif=exif_bytes, icc=icc, mode=mode, orientation=orientation,
                     dpi=dpi, pages=pages)


def _pillow_pixels(p: Path, data: bytes, page: int) -> np.ndarray:
    """Formats/modes OpenCV rejects (e.g. some palette TIFFs): Pillow, 8-bit, in OpenCV's order."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if page:
                im.seek(page)
            a = np.asarray(im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB"))
    except (OSError, ValueError, EOFError) as e:
        raise BadInputError(p, f"truncated or corrupt image ({e})") from None
    return a[..., [2, 1, 0, 3]] if a.shape[-1] == 4 else a[..., ::-1]


def _to_rgb(p: Path, a: np.ndarray, meta: ImageMeta) -> tuple[np.ndarray, ImageMeta]:
    """OpenCV's decoded array (BGR[A] or gray) -> upright RGB HxWx3 and the completed metadata."""
    if a.dtype not in (np.uint8, np.uint16):
        if a.dtype == np.float32 or a.dtype == np.float64:
            a = (np.clip(a, 0, 1) * 65535 + 0.5).astype(np.uint16)
        else:
            raise BadInputError(p, f"unsupported sample type {a.dtype}")
    gray = a.ndim == 2 or a.shape[2] == 1
    alpha = None
    if gray:
        a = a.reshape(a.shape[0], a.shape[1])
        rgb = np.repeat(a[..., None], 3, axis=2)
    elif a.shape[2] == 4:
        alpha = np.ascontiguousarray(a[..., 3])
        rgb = np.ascontiguousarray(a[..., 2::-1])
    else:
        rgb = np.ascontiguousarray(a[..., ::-1])
    rgb = _orient(rgb, meta.orientation)
    if alpha is not None:
        alpha = _orient(alpha, meta.orientation)
    meta.bit_depth = 16 if rgb.dtype == np.uint16 else 8
    meta.alpha, meta.gray = alpha, gray
    return rgb, meta


def write_image(path: str | Path, rgb: np.ndarray, meta: ImageMeta) -> None:
    """Write uint8/uint16 RGB HxWx3 to exactly `path` in meta.format (whatever its extension).

    16-bit pixels are written as 16-bit PNG/TIFF; formats without 16-bit support get uint8.
    EXIF, ICC and resolution are kept where the format allows (8-bit and 16-bit grey through
    Pillow; 16-bit colour TIFF through tifffile, PNG through OpenCV with the metadata chunks added)."""
    p = Path(path)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"write_image expects uint8/uint16 RGB HxWx3, got {rgb.dtype} {rgb.shape}")
    fmt = meta.format.upper()
    alpha = meta.alpha if meta.alpha is not None and meta.alpha.shape == rgb.shape[:2] else None
    try:
        if rgb.dtype == np.uint16 and fmt in ("PNG", "TIFF") and meta.gray and alpha is None and _is_gray(rgb):
            # A 16-bit gray master (the usual archival scan): through Pillow, which keeps its
            # metadata (OpenCV, below, writes pixels only)
            g16 = np.ascontiguousarray(rgb[..., 0]).astype("<u2")
            im = Image.frombytes("I;16", (g16.shape[1], g16.shape[0]), g16.tobytes())
            with open(p, "wb") as fh:
                im.save(fh, format=fmt, **_save_options(fmt, meta, im.mode))
            return
        if rgb.dtype == np.uint16 and fmt in _CV_EXT:
            _write_16bit(p, rgb, fmt, meta)
            return
        if rgb.dtype == np.uint16:
            rgb = to_uint8(rgb)
            alpha = to_uint8(alpha) if alpha is not None else None
        elif alpha is not None and alpha.dtype == np.uint16:
            alpha = to_uint8(alpha)
        if meta.gray and _is_gray(rgb):
            im = Image.fromarray(np.ascontiguousarray(rgb[..., 0]), "L")
        else:
            im = Image.fromarray(rgb, "RGB")
        if alpha is not None and fmt in ("PNG", "TIFF", "WEBP"):
            im = im.convert("RGBA") if im.mode == "RGB" else im.convert("LA")
            im.putalpha(Image.fromarray(np.ascontiguousarray(alpha), "L"))
        with open(p, "wb") as fh:
            im.save(fh, format=fmt, **_save_options(fmt, meta, im.mode))
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise OutputError(p, "disk full") from None
        raise OutputError(p, f"cannot write: {e.strerror or e}") from None


def write_pages(path: str | Path, pages: list[tuple[np.ndarray, ImageMeta]]) -> None:
    """Write several pages (uint8/uint16 RGB HxWx3 each, with its metadata) as one multi-page
    TIFF, each page keeping its bit depth, grey or colour, alpha, resolution, descriptive tags
    and ICC profile. One page: write_image."""
    if len(pages) == 1:
        write_image(path, *pages[0])
        return
    import tifffile

    p = Path(path)
    try:
        with open(p, "wb") as fh, tifffile.TiffWriter(fh) as tif:
            for rgb, meta in pages:
                if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype not in (np.uint8, np.uint16):
                    raise ValueError(f"write_pages expects uint8/uint16 RGB HxWx3, got {rgb.dtype} {rgb.shape}")
                arr, mode = _planes(rgb, meta)
                tif.write(arr, **_tiff_options(arr, mode, meta))
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise OutputError(p, "disk full") from None
        raise OutputError(p, f"cannot write: {e.strerror or e}") from None


def _planes(rgb: np.ndarray, meta: ImageMeta) -> tuple[np.ndarray, str]:
    """The array a 16-bit or TIFF writer takes (grey 2-D, RGB or RGBA, in the pixels' own dtype)
    and its Pillow mode."""
    alpha = meta.alpha if meta.alpha is not None and meta.alpha.shape == rgb.shape[:2] else None
    if meta.gray and _is_gray(rgb) and alpha is None:
        arr = np.ascontiguousarray(rgb[..., 0])
        return arr, ("I;16" if arr.dtype == np.uint16 else "L")
    arr = np.ascontiguousarray(rgb)
    if alpha is not None:
        if alpha.dtype != arr.dtype:
            alpha = alpha.astype(np.uint16) * 257 if arr.dtype == np.uint16 else to_uint8(alpha)
        arr = np.dstack([arr, alpha])
    return arr, "RGB"


def _tiff_options(arr: np.ndarray, mode: str, meta: ImageMeta) -> dict:
    """tifffile arguments for one page: zlib, resolution, descriptive tags (and Software), ICC."""
    tags = ascii_tags(meta.exif)
    extra = [(code, "s", 0, value, True) for code, value in sorted(tags.items()) if code != 305]
    icc = meta.icc if meta.icc and icc_fits(meta.icc, mode) else None
    if icc:
        extra.append((34675, "B", len(icc), icc, True))
    kwargs: dict = dict(photometric="minisblack" if arr.ndim == 2 else "rgb", compression="zlib",
                        software=tags.get(305, False), metadata=None, description=None, extratags=extra)
    if arr.ndim == 3 and arr.shape[2] == 4:
        kwargs["extrasamples"] = ("unassalpha",)
    if meta.dpi:
        kwargs.update(resolution=meta.dpi, resolutionunit="INCH")
    return kwargs


def _save_options(fmt: str, meta: ImageMeta, mode: str) -> dict:
    """Pillow save arguments for pixels of Pillow ``mode``: the source's EXIF, ICC profile and
    resolution where ``fmt`` holds them, and lossless (PNG, TIFF LZW) or quality-95 compression."""
    kwargs: dict = {}
    if meta.exif and fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        kwargs["exif"] = meta.exif
    if meta.icc and fmt in ("JPEG", "PNG", "WEBP", "TIFF") and icc_fits(meta.icc, mode):
        kwargs["icc_profile"] = meta.icc
    if meta.dpi and fmt in ("JPEG", "PNG", "TIFF"):
        kwargs["dpi"] = meta.dpi
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = 95
    elif fmt == "TIFF":
        kwargs["compression"] = "tiff_lzw"
    return kwargs


def _write_16bit(p: Path, rgb: np.ndarray, fmt: str, meta: ImageMeta) -> None:
    """16-bit colour (or grey with alpha): TIFF through tifffile, PNG through OpenCV with the
    metadata chunks added; both keep the resolution, the descriptive tags and the ICC profile."""
    arr, mode = _planes(rgb, meta)
    if fmt == "TIFF":
        import tifffile

        with open(p, "wb") as fh:
            tifffile.imwrite(fh, arr, **_tiff_options(arr, mode, meta))
        return
    icc = meta.icc if meta.icc and icc_fits(meta.icc, mode) else None
    bgr = arr if arr.ndim == 2 else np.ascontiguousarray(arr[..., [2, 1, 0, 3][: arr.shape[2]]])
    ok, buf = cv2.imencode(_CV_EXT[fmt], bgr)
    if not ok:
        raise OutputError(p, f"OpenCV could not encode a 16-bit {fmt}")
    with open(p, "wb") as fh:
        fh.write(png_with_metadata(buf.tobytes(), dpi=meta.dpi, exif=meta.exif, icc=icc))


def _is_gray(rgb: np.ndarray) -> bool:
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def to_uint8(rgb16: np.ndarray) -> np.ndarray:
    """uint16 [0,65535] -> uint8 [0,255], rounded (x/257). Inverse of x8*257 exactly."""
    return ((rgb16.astype(np.uint32) + 128) // 257).astype(np.uint8)


def apply_residual(orig16: np.ndarray, before8: np.ndarray, after8: np.ndarray) -> np.ndarray:
    """Carry an 8-bit stage's change onto the 16-bit original:
    clip(orig16 + (after8 - before8) * 257) as uint16. Exact (returns orig16) for an identity stage."""
    delta = after8.astype(np.int32) - before8.astype(np.int32)
    return np.clip(orig16.astype(np.int32) + delta * 257, 0, 65535).astype(np.uint16)


# Re-exported so callers find both lists here; imported last because oldfilm.video imports
# this module's pixel helpers.
from .video.probe import VIDEO_EXTENSIONS  # noqa: E402

__all__ = ["IMAGE_EXTENSIONS", "REWRITTEN_AS", "VIDEO_EXTENSIONS", "ImageMeta", "read_image", "read_pages", "write_image", "write_pages",
           "to_uint8", "apply_residual"]

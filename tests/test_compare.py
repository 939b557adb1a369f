"""Side-by-side compare output: photos, split/wipe video with the audio kept, the CLI."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from oldfilm import cli
from oldfilm.compare import (
    compare_path,
    compare_video,
    split_frame,
    wipe_position,
    write_compare,
    write_compare_image,
)
from oldfilm.errors import BadInputError

W, H, N = 64, 48, 12


def make_clip(path: Path, color: tuple[int, int, int], *, audio: bool = True, fps: int = 12,
              rotation: int = 0) -> None:
    """A tiny H.264 clip of solid ``color`` frames (with a moving bar) and, optionally, AAC audio."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.options = {"crf": "10"}
        if rotation:
            v.set_display_rotation(rotation)
        a = None
        if audio:
            a = c.add_stream("aac", rate=22050)
            a.layout = "mono"
        for i in range(N):
            img = np.zeros((H, W, 3), np.uint8)
            img[:] = color
            img[:, (i * 4) % W:(i * 4) % W + 4] = 255 - np.array(color, np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, fps)
            c.mux(v.encode(f))
        c.mux(v.encode(None))
        if a is not None:
            rng = np.random.default_rng(0)
            for k in range(int(22050 * N / fps) // 1024):
                af = av.AudioFrame.from_ndarray(rng.uniform(-0.3, 0.3, (1, 1024)).astype(np.float32),
                                                format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = 22050, k * 1024, Fraction(1, 22050)
                c.mux(a.encode(af))
            c.mux(a.encode(None))


def audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]


def decode(path: Path) -> tuple[list[np.ndarray], list[float]]:
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
        return [f.to_ndarray(format="rgb24") for f in frames], [float(f.pts * f.time_base) for f in frames]


# ---------------------------------------------------------------- photos
def test_compare_image_has_labelled_halves(tmp_path):
    before = np.full((40, 60, 3), (200, 10, 10), np.uint8)
    after = np.full((40, 60, 3), (10, 10, 200), np.uint8)
    out = write_compare_image(before, after, tmp_path / "c.png", ("original", "oldfilm"))
    img = np.asarray(Image.open(out))
    bar = img.shape[0] - 40
    assert bar > 0 and img.shape[1] > 120
    np.testing.assert_array_equal(img[bar:, :60], before)
    np.testing.assert_array_equal(img[bar:, -60:], after)
    assert img[:bar, :60].max() > 200                            # label text is drawn on the bar


def test_compare_image_resizes_before_to_after(tmp_path):
    out = write_compare_image(np.zeros((20, 30, 3), np.uint8), np.zeros((40, 60, 3), np.uint8), tmp_path / "c.jpg")
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.height > 40


def test_write_compare_names_the_file_beside_the_output(tmp_path):
    src, dst = tmp_path / "scan.png", tmp_path / "out" / "scan_restored.png"
    dst.parent.mkdir()
    Image.fromarray(np.full((32, 32, 3), 50, np.uint8)).save(src)
    Image.fromarray(np.full((32, 32, 3), 150, np.uint8)).save(dst)
    written = write_compare(src, dst)
    assert written == tmp_path / "out" / "scan_restored_compare.png" == compare_path(dst)
    assert written.is_file()


# ---------------------------------------------------------------- video
def test_split_frame_takes_each_side_from_its_source():
    before = np.zeros((60, 200, 3), np.uint8)
    after = np.full((60, 200, 3), 100, np.uint8)
    f = split_frame(before, after, 0.5, ("a", "b"))
    bar = 14
    assert (f[bar:, :98] == 0).all() and (f[bar:, 102:] == 100).all()
    assert (f[bar:, 99:101] == 255).all()                           # the divider
    assert wipe_position(0.0) == pytest.approx(0.05) and wipe_position(2.0) == pytest.approx(0.95)


@pytest.mark.parametrize("mode", ["split", "wipe"])
def test_compare_video_keeps_audio_frames_and_timestamps(tmp_path, mode):
    before, after = tmp_path / "before.mp4", tmp_path / "after.mp4"
    make_clip(before, (220, 30, 30), audio=False)
    make_clip(after, (30, 30, 220))
    out = compare_video(before, after, tmp_path / "cmp.mp4", mode=mode)
    assert out == tmp_path / "cmp.mp4"
    assert audio_packets(out) == audio_packets(after)            # packet for packet
    frames, times = decode(out)
    _, after_times = decode(after)
    assert times == pytest.approx(after_times)
    if mode == "split":
        mid = frames[N // 2]
        assert mid[H // 2, 4, 0] > 150 and mid[H // 2, 4, 2] < 90         # left: before (red)
        assert mid[H // 2, W - 4, 2] > 150 and mid[H // 2, W - 4, 0] < 90  # right: after (blue)
    assert not list(tmp_path.glob(".*oldfilm-tmp*"))


def test_compare_video_is_upright_for_a_rotated_clip(tmp_path):
    clip = tmp_path / "rot.mp4"
    make_clip(clip, (200, 200, 30), rotation=90)
    frames, _ = decode(compare_video(clip, clip, tmp_path / "cmp.mp4"))
    assert frames[0].shape == (W, H, 3)                                   # display size, not coded


def test_compare_video_odd_container_becomes_mkv(tmp_path):
    clip = tmp_path / "a.mp4"
    make_clip(clip, (100, 100, 100))
    out = compare_video(clip, clip, tmp_path / "cmp.avi")
    assert out.suffix == ".mkv" and audio_packets(out) == audio_packets(clip)


def test_compare_video_bad_input_is_one_line(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    clip = tmp_path / "a.mp4"
    make_clip(clip, (1, 2, 3), audio=False)
    with pytest.raises(BadInputError, match="junk.mp4"):
        compare_video(junk, clip, tmp_path / "c.mp4")


# ---------------------------------------------------------------- CLI
def test_cli_compare_photos(tmp_path, capsys):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(a)
    Image.fromarray(np.full((24, 24, 3), 255, np.uint8)).save(b)
    assert cli.main(["compare", str(a), str(b), "-o", str(tmp_path / "ab.png")]) == 0
    assert (tmp_path / "ab.png").is_file()
    capsys.readouterr()
    # An existing output needs --overwrite; the error is one line.
    assert cli.main(["compare", str(a), str(b), "-o", str(tmp_path / "ab.png")]) != 0
    err = capsys.readouterr()
    msg = (err.out + err.err).strip()
    assert "ab.png" in msg and "--overwrite" in msg and len(msg.splitlines()) == 1
    assert cli.main(["compare", str(a), str(b), "-o", str(tmp_path / "ab.png"), "--overwrite"]) == 0


def test_cli_compare_photo_with_video_is_refused(tmp_path, capsys):
    a = tmp_path / "a.png"
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(a)
    clip = tmp_path / "v.mp4"
    make_clip(clip, (9, 9, 9), audio=False)
    assert cli.main(["compare", str(a), str(clip)]) != 0
    err = capsys.readouterr()
    assert "cannot compare" in err.out + err.err

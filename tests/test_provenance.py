"""Every output says what oldfilm did to it (oldfilm/provenance.py): photos in EXIF
ProcessingSoftware, videos in the container comment; `oldfilm info` shows it, a second pass warns."""
from __future__ import annotations

import av
import numpy as np
import pytest
from PIL import Image

from oldfilm import __version__, provenance
from oldfilm.options import ColorizeOptions, EncodeOptions, FaceOptions, PipelineOptions, RestoreOptions, RunOptions
from oldfilm.pipeline import Pipeline
from oldfilm.stage import IdentityStage
from oldfilm.video.info import describe, format_info

from video_clips import make_clip


def test_summary_names_the_stages_and_what_shapes_them():
    o = PipelineOptions(restore=RestoreOptions(strength=0.5), faces=FaceOptions(strength=0.7),
                        colorize=ColorizeOptions(enabled=True, render_factor=28, saturation=1.3,
                                                 color_maps=("blue=red",)))
    line = provenance.summary(o, ["restore", "faces", "colorize"])
    assert line == (f"oldfilm {__version__}: restore (default, scratches auto, strength 0.5); "
                    "faces (default, strength 0.7); colorize (default, render factor 28, saturation 1.3, map blue=red)")
    assert provenance.summary(PipelineOptions(), ["restore"]).endswith("restore (default, scratches auto)")
    video = PipelineOptions(run=RunOptions(deflicker=True), encode=EncodeOptions(deinterlace="ivtc"))
    assert provenance.summary(video, ["restore"], is_video=True) == (
        f"oldfilm {__version__}: deflicker; deinterlace ivtc; restore (default, scratches auto)")
    assert "deflicker" not in provenance.summary(video, ["restore"])            # photos have neither


def test_exif_stamp_keeps_the_other_tags():
    e = Image.Exif()
    e[315] = "Studio"
    e[305] = "Scanner 2.1"
    stamped = provenance.stamp_exif(e.tobytes(), "oldfilm 9: restore (default)")
    back = Image.Exif()
    back.load(stamped)
    assert back[315] == "Studio" and back[305] == "Scanner 2.1"
    assert provenance.read_exif(stamped) == "oldfilm 9: restore (default)"
    assert provenance.read_exif(provenance.stamp_exif(None, "something else")) is None
    assert provenance.read_exif(None) is None and provenance.read_exif(b"garbage") is None


def test_comment_keeps_the_source_comment_first():
    assert provenance.stamp_comment(None, "oldfilm 1: a") == "oldfilm 1: a"
    assert provenance.stamp_comment("reel 4, 1936\n", "oldfilm 1: a") == "reel 4, 1936\noldfilm 1: a"
    assert provenance.read_comment({"COMMENT": "reel 4\noldfilm 1: a\noldfilm 1: b"}) == "oldfilm 1: b"
    assert provenance.read_comment({"comment": "reel 4"}) is None


@pytest.mark.parametrize("ext", ["jpg", "png", "tif", "webp"])
def test_photo_outputs_say_what_made_them_and_a_second_pass_warns(tmp_path, ext):
    src = tmp_path / f"print.{ext}"
    im = Image.fromarray(np.full((32, 40, 3), 120, np.uint8))
    e = im.getexif()
    e[315] = "Family archive"
    im.save(src, exif=e)
    pipe = Pipeline(stages=[IdentityStage()])
    first = pipe.run_photo(src, tmp_path / f"once.{ext}")
    assert not any("already an oldfilm output" in w for w in first.warnings)
    d = describe(tmp_path / f"once.{ext}")
    assert d["made_by"] == f"oldfilm {__version__}: identity"
    assert "made by    oldfilm" in format_info(d)
    with Image.open(tmp_path / f"once.{ext}") as out:
        assert out.getexif()[315] == "Family archive"
    again = pipe.run_photo(tmp_path / f"once.{ext}", tmp_path / f"twice.{ext}")
    assert any("already an oldfilm output" in w for w in again.warnings)
    assert describe(src)["made_by"] is None


def test_video_output_comment_keeps_the_source_comment(tmp_path):
    src = make_clip(tmp_path / "reel.mp4")
    tagged = tmp_path / "tagged.mp4"
    with av.open(str(src)) as i, av.open(str(tagged), "w") as o:
        o.metadata["comment"] = "reel 4, 1936"
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for p in i.demux():
            if p.size:
                p.stream = streams[p.stream.index]
                o.mux(p)
    pipe = Pipeline(stages=[IdentityStage()])
    res = pipe.run_video(tagged, tmp_path / "out.mp4")
    with av.open(str(res.output)) as c:
        assert c.metadata["comment"] == f"reel 4, 1936\noldfilm {__version__}: identity"
    assert describe(res.output)["made_by"] == f"oldfilm {__version__}: identity"
    again = pipe.run_video(res.output, tmp_path / "again.mp4")
    assert any("already an oldfilm output" in w for w in again.warnings)

"""GIFs: a still one is a photo, written as PNG (a GIF holds 256 colours); an animated one is a
little film and runs as a video. Both used to be missed in folders."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from oldfilm.jobs import discover, run_batch
from oldfilm.pipeline import Pipeline
from oldfilm.stage import IdentityStage


def _grey() -> np.ndarray:
    return (np.linspace(0, 255, 64)[None, :] * np.ones((48, 1))).astype(np.uint8)


def test_gifs_in_a_folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(_grey(), "L").save(src / "still.gif")
    frames = [Image.fromarray(_grey() // (k + 1), "L") for k in range(4)]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    jobs = discover([str(src)], suffix="_restored", output_dir=tmp_path / "out")
    kinds = {j.src.name: (j.kind, j.dst.name) for j in jobs}
    assert kinds == {"still.gif": ("photo", "still_restored.png"), "anim.gif": ("video", "anim_restored.gif")}
    out = io.StringIO()
    summary = run_batch(jobs, Pipeline(stages=[IdentityStage()]), out=out, err=out)
    recs = {r.input.rsplit("/", 1)[-1]: r for r in summary.records}
    assert recs["still.gif"].status == "done" and recs["still.gif"].output.endswith("still_restored.png")
    assert any("written as PNG" in w for w in recs["still.gif"].warnings)
    with Image.open(recs["still.gif"].output) as im:
        assert im.format == "PNG" and np.array_equal(np.asarray(im.convert("L")), _grey())
    assert recs["anim.gif"].status == "done" and recs["anim.gif"].frames == 4
    assert recs["anim.gif"].output.endswith(".mkv")
    again = run_batch(discover([str(src)], suffix="_restored", output_dir=tmp_path / "out"),
                      Pipeline(stages=[IdentityStage()]), out=out, err=out)
    assert [r.status for r in again.records] == ["skipped", "skipped"]

"""Ordered stages (restore -> faces -> colorize) over batches of frames: the Python API.

    >>> from oldfilm import Pipeline, PipelineOptions
    >>> p = Pipeline(PipelineOptions())          # restore (+ faces when installed)
    >>> out = p.run_array(rgb)                   # uint8 (or uint16) RGB HxWx3 -> same dtype/shape
    >>> p.run_photo("scan.tif", "scan_restored.tif")
    >>> p.run_video("reel.mp4", "reel_restored.mp4")

Stages are built lazily (the first call that needs them), once per kind of input: the colorizer
uses another render factor for video than for photos. Stage modules are imported inside
functions so ``oldfilm --help`` never pays for torch-heavy imports.
"""
from __future__ import annotations

import hashlib
import importlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .device import autocast_dtype, resolve_device
from .errors import OldfilmError
from .jobs import ALREADY_IN_COLOUR, atomic_output, video_work_dir
from . import provenance
from .options import PipelineOptions
from .stage import IdentityStage, Stage, StageBase


# Frames of the previous segment that warm a `warm_start` stage at each segment start (runner
# lead-in): the colour filter's running average at 0.9 keeps 0.9^8 = 43 % of its oldest frame
# after 8, against the 100 % a cold start has; more costs memory (a copy of each) and time.
LEAD_IN_FRAMES = 8


class StageChain(StageBase):
    """Several stages run one after the other, seen by the runner as one stage.

    ``report()`` is per reset, as the Stage protocol says; the chain also keeps a running total
    across resets (the runner resets at every segment) for the per-job summary.
    """

    name = "chain"

    def __init__(self, stages: Sequence[Stage]):
        super().__init__()
        self.stages = list(stages)
        self._totals: dict = {}
        self._warm: dict = {}      # counters the warm-ups added, kept out of the job's report
        self.skip: frozenset[str] = frozenset()     # stage names this job leaves out (start_job clears it)

    def __call__(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        out = list(frames)
        for stage in self.stages:
            if stage.name not in self.skip:
                out = stage(out)
        return out

    def warm_up(self, frames: Sequence[np.ndarray]) -> None:
        """Run the active stages on frames that lead into a segment (the runner's lead-in), for
        their temporal state only: the outputs are dropped and their counters do not count."""
        before = self.report()
        self(frames)
        for k, v in self.report().items():
            if is_counter(k, v):
                was = before.get(k, 0) if is_counter(k, before.get(k)) else 0
                self._warm[k] = self._warm.get(k, 0) + v - was

    @property
    def warm_start(self) -> bool:
        """Whether an active stage wants the runner's lead-in at segment starts."""
        return any(getattr(s, "warm_start", False) for s in self.stages if s.name not in self.skip)

    @property
    def active(self) -> list[str]:
        """Names of the stages this job runs."""
        return [s.name for s in self.stages if s.name not in self.skip]

    def reset(self) -> None:
        _merge(self._totals, self.report())
        for stage in self.stages:
            stage.reset()

    def report(self) -> dict:
        merged: dict = {}
        for stage in self.stages:
            _merge(merged, stage.report())
        return merged

    def start_job(self) -> None:
        """Forget totals and temporal state: a new file starts."""
        for stage in self.stages:
            stage.reset()
        self._totals = {}
        self._warm = {}
        self.skip = frozenset()

    def job_report(self) -> dict:
        """Counters summed over every segment since :meth:`start_job`."""
        total = dict(self._totals)
        _merge(total, self.report())
        for k, v in self._warm.items():
            if is_counter(k, total.get(k)):
                total[k] -= v
        return total

    @property
    def stage_warnings(self) -> list[str]:
        seen: list[str] = []
        for stage in self.stages:
            for w in getattr(stage, "warnings", []) or []:
                if w not in seen:
                    seen.append(w)
        return seen


def is_counter(key: str, value) -> bool:
    """Report entries that count things (faces found, frames with scratches) add up over the
    segments of a video; settings (render factor, model name, precision) keep their value."""
    return (isinstance(value, int) and not isinstance(value, bool)
            and (key in COUNTER_KEYS or key.endswith(COUNTER_SUFFIXES)))


COUNTER_KEYS = ("faces",)
COUNTER_SUFFIXES = ("_frames", "_faces", "_count")


def _merge(into: dict, report: dict) -> None:
    """Counters add up; anything else keeps the latest value."""
    for k, v in report.items():
        if is_counter(k, v) and is_counter(k, into.get(k)):
            into[k] = into[k] + v
        else:
            into[k] = v


@dataclass
class RunResult:
    """What one photo or video produced."""

    output: Path | None                            # None when the file was skipped
    frames: int
    seconds: float
    warnings: list[str] = field(default_factory=list)
    report: dict = field(default_factory=dict)     # merged stage counters, e.g. {"faces": 3}
    stages: list[str] = field(default_factory=list)
    skipped: str | None = None                     # why nothing was written, e.g. ALREADY_IN_COLOUR

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


NOT_COLORIZED = f"{ALREADY_IN_COLOUR}: not colorized (--recolor replaces its colours with the colorizer's)"


def _import_builder(module: str, func: str) -> Callable:
    try:
        return getattr(importlib.import_module(module), func)
    except ModuleNotFoundError as e:
        if e.name is not None and module.startswith(e.name):
            raise OldfilmError(f"this build has no {module} ({func} missing); the stage cannot run") from None
        raise


def build_stages(options: PipelineOptions, is_video: bool) -> list[Stage]:
    """The stages ``options`` asks for, in order. Raises NoWeightsError (one line) if weights lack."""
    stages: list[Stage] = []
    if options.restore.enabled:
        build = _import_builder("oldfilm.restore.stage", "build_restore_stage")
        stages.append(build(options.restore, options.run))
    if options.faces.enabled is not False:
        build = _import_builder("oldfilm.restore.faces.stage", "build_face_stage")
        face = build(options.faces, options.run, is_video, after_restorer=options.restore.enabled)
        if face is not None:
            stages.append(face)
    if options.colorize.enabled:
        build = _import_builder("oldfilm.colorize.stage", "build_colorize_stage")
        stages.append(build(options.colorize, options.run, is_video))
    return stages


class Pipeline:
    """Restore / faces / colorize over arrays, photo files and video files.

    ``stages`` replaces the built stages with your own (any :class:`oldfilm.stage.Stage`), for
    experiments and tests; the same list serves photos and videos.
    """

    def __init__(self, options: PipelineOptions | None = None, *, stages: Sequence[Stage] | None = None):
        self.options = options or PipelineOptions()
        run = self.options.run
        # Fail on a bad --device / --precision now, with one line, not inside the first job.
        self.device = resolve_device(run.device)
        autocast_dtype(self.device, run.precision)
        if run.batch_size < 1:
            raise OldfilmError(f"--batch-size {run.batch_size}: expected 1 or more")
        if run.workers < 1:
            raise OldfilmError(f"--workers {run.workers}: expected 1 or more")
        if run.threads:
            import torch

            torch.set_num_threads(run.threads)
        self._fixed = list(stages) if stages is not None else None
        self._chains: dict[bool, StageChain] = {}

    # -- stages -------------------------------------------------------------------------------
    def chain(self, is_video: bool) -> StageChain:
        """The stage chain for photos (False) or video (True), built on first use."""
        if is_video not in self._chains:
            stages = self._fixed if self._fixed is not None else build_stages(self.options, is_video)
            if not stages and is_video and self.options.run.deflicker:
                stages = [IdentityStage()]     # --deflicker alone: only the exposure changes
            if not stages:
                hint = "; --deflicker is for video" if self.options.run.deflicker else ""
                raise OldfilmError("nothing to do: every stage is off (use --colorize, or drop --no-restore)" + hint)
            self._chains[is_video] = StageChain(stages)
        return self._chains[is_video]

    def prepare(self, photos: bool, videos: bool) -> None:
        """Build the stages a batch will need now, so missing weights stop it before any job."""
        if photos:
            self.chain(False)
        if videos:
            self.chain(True)

    def _fingerprint(self, chain: StageChain) -> str:
        """What the stages compute: part of a video's resume key, so segments made with other
        models or settings are never joined with new ones."""
        o = self.options
        colorize = asdict(o.colorize)
        references = colorize.pop("references")
        if references:   # by content, so an edited keyframe restarts the run; absent otherwise, as before
            colorize["reference_sha256"] = [hashlib.sha256(Path(r).read_bytes()).hexdigest() for r in references]
        colorize.pop("steady")
        if o.colorize.enabled and "colorize" in chain.active and o.colorize.steady_for(True) > 0:
            from .colorize.steady import VERSION

            colorize["steady_colors"] = [o.colorize.steady_for(True), VERSION]
        return json.dumps({
            "stages": chain.active,
            "restore": asdict(o.restore), "faces": asdict(o.faces), "colorize": colorize,
            "precision": o.run.precision, "device": self.device.type,
        }, sort_keys=True, default=str)

    # -- arrays -------------------------------------------------------------------------------
    def run_array(self, rgb: np.ndarray, *, is_video: bool = False) -> np.ndarray:
        """uint8 or uint16 RGB HxWx3 (or gray HxW) in; the same dtype, RGB HxWx3, out.

        16-bit images run through the stages as uint8; the stages' change is then laid onto the
        16-bit original (images.apply_residual), so untouched tones keep their 16-bit precision.
        """
        chain = self.chain(is_video)
        chain.start_job()
        return self._apply(chain, rgb)

    def run_still(self, rgb: np.ndarray, *, is_video: bool, is_colour: Callable[[], bool]) -> tuple[np.ndarray, list[str], list[str]]:
        """One frame as a job on its file would make it (a preview): the photo or video stages,
        and a colour file left uncolorized unless ``recolor``. Temporal stages see it alone.
        uint8/uint16 RGB HxWx3 in; (the same dtype out, the job's warnings, the active stages)."""
        chain = self.chain(is_video)
        chain.start_job()
        notes = self._leave_colour_alone(chain, is_colour)
        out = self._apply(chain, rgb) if chain.active else np.asarray(rgb).copy()
        warnings = notes + [w for w in chain.stage_warnings if w not in notes]
        return out, warnings, chain.active

    @staticmethod
    def _apply(chain: StageChain, rgb: np.ndarray) -> np.ndarray:
        arr = np.asarray(rgb)
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise OldfilmError(f"expected an RGB image HxWx3, got an array of shape {arr.shape}")
        if arr.dtype == np.uint8:
            return chain([np.ascontiguousarray(arr)])[0]
        if arr.dtype == np.uint16:
            from .images import apply_residual, to_uint8

            before8 = to_uint8(arr)
            after8 = chain([before8])[0]
            return apply_residual(arr, before8, after8)
        raise OldfilmError(f"expected uint8 or uint16 pixels, got {arr.dtype}")

    # -- files --------------------------------------------------------------------------------
    def run_photo(self, src: str | Path, dst: str | Path) -> RunResult:
        """Read ``src``, run the stages, write ``dst`` atomically in ``src``'s format and size.
        Every page of a multi-page TIFF is restored, each as a photo of its own, into a
        multi-page TIFF; of an animated image, the first frame (with a warning)."""
        from .images import read_pages, write_pages

        src, dst = Path(src), Path(dst)
        t0 = time.perf_counter()
        pages = read_pages(src)
        meta = pages[0][1]
        if meta.format == "GIF":           # 256 colours at most: the result goes out as PNG
            pages = [(page, replace(page_meta, format="PNG")) for page, page_meta in pages]
        chain = self.chain(False)
        chain.start_job()
        outs, notes, ran = [], [], []
        for k, (page, page_meta) in enumerate(pages):
            if k:
                chain.reset()                 # pages are independent pictures; counters add up
                chain.skip = frozenset()
            for note in self._leave_colour_alone(chain, lambda: _photo_is_colour(page)):
                if note not in notes:
                    notes.append(note)
            out = self._apply(chain, page) if chain.active else np.asarray(page).copy()
            ran += [name for name in chain.active if name not in ran]
            earlier = provenance.read_exif(page_meta.exif)
            if earlier and already_made(earlier) not in notes:
                notes.append(already_made(earlier))
            if chain.active:
                page_meta = replace(page_meta, exif=provenance.stamp_exif(
                    page_meta.exif, provenance.summary(self.options, chain.active)))
            outs.append((out, page_meta))
        if not ran:
            return RunResult(output=None, frames=0, seconds=time.perf_counter() - t0, skipped=ALREADY_IN_COLOUR)
        with atomic_output(dst) as tmp:
            write_pages(tmp, outs)
        if meta.format == "GIF":
            notes.append("written as PNG: a GIF holds 256 colours at most")
        if meta.pages > 1 and len(pages) == 1:
            notes.append(f"only the first of its {meta.pages} frames was restored: the output holds that one "
                         f"alone (save the others as files of their own to restore them)")
        return RunResult(
            output=dst, frames=len(pages), seconds=time.perf_counter() - t0,
            warnings=notes + chain.stage_warnings, report=chain.job_report(), stages=ran,
        )

    def _leave_colour_alone(self, chain: StageChain, is_colour: Callable[[], bool]) -> list[str]:
        """Colour footage keeps its colours: the colorizer replaces chroma with its guess from the
        luminance, so on a colour (not merely toned) input it can only lose information. Sets
        ``chain.skip`` and returns the job's warning; ``--recolor`` (ColorizeOptions.recolor)
        colorizes anyway. The test is ``oldfilm info``'s black-and-white test."""
        if "colorize" not in [s.name for s in chain.stages] or self.options.colorize.recolor:
            return []
        if not is_colour():
            return []
        chain.skip = frozenset({"colorize"})
        return [NOT_COLORIZED] if chain.active else []

    def worker_setup(self) -> tuple[int, PipelineOptions | None]:
        """(worker processes, the options each builds its stages from, with 1/N of the threads),
        for a video's segments and a batch's photos; (1, None) for one process, or when this
        pipeline was given its stages."""
        n = self.options.run.workers
        if n <= 1 or self._fixed is not None:
            return 1, None
        import torch

        per = max(1, (self.options.run.threads or torch.get_num_threads()) // n)
        return n, replace(self.options, run=replace(self.options.run, threads=per, workers=1))

    def run_video(
        self,
        src: str | Path,
        dst: str | Path,
        *,
        segment_seconds: float = 30.0,
        on_progress: Callable[[int, int], None] | None = None,
        work_dir: Path | None = None,
        on_scan: Callable[[int, int], None] | None = None,
    ) -> RunResult:
        """Decode ``src``, run the stages on batches, encode ``dst`` with the original audio.

        Resumable: completed segments stay in ``work_dir`` (default ``<dst dir>/.<dst name>.oldfilm``)
        if the run is interrupted; the same call later continues from the last complete segment.
        The work dir is removed once ``dst`` is complete.
        """
        from .video.runner import process_video

        src, dst = Path(src), Path(dst)
        work = work_dir if work_dir is not None else video_work_dir(dst)
        chain = self.chain(True)
        chain.start_job()
        t0 = time.perf_counter()
        notes = self._leave_colour_alone(chain, lambda: _video_is_colour(src))
        if not chain.active:
            return RunResult(output=None, frames=0, seconds=time.perf_counter() - t0, skipped=ALREADY_IN_COLOUR)
        from .video.info import video_made_by

        earlier = video_made_by(src)
        if earlier:
            notes = notes + [already_made(earlier)]
        workers, worker_options = self.worker_setup()
        res = process_video(
            src, dst, chain, self.options.encode, work,
            segment_seconds=segment_seconds, batch_size=self.options.run.batch_size,
            on_progress=on_progress or (lambda done, total: None),
            on_segment_start=chain.reset,             # segments are independent (landmark smoothing)
            fingerprint_extra=self._fingerprint(chain), reuse_repeats=self.options.run.reuse_repeats,
            deflicker=self.options.run.deflicker, on_scan=on_scan,
            lead_in=LEAD_IN_FRAMES if chain.warm_start else 0,   # ... and enter it as in one pass
            workers=workers,
            stage_factory=partial(worker_chain, worker_options, tuple(sorted(chain.skip))) if worker_options else None,
            provenance=provenance.summary(self.options, chain.active, is_video=True),
        )
        seconds = time.perf_counter() - t0
        shutil.rmtree(work, ignore_errors=True)
        warnings = notes + list(res.warnings)
        for w in chain.stage_warnings:
            if w not in warnings:
                warnings.append(w)
        report = chain.job_report()
        for worker_report in res.stage_reports:     # --workers: the stages ran in other processes
            _merge(report, worker_report)
        warnings += [w for w in res.stage_warnings if w not in warnings]
        if res.repeated_frames:
            report["repeated_frames"] = res.repeated_frames
        if self.options.run.deflicker:
            report["deflickered_frames"] = res.deflickered_frames
        return RunResult(
            output=Path(res.output), frames=int(res.frames), seconds=seconds, warnings=warnings,
            report=report, stages=chain.active,
        )


def worker_chain(options: "PipelineOptions", skip: tuple[str, ...]) -> StageChain:
    """A video chain built in a worker process (video/workers.py): the job's options, with the
    stages the job leaves out (a colour file is not colorized) left out here too."""
    chain = Pipeline(options).chain(True)
    chain.start_job()
    chain.skip = frozenset(skip)
    return chain


def _photo_is_colour(rgb: np.ndarray) -> bool:
    """uint8/uint16 RGB HxWx3 or gray HxW: not black-and-white or toned (``oldfilm info``'s test)."""
    from .images import to_uint8
    from .monochrome import is_monochrome

    return is_monochrome([rgb if rgb.dtype == np.uint8 else to_uint8(rgb)]) is False


def _video_is_colour(src: Path) -> bool:
    """~10 frames spread over the file, as ``oldfilm info`` samples them; unknown counts as not colour."""
    from .monochrome import is_monochrome
    from .video.info import sample_frames
    from .video.probe import probe

    return is_monochrome(sample_frames(probe(src))) is False


def already_made(line: str) -> str:
    """The warning for an input that is itself an oldfilm output."""
    return f"this file is already an oldfilm output ({line}); its changes are applied again on top"

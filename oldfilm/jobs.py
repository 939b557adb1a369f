"""Inputs -> jobs: folder walking, output naming, skip/resume rules, atomic photo writes.

A *job* is one input file and the one output it becomes. Rules (docs/ARCHITECTURE.md):

* inputs are any mix of files and folders; folders are walked recursively, skipping hidden
  entries (``.ipynb_checkpoints``, our ``.<name>.oldfilm`` work dirs and temp files) and our own
  outputs (``*_restored.*``, ``*_colorized.*``, ``*_compare.*``);
* the output is ``<stem><suffix><ext>`` beside the input, or under ``-o DIR`` mirroring the tree
  below each input argument;
* an output that would replace any input is an error for that job; an existing output is
  skipped unless ``--overwrite`` (outputs are only ever renamed into place when complete, so an
  existing output is a complete one).

Nothing here touches torch, so discovery is cheap and testable on its own.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import BadInputError, OldfilmError, OutputBusy, OutputError

# Suffixes our own outputs carry; a folder walk never feeds them back in as inputs.
OWN_SUFFIXES = ("_restored", "_colorized", "_compare")
WORK_DIR_SUFFIX = ".oldfilm"
TEMP_MARK = ".oldfilm-tmp"


def media_extensions() -> tuple[frozenset[str], frozenset[str]]:
    """(image, video) lower-case extensions with the dot, from oldfilm.images."""
    from .images import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

    return frozenset(e.lower() for e in IMAGE_EXTENSIONS), frozenset(e.lower() for e in VIDEO_EXTENSIONS)


@dataclass
class Job:
    src: Path                 # the input file
    dst: Path                 # the output it becomes
    kind: str                 # "photo" or "video"
    error: OldfilmError | None = None   # set when the job cannot run (reported as failed)

    @property
    def work_dir(self) -> Path:
        """Where a video's resumable segment state lives: hidden, beside the output."""
        return video_work_dir(self.dst)

    def existing_output(self) -> Path | None:
        """The complete output already on disk, if any (a video may have fallen back to MKV)."""
        for p in self.output_candidates():
            if p.is_file():
                return p
        return None

    def output_candidates(self) -> list[Path]:
        cands = [self.dst]
        if self.kind == "video" and self.dst.suffix.lower() != ".mkv":
            cands.append(self.dst.with_suffix(".mkv"))
        return cands


def video_work_dir(dst: Path) -> Path:
    return dst.parent / f".{dst.name}{WORK_DIR_SUFFIX}"


def is_hidden(name: str) -> bool:
    return name.startswith(".")


# A trial run's output: <stem>_restored_trial-1m30s-10s.<ext> (video/excerpt.py, Span.label).
_TRIAL_TAIL = re.compile(r"_trial-[0-9hms.]+-[0-9hms.]+$")


def trial_suffix(span) -> str:
    """The output-name tail of a trial run (``--trial``), after the command's suffix."""
    return f"_trial-{span.label}"


def is_own_output(path: Path) -> bool:
    return _TRIAL_TAIL.sub("", path.stem).endswith(OWN_SUFFIXES)


def output_path(src: Path, root: Path | None, suffix: str, output_dir: Path | None, photo: bool = True) -> Path:
    """``<stem><suffix><ext>`` beside ``src``, or under ``output_dir`` at src's place below ``root``.

    ``root`` is the folder argument ``src`` was found in (None for a file argument, which lands
    directly in ``output_dir``). A photo in a format that cannot hold the result (GIF) gets the
    extension it is written in (images.REWRITTEN_AS).
    """
    from .images import REWRITTEN_AS

    ext = REWRITTEN_AS.get(src.suffix.lower(), src.suffix) if photo else src.suffix
    name = f"{src.stem}{suffix}{ext}"
    if output_dir is None:
        return src.with_name(name)
    rel_parent = src.parent.relative_to(root) if root is not None else Path()
    return output_dir / rel_parent / name


def _walk(folder: Path, errors: list[OldfilmError]) -> Iterator[Path]:
    """Files below ``folder``, sorted, hidden entries pruned; unreadable folders become errors."""

    def onerror(err: OSError) -> None:
        errors.append(BadInputError(err.filename or folder, f"cannot read folder ({err.strerror or err})"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=onerror, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not is_hidden(d))
        for f in sorted(filenames):
            if not is_hidden(f):
                yield Path(dirpath) / f


def discover(
    inputs: list[str | Path],
    *,
    suffix: str = "_restored",
    output_dir: Path | None = None,
) -> list[Job]:
    """Every job for these inputs, in order. Unusable inputs come back as jobs with ``error`` set.

    Explicitly named files are always jobs (a non-media file then fails with one line); inside
    folders only files with a known image or video extension are taken.
    """
    image_ext, video_ext = media_extensions()
    found: list[tuple[Path, Path | None]] = []   # (src, root)
    jobs: list[Job] = []
    for arg in inputs:
        p = Path(arg)
        if p.is_dir():
            errors: list[OldfilmError] = []
            for f in _walk(p, errors):
                ext = f.suffix.lower()
                if (ext in image_ext or ext in video_ext) and not is_own_output(f):
                    found.append((f, p))
            jobs.extend(Job(Path(getattr(e, "path", p)), Path(), "folder", e) for e in errors)
        elif p.is_file():
            found.append((p, None))
        elif p.is_symlink():
            jobs.append(Job(p, Path(), "photo", BadInputError(p, "broken link (its target does not exist)")))
        elif not p.exists():
            jobs.append(Job(p, Path(), "photo", BadInputError(p, "no such file or folder")))
        else:
            jobs.append(Job(p, Path(), "photo", BadInputError(p, "not a regular file or folder")))

    inputs_real = {os.path.realpath(src) for src, _ in found}
    claimed: dict[str, Path] = {}
    seen_src: set[str] = set()
    for src, root in found:
        real = os.path.realpath(src)
        if real in seen_src:           # the same file named twice (a file inside a folder argument)
            continue
        seen_src.add(real)
        kind = "photo" if src.suffix.lower() in image_ext and not _animated_gif(src) else "video"
        dst = output_path(src, root, suffix, output_dir, photo=kind == "photo")
        job = Job(src, dst, kind)
        job.error = _output_conflict(job, inputs_real, claimed)
        if job.error is None:
            claimed[os.path.realpath(dst)] = src
        jobs.append(job)
    return jobs


def _animated_gif(src: Path) -> bool:
    """A GIF of several frames is a little film: it runs as a video (every frame, into MKV)."""
    if src.suffix.lower() != ".gif":
        return False
    from PIL import Image

    try:
        with Image.open(src) as im:
            return int(getattr(im, "n_frames", 1) or 1) > 1
    except (OSError, ValueError, SyntaxError):
        return False          # the photo job then says what is wrong with it, in one line


def _output_conflict(job: Job, inputs_real: set[str], claimed: dict[str, Path]) -> OldfilmError | None:
    for cand in job.output_candidates():
        real = os.path.realpath(cand)
        if real in inputs_real:
            return OutputError(job.src, f"output {cand} would overwrite an input; refusing")
        try:
            if cand.exists() and os.path.samefile(cand, job.src):
                return OutputError(job.src, f"output {cand} is the input file itself; refusing")
        except OSError:
            pass
    real = os.path.realpath(job.dst)
    if real in claimed:
        return OutputError(job.src, f"output {job.dst} is also the output of {claimed[real]}; rename one input")
    return None


def write_error(path: Path, err: OSError) -> OutputError:
    """One-line error for a failed write; a full disk says so plainly."""
    if err.errno == errno.ENOSPC:
        return OutputError(path, "disk full (no space left on device); nothing was written")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return OutputError(path, f"cannot write here ({err.strerror})")
    return OutputError(path, f"cannot write ({err.strerror or err})")


def temp_path(dst: Path) -> Path:
    """A hidden temp name in dst's folder that keeps dst's extension (writers pick the format by it)."""
    return dst.with_name(f".{dst.stem}{TEMP_MARK}-{os.getpid()}{dst.suffix}")


def ensure_output_folder(dst: Path) -> None:
    """Create ``dst``'s folder (and its parents) if missing; OutputError in one line if it cannot be."""
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise write_error(dst.parent, e) from None
        raise OutputError(dst.parent, f"cannot create the output folder ({e.strerror or e})") from None


@contextlib.contextmanager
def atomic_output(dst: Path) -> Iterator[Path]:
    """Yield a temp path to write; on success fsync it and rename it onto ``dst``.

    On any failure the temp file is removed and ``dst`` is untouched. OSErrors (ENOSPC, EACCES)
    become one-line OutputErrors.
    """
    ensure_output_folder(dst)
    tmp = temp_path(dst)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
        _fsync_dir(dst.parent)
    except OutputError as e:
        _unlink(tmp)
        if e.path == tmp:      # name the real output, not our hidden temp file
            raise OutputError(dst, e.problem) from None
        raise
    except OSError as e:
        _unlink(tmp)
        raise write_error(dst, e) from None
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(p: Path) -> None:
    with contextlib.suppress(OSError):
        p.unlink()


def _fsync_dir(folder: Path) -> None:
    # The rename is only durable once the directory entry is; not every filesystem allows it.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- running a batch ---------------------------------------------------------------------------

@dataclass
class JobRecord:
    """One job's outcome: the --json line and the human line are both made from it."""

    input: str
    output: str | None
    status: str                      # "done", "skipped" or "failed"
    frames: int = 0
    seconds: float = 0.0
    fps: float = 0.0
    faces: int | None = None         # only when a face stage ran
    warnings: list[str] | None = None
    error: str | None = None
    stages: dict | None = None       # every stage's counters (report()), merged
    reason: str | None = None        # why a job was skipped: "exists" or "already in colour"

    def to_json(self) -> dict:
        d = {
            "input": self.input, "output": self.output, "status": self.status,
            "frames": self.frames, "seconds": round(self.seconds, 3), "fps": round(self.fps, 3),
            "warnings": list(self.warnings or []), "error": self.error,
        }
        if self.faces is not None:
            d["faces"] = self.faces
        if self.stages:
            d["stages"] = self.stages
        if self.reason:
            d["reason"] = self.reason
        return d


@dataclass
class BatchSummary:
    records: list[JobRecord]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.records)

    @property
    def failed(self) -> int:
        return self.count("failed")

    def line(self) -> str:
        return f"{self.count('done')} done, {self.count('skipped')} skipped, {self.failed} failed"


def failed_record(job: Job, err: BaseException) -> JobRecord:
    """The record of a job that raised ``err``."""
    return JobRecord(str(job.src), str(job.dst) if job.dst != Path() else None, "failed", error=error_line(job, err))


def error_line(job: Job, err: BaseException) -> str:
    """The one line a failed job prints: names the file and the problem, never a traceback."""
    if isinstance(err, OSError):
        if err.errno == errno.ENOSPC:
            err = write_error(job.dst, err)
        else:
            err = BadInputError(job.src, err.strerror or str(err))
    if isinstance(err, OldfilmError):
        msg = str(err)
    else:
        msg = f"unexpected {type(err).__name__}: {err} (set OLDFILM_DEBUG=1 for the traceback)"
    msg = " ".join(msg.split())       # one line, whatever the exception text held
    if str(job.src) not in msg and job.src.name not in msg:
        msg = f"{job.src}: {msg}"
    return msg


ALREADY_IN_COLOUR = "already in colour"       # a skip reason: colorizing was the job, and the file has colour
SKIP_HINTS = {ALREADY_IN_COLOUR: " (--recolor colorizes it anyway)"}


def _reference_note(stages: dict) -> str:
    """The done line's word on --reference: how many frames took the references' colours."""
    if "reference_frames" not in stages:
        return ""
    used, total = stages["reference_frames"], stages.get("colorized_frames", 0)
    if total <= 1:
        return ", colours from the references" if used else ", the references show nothing of it: the colorizer's own colours"
    return f", colours from the references in {used} of {total} frames"


def run_batch(jobs: list[Job], pipeline, *, overwrite: bool = False, segment_seconds: float = 30.0,
              json_lines: bool = False, verbose: bool = True, progress: bool = True,
              compare: bool = False, out=None, err=None, bars=None, trial=None) -> BatchSummary:
    """Run every job; a failure is recorded and the batch goes on. KeyboardInterrupt propagates
    (after the bars are closed) and leaves each video's work dir for the next run to resume.

    ``bars``: your own progress sink with :class:`oldfilm.progress.Progress`'s methods (the GUI's
    task queue); by default tqdm bars on ``err`` when it is a terminal.
    ``trial``: a ``video.excerpt.Span``: each video job runs on that span of its input only (the
    jobs' outputs should carry ``trial_suffix``); photo jobs are skipped."""
    import json
    import sys

    from .progress import Progress

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    human = err if json_lines else out     # stdout carries only JSON under --json
    debug = os.environ.get("OLDFILM_DEBUG") == "1"

    pending = [j for j in jobs if j.error is None and (overwrite or j.existing_output() is None)]
    if pending:
        pipeline.prepare(photos=any(j.kind == "photo" for j in pending),
                         videos=any(j.kind == "video" for j in pending))

    # Bars only on a terminal: in logs and pipes they would be noise.
    if bars is None:
        bars = Progress(len(jobs), enabled=progress and _isatty(err), stream=err)
    records: list[JobRecord] = []

    def emit(rec: JobRecord) -> None:
        records.append(rec)
        if json_lines:
            print(json.dumps(rec.to_json()), file=out, flush=True)
        if rec.status == "failed":
            bars.write(f"error: {rec.error}", err)
        elif verbose:
            if rec.status == "skipped":
                hint = SKIP_HINTS.get(rec.reason or "", "")
                bars.write(f"skipped: {rec.reason}: {rec.output or rec.input}{hint}", human)
            else:
                extra = f", {rec.frames} frames, {rec.fps:.1f} fps" if rec.frames > 1 else ""
                repeats = (rec.stages or {}).get("repeated_frames")
                if repeats:
                    extra += f", {repeats} repeated frames reused"
                steadied = (rec.stages or {}).get("deflickered_frames")
                if steadied is not None:
                    extra += f", {steadied} frames deflickered"
                extra += _reference_note(rec.stages or {})
                bars.write(f"done: {rec.input} -> {rec.output} ({rec.seconds:.1f} s{extra})", human)
            for w in rec.warnings or []:
                bars.write(f"warning: {rec.input}: {w}", err)

    # --workers N: runs of consecutive photos go to N processes (photo_workers.py).
    n, worker_options = pipeline.worker_setup() if hasattr(pipeline, "worker_setup") else (1, None)
    pool = None
    try:
        i = 0
        while i < len(jobs):
            k = i
            while k < len(jobs) and jobs[k].kind == "photo":
                k += 1
            if worker_options is not None and trial is None and k - i >= 2:
                if pool is None:
                    from .photo_workers import PhotoPool

                    pool = PhotoPool(n, worker_options)
                results = pool.run(jobs[i:k], overwrite, compare)
                for job in jobs[i:k]:
                    bars.start_job(job.src.name)
                    try:
                        emit(next(results))
                    finally:
                        bars.end_job()
                i = k
                continue
            job = jobs[i]
            i += 1
            bars.start_job(job.src.name)
            try:
                emit(_run_one(job, pipeline, overwrite, segment_seconds, compare, bars, trial))
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001 - one line per failed job, the batch goes on
                if debug:
                    import traceback

                    traceback.print_exc(file=err)
                emit(failed_record(job, e))
            finally:
                bars.end_job()
        if pool is not None:
            pool.close()
            pool = None
    finally:
        if pool is not None:        # Ctrl-C, a GUI cancel: stop the photo workers now
            pool.terminate()
        bars.close()
    return BatchSummary(records)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


TRIAL_PHOTO = "a trial is for video"       # a skip reason: --trial leaves photos alone


def _run_one(job: Job, pipeline, overwrite: bool, segment_seconds: float, compare: bool, bars,
             trial=None) -> JobRecord:
    """One job, here or in a photo worker (photo_workers.py: `bars` None; photos never use it)."""
    if job.error is not None:
        raise job.error
    if trial is not None and job.kind != "video":
        return JobRecord(str(job.src), None, "skipped", reason=TRIAL_PHOTO)
    existing = job.existing_output()
    if existing is not None and not overwrite:
        return JobRecord(str(job.src), str(existing), "skipped", reason="exists")
    if job.kind == "video":
        try:
            if trial is None:
                res = pipeline.run_video(job.src, job.dst, segment_seconds=segment_seconds,
                                         on_progress=bars.frames, on_scan=bars.scan)
            else:
                res = _run_trial(job, pipeline, trial, segment_seconds, bars, compare)
        except OutputBusy as e:       # not this run's failure: the other run is making it
            return JobRecord(str(job.src), str(job.dst), "skipped", reason=e.reason)
    else:
        res = pipeline.run_photo(job.src, job.dst)
    if res.skipped:
        return JobRecord(str(job.src), None, "skipped", seconds=res.seconds, reason=res.skipped)
    warnings = list(res.warnings)
    if compare and trial is None:          # a trial compares with its own span (_run_trial)
        warnings.extend(_write_compare(job.src, Path(res.output)))
    faces = res.report.get("faces") if isinstance(res.report.get("faces"), int) else None
    return JobRecord(str(job.src), str(res.output), "done", frames=res.frames, seconds=res.seconds,
                     fps=res.fps, faces=faces, warnings=warnings, stages=dict(res.report))


def _run_trial(job: Job, pipeline, span, segment_seconds: float, bars, compare: bool = False):
    """The video job on ``span`` of its input: the span is copied (no re-encoding) to a hidden
    file beside the output, named for this process, and removed after, whatever happens. With
    ``compare`` the before | after file shows that span, so both sides run in step."""
    from .video.excerpt import cut_excerpt

    excerpt = job.dst.with_name(f".{job.dst.stem}.oldfilm-excerpt-{os.getpid()}{job.src.suffix}")
    ensure_output_folder(job.dst)      # the excerpt goes there before the run makes its work folder
    try:
        start, seconds = cut_excerpt(job.src, excerpt, span)
        res = pipeline.run_video(excerpt, job.dst, segment_seconds=segment_seconds,
                                 on_progress=bars.frames, on_scan=bars.scan)
        if compare and res.output is not None:
            res.warnings.extend(_write_compare(excerpt, Path(res.output)))
    finally:
        excerpt.unlink(missing_ok=True)
    res.warnings.insert(0, f"trial: {seconds:.1f} s from {start:.2f} s (keyframe-aligned) of {job.src.name}")
    return res


def _write_compare(src: Path, output: Path) -> list[str]:
    """``<output stem>_compare.<ext>`` beside the output (original | oldfilm); returns warnings.

    The output itself is complete and kept even if the comparison cannot be made."""
    from .compare import write_compare

    try:
        write_compare(src, output)
    except OldfilmError as e:
        return [f"--compare: {' '.join(str(e).split())}"]
    return []

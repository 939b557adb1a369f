"""User-facing errors. Each one prints as a single line that names the file and the problem."""
from __future__ import annotations

from pathlib import Path


class OldfilmError(Exception):
    """An error the user can act on. ``str(err)`` is the one line the CLI prints."""

    exit_code = 1


class BadInputError(OldfilmError):
    """An input file that cannot be processed (not media, truncated, no video stream, ...)."""

    exit_code = 2

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self):      # pickles whole (a --workers process hands its error to the parent)
        return type(self), (self.path, self.problem)


class OutputError(OldfilmError):
    """An output that cannot be written (exists without --overwrite, equals the input, disk full)."""

    exit_code = 3

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self):      # pickles whole (a --workers process hands its error to the parent)
        return type(self), (self.path, self.problem)


class NoWeightsError(OldfilmError):
    """A stage needs a checkpoint that is not installed. Never fall back to random weights."""

    exit_code = 4


class WeightsFormatError(OldfilmError):
    """A checkpoint file that is not what it claims to be (unknown keys, wrong shapes)."""

    exit_code = 5

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")

    def __reduce__(self):      # pickles whole (a --workers process hands its error to the parent)
        return type(self), (self.path, self.problem)


class OutputBusy(OutputError):
    """Another oldfilm run is making this output now (its video work dir is locked). Not a
    failure of this run: the batch reports the job as skipped."""

    def __init__(self, path: str | Path, holder: str = ""):
        who = f" (pid {holder})" if holder else ""
        self.holder = holder
        self.reason = f"another oldfilm run{who} is making it now"
        super().__init__(path, f"{self.reason}; run again after it ends to pick up what it leaves")

    def __reduce__(self):
        return type(self), (self.path, self.holder)

"""One run at a time per video output: an exclusive lock on a file in the work dir.

Two runs on the same output (a second terminal, the GUI and the CLI, a batch started twice to
use more cores) would otherwise write the same segment files, and a run with other settings
would discard the first run's segments as stale while it works. The lock is an OS file lock
(flock / msvcrt.locking), so it goes with its process: a crash or a kill never leaves a stale
lock behind, and the next run resumes as before."""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import OutputBusy

LOCK_NAME = "lock"


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:        # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    return True


@contextmanager
def work_lock(work_dir: Path, output: Path) -> Iterator[None]:
    """Hold ``work_dir``'s lock (the folder must exist) for the block. Raises OutputBusy, naming
    ``output`` and the holder's pid, when another process holds it."""
    path = work_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd):
            try:
                holder = path.read_text(errors="replace").strip()[:20]
            except OSError:
                holder = ""
            raise OutputBusy(output, holder)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        os.close(fd)

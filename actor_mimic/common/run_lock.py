"""One writer per run folder.

Two processes training in the same run folder (the same `amn train-dqn --run-dir` started
twice, or two `amn transfer` commands given overlapping seeds) would interleave their
checkpoints and logs into a run that neither of them trained. A learner therefore holds an
advisory lock on `<run folder>/.amn.lock` while it exists. The operating system drops the
lock when the process ends, however it ends, so a killed run never leaves a stale lock: the
file stays, the lock does not.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from actor_mimic.errors import UserError

LOCK_NAME = ".amn.lock"


class RunLock:
    """Holds the lock of `folder` (created if missing) until `release()` or process exit.
    `doing` says what holds it, in the message to a second process ("trained", "built")."""

    def __init__(self, folder: str | Path, doing: str = "trained"):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(self._fd)
            self._fd = None
            raise UserError(
                f"{self.folder} is being {doing} by {holder}; wait for it to stop, or choose another folder"
            ) from None
        # Who holds it, for the message above; written after the lock so it is never a stale pid.
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"process {os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


@contextmanager
def waiting_lock(folder: str | Path) -> Iterator[None]:
    """Hold the lock of `folder`, waiting for whoever holds it: for short shared writes, such
    as the tables of an experiment whose seeds train in several processes at once (each
    rewrites them when it stops, and their temporary files have the same names)."""
    fd = os.open(Path(folder) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

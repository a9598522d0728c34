"""A test hook to kill the process exactly inside a store write (tests/collect/test_kills.py).

Timed kills from outside rarely land inside the few milliseconds a write takes; these points
make the crash-safety tests hit them on purpose. Without AMN_TEST_KILL_AT they do nothing.
"""

from __future__ import annotations

import os
import signal

_kill_counts: dict[str, int] = {}


def kill_point(event: str) -> None:
    """Test hook: with AMN_TEST_KILL_AT=<event>:<n> in the environment, the n-th `event` of
    this process SIGKILLs it (events: create, chunk, commit, convert: inside the writing of a
    new store, of a chunk, of the commit, of the HDF5 file), so tests can kill inside a write."""
    kill_at = os.environ.get("AMN_TEST_KILL_AT", "")
    if not kill_at.startswith(event + ":"):
        return
    _kill_counts[event] = _kill_counts.get(event, 0) + 1
    if _kill_counts[event] == int(kill_at.split(":")[1]):
        os.kill(os.getpid(), signal.SIGKILL)

"""Stopping a collection cleanly on SIGINT / SIGTERM.

The first signal only raises a flag; the rollout loop sees it between two steps, lets the
store writer finish what it was writing and closes the store, marked incomplete. Like a kill,
a stop keeps every lane's committed chunks and not the rows short of a chunk: `--resume`
replays those exactly (lanes.py), so nothing collected is lost from the final store. A second
signal stops at once (KeyboardInterrupt); the commit protocol still leaves the store readable.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class CollectionInterrupted(KeyboardInterrupt):
    """Raised by `collect()` after it stored everything and closed the store on a signal."""

    previous_store: Path | None  # set by collect/output.py's replacing_store

    def __init__(self, path, num_steps: int, num_episodes: int, signal_number: int):
        super().__init__(f"collection into {path} stopped by signal {signal_number}")
        self.path = path
        self.num_steps = num_steps
        self.num_episodes = num_episodes
        self.signal_number = signal_number


class StopFlag:
    """Set by the first SIGINT/SIGTERM; `signal_number` says which."""

    def __init__(self) -> None:
        self.signal_number: int | None = None

    def __bool__(self) -> bool:
        return self.signal_number is not None


@contextlib.contextmanager
def stop_on_signals():
    """Yield a StopFlag that the first SIGINT/SIGTERM sets (main thread only; elsewhere the
    flag is never set and signals keep their usual effect)."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signal_number, frame):
        if flag:
            raise KeyboardInterrupt  # a second signal: stop now
        flag.signal_number = signal_number

    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number in STOP_SIGNALS:
        signal.signal(number, handler)
    try:
        yield flag
    finally:
        for number, old in previous.items():
            signal.signal(number, old)

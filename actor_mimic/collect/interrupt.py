"""Stopping a collection cleanly on SIGINT / SIGTERM.

The first signal only raises a flag; the rollout loop sees it between two steps, stores the
running episodes (marked truncated) and closes the store, so nothing collected is lost. A
second signal stops at once (KeyboardInterrupt); the store's commit protocol still leaves it
readable, losing at most the unflushed chunk and the running episodes.
"""

from __future__ import annotations

import contextlib
import signal
import threading

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class CollectionInterrupted(KeyboardInterrupt):
    """Raised by `collect()` after it stored everything and closed the store on a signal."""

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

"""`amn` run in a forked child of the test process, to be stopped by a signal.

The child runs the command's own code (`actor_mimic.cli.main`) without importing Python,
torch and the rest again (about 5 s per run on the test machine), so tests can kill and resume
collections many times. Zarr resets its IO thread after a fork; the suite runs torch with one
thread, so no thread pool is inherited.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time


def run_amn(*argv, env: dict | None = None, stop_after: float | None = None, stop_when=None,
            signal_number: int = signal.SIGKILL, timeout: float = 120) -> tuple[int, str]:  # fmt: skip
    """Run `amn *argv` in a child; returns (status, stderr). status: the exit code, or
    -signal when a signal ended it. env: extra environment for the child. The parent sends
    `signal_number` after `stop_after` seconds, or once `stop_when()` is true."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: run the command, report through the pipe, never return
        code = 99
        try:
            os.close(read_end)
            os.dup2(write_end, 2)
            sys.stderr = os.fdopen(write_end, "w", buffering=1)
            os.environ.update(env or {})
            from actor_mimic.cli import main

            code = main([str(arg) for arg in argv])
        except BaseException:  # noqa: BLE001 (reported to the parent, which fails the test)
            import traceback

            traceback.print_exc()
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(write_end)
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: os.read(read_end, 65536), b"")))
    reader.start()
    started, sent = time.monotonic(), False
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        elapsed = time.monotonic() - started
        due = (stop_after is not None and elapsed >= stop_after) or (stop_when is not None and stop_when())
        if due and not sent:
            os.kill(pid, signal_number)
            sent = True
        if elapsed > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"amn {' '.join(map(str, argv))} ran past {timeout} s")
        time.sleep(0.01)
    reader.join()
    os.close(read_end)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return code, b"".join(chunks).decode()

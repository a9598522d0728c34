"""One writer per run folder: a second learner in the same folder is refused, and a killed
holder leaves no stale lock."""

import fcntl
import os
import signal
import subprocess
import sys
import threading

import pytest

from actor_mimic.common.run_lock import LOCK_NAME, RunLock, waiting_lock
from actor_mimic.errors import UserError


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path):
    folder = tmp_path / "runs" / "seed0"
    first = RunLock(folder)
    assert (folder / LOCK_NAME).read_text() == f"process {os.getpid()}\n"
    with pytest.raises(UserError) as refused:
        RunLock(folder)
    assert str(refused.value) == (
        f"{folder} is being trained by process {os.getpid()}; wait for it to stop, or choose another folder"
    )
    first.release()
    second = RunLock(folder)
    second.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         ("import sys, time; from actor_mimic.common.run_lock import RunLock; RunLock(sys.argv[1]); "
         "print('held', flush=True); time.sleep(60)"), str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(UserError, match=f"being trained by process {holder.pid};"):
            RunLock(tmp_path)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    RunLock(tmp_path).release()  # the file stays, the lock went with the process
    assert (tmp_path / LOCK_NAME).exists()


def test_waiting_lock_waits_for_the_holder_then_takes_the_lock(tmp_path):
    holder = os.open(tmp_path / LOCK_NAME, os.O_RDWR | os.O_CREAT)  # another writer, holding it
    fcntl.flock(holder, fcntl.LOCK_EX)
    taken = threading.Event()

    def write_tables():
        with waiting_lock(tmp_path):
            taken.set()

    writer = threading.Thread(target=write_tables)
    writer.start()
    assert not taken.wait(0.5), "it waited while the lock was held"
    os.close(holder)
    assert taken.wait(10), "it took the lock once released"
    writer.join()

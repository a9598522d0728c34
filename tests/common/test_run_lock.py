"""One writer per run folder: a second learner in the same folder is refused, and a killed
holder leaves no stale lock."""

import os
import signal
import subprocess
import sys

import pytest

from actor_mimic.common.run_lock import LOCK_NAME, RunLock
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

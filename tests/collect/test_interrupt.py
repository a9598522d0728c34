"""Stopping `amn collect` mid-run (SIGINT, SIGTERM, SIGKILL) and resuming to exact counts.

Each test runs the real command in a subprocess, waits until the store has committed its first
chunks, sends the signal, checks the store is readable but flagged incomplete, then resumes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from actor_mimic.common.store import open_store
from actor_mimic.errors import UserError
from tests.collect.conftest import assert_episode_table_consistent, read_store

REPO = Path(__file__).resolve().parents[2]


def amn_collect(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "actor_mimic", "collect", "--no-progress", *args]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def committed_steps(store: Path) -> int:
    try:
        document = json.loads((store / "zarr.json").read_text())
        return int(document["attributes"]["actor_mimic"]["num_steps"])
    except (OSError, ValueError, KeyError):
        return 0  # not created yet, or caught mid-write


def start_and_signal(args: list[str], store: Path, signal_number: int, at_least: int) -> tuple[int, str]:
    process = amn_collect(*args)
    deadline = time.monotonic() + 120
    while committed_steps(store) < at_least:
        assert process.poll() is None, f"collect ended early: {process.communicate()}"
        assert time.monotonic() < deadline, "no commit within 120 s"
        time.sleep(0.05)
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


def test_sigint_stores_the_running_episodes_and_resume_reaches_the_exact_target(tmp_path, expert_file):
    store = tmp_path / "s.zarr"
    args = ["--expert", str(expert_file), "--out", str(store), "--steps", "1200", "--num-envs", "2",
            "--chunk-len", "128", "--epsilon", "1", "--seed", "5"]  # fmt: skip
    returncode, stderr = start_and_signal(args, store, signal.SIGINT, at_least=256)
    assert returncode == 128 + signal.SIGINT
    assert "--resume" in stderr and "Traceback" not in stderr
    resume_line = stderr.strip().splitlines()[-1].split()
    assert resume_line[:2] == ["amn", "collect"] and resume_line[-1] == "--resume"

    with pytest.raises(UserError, match="incomplete.*--resume"):
        open_store(store)
    before, info = read_store(store, allow_incomplete=True)
    assert 256 <= info.num_steps < 1200 and not info.complete
    assert_episode_table_consistent(before)
    # The running episodes are stored, cut (an env that has just reset has none running).
    cut = info.attrs["cut_episodes"]
    assert 1 <= len(cut) <= 2 and cut == list(range(info.num_episodes - len(cut), info.num_episodes))
    assert before["truncated"][info.episode_starts[cut] + info.episode_lengths[cut] - 1].all()

    resumed = amn_collect(*resume_line[2:])  # the printed command, as printed
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    after, info = read_store(store)
    assert info.num_steps == 1200 and info.complete
    assert_episode_table_consistent(after)
    for name, values in before.items():
        if name not in ("episode_starts", "episode_lengths", "episode_returns"):
            np.testing.assert_array_equal(after[name][: len(values)], values, err_msg=name)
    segments = info.attrs["segments"]
    assert len(segments) == 2 and segments[0]["env_seeds"] != segments[1]["env_seeds"]
    assert segments[1]["start_step"] == len(before["actions"]) and segments[1]["end_step"] == 1200
    assert [segment["stopped_by"] for segment in segments] == ["signal 2", "target"]


def test_sigkill_keeps_the_committed_chunks_and_resume_completes(tmp_path, expert_file):
    store = tmp_path / "s.zarr"
    args = ["--expert", str(expert_file), "--out", str(store), "--steps", "900", "--num-envs", "2",
            "--chunk-len", "100", "--epsilon", "1"]  # fmt: skip
    returncode, _ = start_and_signal(args, store, signal.SIGKILL, at_least=300)
    assert returncode == -signal.SIGKILL
    with pytest.raises(UserError, match="--resume"):
        open_store(store)
    before, info = read_store(store, allow_incomplete=True)
    committed = info.attrs["num_steps"]
    assert committed >= 300 and committed % 100 == 0, "whole chunks only"
    assert info.num_steps <= committed  # readers serve committed episodes only

    resumed = amn_collect(*args, "--resume")
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    after, info = read_store(store)
    assert info.num_steps == 900 and info.complete
    assert_episode_table_consistent(after)
    # Every committed row is kept; the episode a kill cut short ends truncated at the commit.
    for name, values in before.items():
        if name not in ("episode_starts", "episode_lengths", "episode_returns", "truncated"):
            np.testing.assert_array_equal(after[name][:committed], values, err_msg=name)
    np.testing.assert_array_equal(after["truncated"][: committed - 1], before["truncated"][: committed - 1])
    if not before["terminated"][committed - 1]:
        assert after["truncated"][committed - 1]
        assert int(np.searchsorted(info.episode_starts, committed, side="left")) - 1 in info.attrs["cut_episodes"]


def test_sigterm_then_resume_gives_exactly_n_game_ended_episodes(tmp_path, expert_file):
    store = tmp_path / "s.zarr"
    args = ["--expert", str(expert_file), "--out", str(store), "--episodes", "5", "--num-envs", "2",
            "--chunk-len", "64", "--epsilon", "1"]  # fmt: skip
    returncode, stderr = start_and_signal(args, store, signal.SIGTERM, at_least=64)
    assert returncode == 128 + signal.SIGTERM, stderr
    _, info = read_store(store, allow_incomplete=True)
    stopped_with = info.num_episodes - len(info.attrs["cut_episodes"])
    resumed = amn_collect(*args, "--resume")
    _, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    arrays, info = read_store(store)
    cut = info.attrs["cut_episodes"]
    assert info.num_episodes - len(cut) == 5 and 1 <= len(cut) <= 2 and stopped_with < 5
    assert_episode_table_consistent(arrays)
    ends = info.episode_starts + info.episode_lengths - 1
    assert arrays["terminated"][np.delete(ends, cut)].all() and not arrays["terminated"][ends[cut]].any()

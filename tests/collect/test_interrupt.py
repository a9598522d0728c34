"""Stopping `amn collect` with SIGINT / SIGTERM, and resuming to exactly the uninterrupted store.

Each test runs the real command (forked from the test process, tests/collect/forked.py), stops
it once the store has committed some chunks, checks the store is readable but flagged
incomplete, resumes it with the command the stop printed, and compares the result with an
uninterrupted collection of the same settings.
"""

from __future__ import annotations

import json
import shlex
import signal

import numpy as np
import pytest

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.errors import UserError
from actor_mimic.store import open_store, read_card, render_card, table_rows
from tests.collect.conftest import assert_episode_table_consistent, read_lanes, read_store
from tests.collect.forked import run_amn


def committed_steps(store) -> int:
    try:
        document = json.loads((store / "zarr.json").read_text())
        return int(document["attributes"]["actor_mimic"]["num_steps"])
    except (OSError, ValueError, KeyError):
        return 0  # not created yet


def assert_same_lanes(path, reference) -> None:
    for lane, (got, expected) in enumerate(zip(read_lanes(path, allow_incomplete=False), read_lanes(reference, False))):
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=f"lane {lane} {name}")


def test_sigint_keeps_whole_chunks_and_the_printed_resume_completes_the_same_store(tmp_path, expert_file):
    store, reference = tmp_path / "s.zarr", tmp_path / "reference.zarr"
    flags = ["--steps", 900, "--num-envs", 2, "--chunk-len", 64, "--epsilon", 1, "--seed", 5]
    collect(
        CollectConfig(expert=str(expert_file), out=reference, steps=900, num_envs=2, chunk_len=64, epsilon=1.0, seed=5)
    )
    status, stderr = run_amn("collect", "--no-progress", "--expert", expert_file, "--out", store, *flags,
                             stop_when=lambda: committed_steps(store) >= 256, signal_number=signal.SIGINT)  # fmt: skip
    assert status == 128 + signal.SIGINT and "Traceback" not in stderr
    resume_line = shlex.split(stderr.strip().splitlines()[-1])
    assert resume_line[:2] == ["amn", "collect"] and resume_line[-1] == "--resume"

    with pytest.raises(UserError, match="incomplete.*--resume"):
        open_store(store)
    _, info = read_store(store, allow_incomplete=True)
    committed = [lane.committed for lane in info.lanes]
    assert 256 <= sum(committed) < 900 and all(rows % 64 == 0 for rows in committed), "whole chunks only"
    assert info.attrs["segments"][0]["stopped_by"] == "signal 2"
    card = table_rows(read_card(store))  # the card says what the interrupted store holds
    assert card["complete"].startswith("**no**") and card["steps"] == f"{info.num_steps:,}"

    status, stderr = run_amn(*resume_line[1:])  # the printed command, as printed
    assert status == 0, stderr
    arrays, info = read_store(store)
    assert info.num_steps == 900 and info.complete
    assert_episode_table_consistent(arrays)
    assert [segment["stopped_by"] for segment in info.attrs["segments"]] == ["signal 2", "target"]
    assert_same_lanes(store, reference)
    assert read_card(store) == render_card(store) and table_rows(read_card(store))["complete"] == "yes"


def test_sigterm_then_resume_gives_exactly_n_game_ended_episodes(tmp_path, expert_file):
    store, reference = tmp_path / "s.zarr", tmp_path / "reference.zarr"
    settings = dict(episodes=5, num_envs=2, chunk_len=64, epsilon=1.0)
    collect(CollectConfig(expert=str(expert_file), out=reference, **settings))
    flags = ["--episodes", 5, "--num-envs", 2, "--chunk-len", 64, "--epsilon", 1, "--no-progress"]
    command = ["collect", "--expert", expert_file, "--out", store, *flags]
    status, stderr = run_amn(*command, stop_when=lambda: committed_steps(store) >= 128, signal_number=signal.SIGTERM)
    assert status == 128 + signal.SIGTERM, stderr
    _, info = read_store(store, allow_incomplete=True)
    assert info.num_episodes < 5
    status, stderr = run_amn(*command, "--resume")
    assert status == 0, stderr
    arrays, info = read_store(store)
    assert info.num_episodes == 5 and info.attrs["cut_episodes"] == []
    assert_episode_table_consistent(arrays)
    ends = arrays["episode_starts"] + arrays["episode_lengths"] - 1
    assert arrays["terminated"][ends].all()
    assert_same_lanes(store, reference)

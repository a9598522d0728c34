"""Shared fixtures: a real Breakout expert (randomly initialised: collection is plumbing and
does not care how well the expert plays) and a reader of everything a store holds.

Breakout with no-op starts off: the single-env and vector paths give byte-identical
observations then, and random play ends an episode every ~150-300 steps, so tiny budgets cross
episode boundaries.
"""

from __future__ import annotations

import numpy as np
import pytest

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import random_init_expert, save_checkpoint
from actor_mimic.common.store import open_store

BREAKOUT = AtariConfig("breakout", noop_max=0)


@pytest.fixture(scope="session")
def expert():
    return random_init_expert(BREAKOUT, seed=0)


@pytest.fixture(scope="session")
def expert_file(tmp_path_factory, expert):
    path = tmp_path_factory.mktemp("experts") / "breakout.safetensors"
    save_checkpoint(path, expert.network, expert.metadata)
    return path


def read_store(path, allow_incomplete=False) -> tuple[dict, object]:
    """(every per-step array below the commit and the episode table, StoreInfo)."""
    backend, info = open_store(path, allow_incomplete=allow_incomplete)
    n = int(info.attrs["num_steps"])
    arrays = {name: np.asarray(backend.array(name)[:n]) for name in info.attrs["fields"]}
    arrays["episode_starts"] = info.episode_starts
    arrays["episode_lengths"] = info.episode_lengths
    arrays["episode_returns"] = info.episode_returns
    backend.close()
    return arrays, info


def assert_episode_table_consistent(arrays: dict) -> None:
    """Episodes tile the steps in order; each ends exactly where terminated/truncated is set."""
    starts, lengths = arrays["episode_starts"], arrays["episode_lengths"]
    ends = starts + lengths
    assert starts[0] == 0 and np.array_equal(starts[1:], ends[:-1])
    assert ends[-1] == len(arrays["actions"])
    done = arrays["terminated"] | arrays["truncated"]
    assert np.array_equal(np.flatnonzero(done), ends - 1)
    for start, end, episode_return in zip(starts, ends, arrays["episode_returns"]):
        assert episode_return == arrays["rewards"][start:end].sum(dtype=np.float64)

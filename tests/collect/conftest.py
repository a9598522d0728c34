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
from actor_mimic.store import open_store, read_field

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
    """(arrays, StoreInfo): every per-step array, lane after lane (the rows of closed
    episodes), with the episode table over that concatenation: episode_starts,
    episode_lengths, episode_returns, and cut_episodes (indices of those the budget cut)."""
    backend, info = open_store(path, allow_incomplete=allow_incomplete)
    cut_pairs = {tuple(pair) for pair in info.attrs.get("cut_episodes", [])}
    pieces = {name: [] for name in info.attrs["fields"]}
    starts, lengths, cut, offset, first = [], [], [], 0, 0
    for index, lane in enumerate(info.lanes):
        for name in pieces:
            pieces[name].append(read_field(backend, info.attrs, lane.prefix, name, 0, lane.num_steps))
        starts.append(lane.episode_starts + offset)
        lengths.append(lane.episode_lengths)
        cut += [first + episode for episode in range(len(lane.episode_starts)) if (index, episode) in cut_pairs]
        offset, first = offset + lane.num_steps, first + len(lane.episode_starts)
    backend.close()
    arrays = {name: np.concatenate(parts) for name, parts in pieces.items()}
    arrays["episode_starts"] = np.concatenate(starts)
    arrays["episode_lengths"] = np.concatenate(lengths)
    arrays["episode_returns"] = info.episode_returns
    arrays["cut_episodes"] = cut
    return arrays, info


def read_lanes(path, allow_incomplete=True) -> list[dict]:
    """Per lane, every committed row of every per-step array (running episodes' heads too)."""
    backend, info = open_store(path, allow_incomplete=allow_incomplete)
    lanes = [
        {name: read_field(backend, info.attrs, lane.prefix, name, 0, lane.committed) for name in info.attrs["fields"]}
        for lane in info.lanes
    ]
    backend.close()
    return lanes


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

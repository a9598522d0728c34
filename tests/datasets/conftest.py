"""Tiny real teacher stores, written from short real Atari rollouts.

`rollout` plays a real game through the fast vector env with a randomly initialised expert
labelling every state, and keeps the live observation stacks, so tests can compare what the
datasets rebuild with what the environment actually showed. Episodes are capped at 150 agent
steps (600 frames), so Breakout rollouts hold both terminated and truncated episodes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from actor_mimic.common.atari import AtariConfig, action_set, make_vector_env
from actor_mimic.common.checkpoint import random_init_expert
from actor_mimic.common.store import StoreWriter

CHUNK = 64  # small chunks, so a few hundred steps span many chunks and blocks


def rollout(game: str, steps: int, seed: int = 0) -> list[dict]:
    """Episodes of a real rollout: per-step fields of the store schema plus `stacks`, the
    live (4, 84, 84) observations. The last, unfinished episode is marked truncated."""
    torch.set_num_threads(1)
    config = AtariConfig(game, noop_max=0, max_episode_frames=600)
    expert = random_init_expert(config, seed=seed)
    venv = make_vector_env(config, num_envs=1, num_threads=1)
    rng = np.random.default_rng(seed)
    observations, info = venv.reset(seed=seed)
    episodes, current = [], _empty_episode()
    for step in range(steps):
        with torch.no_grad():
            q_values, hidden = expert.network(torch.from_numpy(observations), hidden_layer="fc")
        action = int(rng.integers(len(action_set(config))))
        next_observations, reward, terminated, truncated, next_info = venv.step(np.array([action]))
        row = {
            "stacks": observations[0].copy(),
            "frames": observations[0, -1].copy(),
            "actions": action,
            "rewards": float(reward[0]),
            "terminated": bool(terminated[0]),
            "truncated": bool(truncated[0]) or step == steps - 1,
            "lives": int(info["lives"][0]),
            "q_values": q_values[0].numpy(),
            "hidden": hidden[0].numpy(),
        }
        for name, value in row.items():
            current[name].append(value)
        if row["terminated"] or row["truncated"]:
            episodes.append(_as_arrays(current))
            current = _empty_episode()
            if step < steps - 1:  # the vector env resets on the step after an episode's end
                next_observations, _, _, _, next_info = venv.step(np.array([0]))
        observations, info = next_observations, next_info
    venv.close()
    return episodes


def _empty_episode() -> dict:
    return {name: [] for name in ("stacks", "frames", "actions", "rewards", "terminated",
                                  "truncated", "lives", "q_values", "hidden")}  # fmt: skip


def _as_arrays(episode: dict) -> dict:
    dtypes = {"actions": np.int16, "rewards": np.float32, "terminated": bool, "truncated": bool,
              "lives": np.int16, "q_values": np.float32, "hidden": np.float32}  # fmt: skip
    return {name: np.asarray(values, dtype=dtypes.get(name)) for name, values in episode.items()}


def write_store(path, game: str, episodes: list[dict], complete: bool = True, hidden_size=None, **kwargs):
    """Write `episodes` (from `rollout`) as a teacher store with the attributes `amn collect`
    writes; `hidden_size` keeps only the first units (a narrower expert, for padding tests)."""
    config = AtariConfig(game, noop_max=0, max_episode_frames=600)
    expert = random_init_expert(config)
    hidden_size = hidden_size or episodes[0]["hidden"].shape[1]
    metadata = {
        "game": config.game,
        "atari": config.to_dict(),
        "preprocessing": config.preprocessing(),
        "action_set": list(action_set(config)),
        "expert": {"sha256": "0" * 64, "in_memory": True, "hidden_layer": "fc",
                   "metadata": {"provenance": dict(expert.metadata.provenance)}},  # fmt: skip
        "behaviour": {"policy": "uniform-random", "epsilon": 1.0, "round": None},
    }
    writer = StoreWriter.create(
        path, metadata=metadata, num_actions=len(metadata["action_set"]), hidden_size=hidden_size,
        chunk_len=kwargs.pop("chunk_len", CHUNK), **kwargs,
    )  # fmt: skip
    for episode in episodes:
        fields = {name: values for name, values in episode.items() if name != "stacks"}
        fields["hidden"] = fields["hidden"][:, :hidden_size]
        writer.append_episode(fields)
    writer.close(complete=complete)
    return path


@pytest.fixture(scope="session")
def breakout_episodes():
    return rollout("breakout", 700, seed=0)


@pytest.fixture(scope="session")
def pong_episodes():
    return rollout("pong", 320, seed=1)


@pytest.fixture(scope="session")
def breakout_zarr(tmp_path_factory, breakout_episodes):
    return write_store(tmp_path_factory.mktemp("stores") / "breakout.zarr", "breakout", breakout_episodes)


@pytest.fixture(scope="session")
def breakout_h5(tmp_path_factory, breakout_episodes):
    return write_store(tmp_path_factory.mktemp("stores") / "breakout.h5", "breakout", breakout_episodes)


@pytest.fixture(scope="session")
def breakout_shards(tmp_path_factory, breakout_episodes):
    """The same rollout in two shards (first two episodes, the rest), in both engines."""
    folder = tmp_path_factory.mktemp("shards")
    return [
        write_store(folder / "breakout-0.zarr", "breakout", breakout_episodes[:2]),
        write_store(folder / "breakout-1.h5", "breakout", breakout_episodes[2:]),
    ]


@pytest.fixture(scope="session")
def pong_zarr(tmp_path_factory, pong_episodes):
    return write_store(tmp_path_factory.mktemp("stores") / "pong.zarr", "pong", pong_episodes, hidden_size=256)


def live(episodes: list[dict], name: str) -> np.ndarray:
    """One recorded field over all episodes, in stored order."""
    return np.concatenate([episode[name] for episode in episodes])

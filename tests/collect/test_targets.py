"""Exact targets, reproducibility, both engines, float16, shards, and the recorded provenance."""

from __future__ import annotations

import numpy as np
import pytest

from actor_mimic.cli import main
from actor_mimic.collect import CollectConfig, collect, split_target
from actor_mimic.common.atari import action_set
from actor_mimic.datasets.inspection import summarize
from tests.collect.conftest import BREAKOUT, assert_episode_table_consistent, read_store

PER_STEP = ("frames", "actions", "rewards", "terminated", "truncated", "lives", "q_values", "hidden")


def test_steps_target_is_exact_and_cuts_running_episodes(tmp_path, expert):
    path = collect(CollectConfig(expert=expert, out=tmp_path / "s.zarr", steps=333, num_envs=4, epsilon=1.0))
    arrays, info = read_store(path)
    assert info.num_steps == 333 and info.attrs["num_steps"] == 333 and info.complete
    assert_episode_table_consistent(arrays)
    # Every episode still running at the budget (one per env that had started one) is cut,
    # marked truncated, and listed; no game ended them.
    cut = arrays["cut_episodes"]
    assert 1 <= len(cut) <= 4 and len(info.attrs["cut_episodes"]) == len(cut)
    for episode in cut:
        last = arrays["episode_starts"][episode] + arrays["episode_lengths"][episode] - 1
        assert arrays["truncated"][last] and not arrays["terminated"][last]
    # One lane per env, each with its fixed share of the steps.
    assert [lane.committed for lane in info.lanes] == [84, 83, 83, 83]
    assert info.attrs["target"] == {"steps": 333, "total": 333}


def test_episodes_target_is_exact_with_only_whole_episodes(tmp_path, expert):
    path = collect(CollectConfig(expert=expert, out=tmp_path / "s.zarr", episodes=5, num_envs=3, epsilon=1.0))
    arrays, info = read_store(path)
    assert info.num_episodes == 5 and info.attrs["cut_episodes"] == []
    assert_episode_table_consistent(arrays)
    last_steps = arrays["episode_starts"] + arrays["episode_lengths"] - 1
    assert arrays["terminated"][last_steps].all(), "random Breakout ends by losing every life"
    assert (arrays["lives"][arrays["episode_starts"]] == 5).all()
    assert [len(lane.episode_starts) for lane in info.lanes] == [2, 2, 1]


def test_same_seed_same_store_and_engines_agree(tmp_path, expert):
    """Zarr and HDF5 hold identical arrays for the same seed; another seed plays differently."""
    settings = dict(expert=expert, steps=260, num_envs=2, epsilon=0.3, seed=7)
    zarr_arrays, zarr_info = read_store(collect(CollectConfig(out=tmp_path / "a.zarr", **settings)))
    hdf5_arrays, hdf5_info = read_store(collect(CollectConfig(out=tmp_path / "a.h5", **settings)))
    assert zarr_info.backend == "zarr" and hdf5_info.backend == "hdf5"
    for name in (*PER_STEP, "episode_starts", "episode_lengths", "episode_returns"):
        np.testing.assert_array_equal(zarr_arrays[name], hdf5_arrays[name], err_msg=name)
    other, _ = read_store(collect(CollectConfig(out=tmp_path / "b.zarr", **{**settings, "seed": 8})))
    assert not np.array_equal(other["actions"], zarr_arrays["actions"])


def test_float16_values(tmp_path, expert):
    settings = dict(expert=expert, steps=150, num_envs=2, epsilon=0.3, seed=2)
    full, _ = read_store(collect(CollectConfig(out=tmp_path / "f32.zarr", **settings)))
    half_config = CollectConfig(out=tmp_path / "f16.zarr", q_dtype="float16", compression="lz4", **settings)
    half, info = read_store(collect(half_config))
    assert info.attrs["q_dtype"] == "float16"
    assert half["q_values"].dtype == np.float16 and half["hidden"].dtype == np.float16
    np.testing.assert_array_equal(half["q_values"], full["q_values"].astype(np.float16))
    np.testing.assert_array_equal(half["hidden"], full["hidden"].astype(np.float16))
    np.testing.assert_array_equal(half["frames"], full["frames"])


@pytest.mark.parametrize("kind, total, count", [("steps", 301, 3), ("episodes", 5, 2)])
def test_shards_add_up_exactly_with_distinct_seeds(tmp_path, expert, kind, total, count):
    parts = []
    for index in range(count):
        out = tmp_path / f"shard-{index}.zarr"
        collect(CollectConfig(expert=expert, out=out, num_envs=2, epsilon=1.0, shard=(index, count), **{kind: total}))
        parts.append(read_store(out))
    sizes = [info.num_steps if kind == "steps" else info.num_episodes for _, info in parts]
    assert sizes == [split_target(total, i, count) for i in range(count)] and sum(sizes) == total
    assert [info.attrs["shard"] for _, info in parts] == [[i, count] for i in range(count)]
    assert not np.array_equal(parts[0][0]["actions"][:100], parts[1][0]["actions"][:100])


def test_store_records_its_provenance(tmp_path, expert_file, capsys):
    config = CollectConfig(expert=expert_file, out=tmp_path / "s.zarr", steps=40, num_envs=2, round="r0", sticky=0.25)
    path = collect(config)
    _, info = read_store(path)
    attrs = info.attrs
    assert attrs["game"] == "breakout" and attrs["action_set"] == list(action_set(BREAKOUT))
    assert attrs["atari"]["repeat_action_probability"] == 0.25 and attrs["atari"]["noop_max"] == 0
    assert attrs["preprocessing"] == BREAKOUT.preprocessing()
    assert len(attrs["expert"]["sha256"]) == 64 and attrs["expert"]["in_memory"] is False
    assert attrs["expert"]["metadata"]["provenance"]["source"] == "random-init"
    assert attrs["expert"]["hidden_layer"] == "fc"
    assert attrs["behaviour"] == {"policy": "expert", "epsilon": 0.05, "round": "r0", "acting": "greedy"}
    assert (attrs["seed"], attrs["num_envs"], attrs["shard"]) == (0, 2, [0, 1])
    assert set(attrs["versions"]) == {"actor_mimic", "ale_py", "gymnasium", "numpy", "torch", "zarr"}
    assert all(attrs["versions"].values())
    # Under sticky actions the stored actions are the chosen ones, and `amn dataset info` says so.
    assert summarize(path)["sticky_actions"] == 0.25
    assert main(["dataset", "info", str(path)]) == 0
    assert "with sticky actions (p=0.25) ALE may have executed the previous one" in capsys.readouterr().out


def test_in_memory_expert_says_so_and_conv_layer(tmp_path, expert):
    path = collect(CollectConfig(expert=expert, out=tmp_path / "s.h5", steps=20, num_envs=2, hidden_layer="conv"))
    arrays, info = read_store(path)
    assert info.attrs["expert"]["sha256"] is None and info.attrs["expert"]["in_memory"] is True
    assert len(info.attrs["expert"]["weights_sha256"]) == 64
    assert info.attrs["expert"]["hidden_layer"] == "conv" and arrays["hidden"].shape == (20, 3136)
    assert "h5py" in info.attrs["versions"]


def test_record_off_writes_nothing(tmp_path, expert):
    assert collect(CollectConfig(expert=expert, out=tmp_path / "s.zarr", steps=30, num_envs=2, record=False)) is None
    assert not (tmp_path / "s.zarr").exists()

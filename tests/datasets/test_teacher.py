"""TeacherDataset on real tiny stores: exact stacks, values, engines, shards, splits, refusals."""

import numpy as np
import pytest

from actor_mimic.common.atari import action_set, AtariConfig
from actor_mimic.common.store_backends import open_backend
from actor_mimic.datasets import TeacherDataset
from actor_mimic.errors import UserError

from tests.datasets.conftest import live, write_store


def test_stacks_equal_the_live_observations_across_episode_boundaries(breakout_zarr, breakout_episodes):
    ds = TeacherDataset(breakout_zarr)
    assert len(ds) == 700 and ds.num_episodes == len(breakout_episodes) >= 4
    stacks = live(breakout_episodes, "stacks")
    assert np.array_equal(ds[:]["frames"], stacks)
    # The first steps of each episode hold zero frames, never the previous episode's.
    starts = np.cumsum([0] + [len(e["actions"]) for e in breakout_episodes[:-1]])
    assert not ds[starts]["frames"][:, :3].any() and ds[starts]["frames"][:, 3].any()
    # Single ints, negative ints and unsorted arrays with repeats read the same steps.
    picks = np.array([450, 3, 3, 299, 150, 0, 699])
    assert np.array_equal(ds[picks]["frames"], stacks[picks])
    assert np.array_equal(ds[-1]["frames"], stacks[-1]) and ds[5]["frames"].shape == (4, 84, 84)


def test_values_are_scattered_onto_the_18_ale_actions(breakout_zarr, breakout_episodes):
    ds = TeacherDataset(breakout_zarr)
    game_actions = list(action_set(AtariConfig("breakout")))
    assert ds.action_set == tuple(game_actions) == (0, 1, 3, 4)
    sample = ds[:]
    expected_q = np.zeros((700, 18), np.float32)
    expected_q[:, game_actions] = live(breakout_episodes, "q_values")
    assert np.array_equal(sample["q_values"], expected_q)
    assert sample["q_values"].dtype == np.float32 and sample["action_mask"].dtype == bool
    assert np.array_equal(sample["action_mask"], np.tile(np.isin(np.arange(18), game_actions), (700, 1)))
    assert np.array_equal(sample["hidden"], live(breakout_episodes, "hidden"))
    assert np.array_equal(sample["actions"], np.array(game_actions)[live(breakout_episodes, "actions")])
    assert sample["actions"].dtype == np.int64 and not sample["game_id"].any()
    assert np.array_equal(sample["index"], np.arange(700))


def test_zarr_and_hdf5_give_identical_samples(breakout_zarr, breakout_h5):
    zarr_ds, hdf5_ds = TeacherDataset(breakout_zarr), TeacherDataset(breakout_h5)
    picks = np.random.default_rng(0).integers(0, 700, 64)
    for a, b in ((zarr_ds[:], hdf5_ds[:]), (zarr_ds[picks], hdf5_ds[picks])):
        assert a.keys() == b.keys()
        for key in a:
            assert np.array_equal(a[key], b[key]), key
    assert np.array_equal(zarr_ds.episode_returns, hdf5_ds.episode_returns)


def test_shards_read_as_one_dataset(breakout_zarr, breakout_shards, breakout_episodes):
    whole, sharded = TeacherDataset(breakout_zarr), TeacherDataset(breakout_shards)
    assert len(sharded) == len(whole) and sharded.num_episodes == whole.num_episodes
    assert np.array_equal(sharded.episode_returns, [e["rewards"].sum() for e in breakout_episodes])
    a, b = whole[:], sharded[:]
    for key in a:
        assert np.array_equal(a[key], b[key]), key


def test_split_is_by_whole_episodes(breakout_shards):
    ds = TeacherDataset(breakout_shards)
    train, val = ds.split_episodes(val_fraction=0.3, seed=0)
    assert val.num_episodes == round(0.3 * ds.num_episodes) and train.num_episodes + val.num_episodes == ds.num_episodes
    assert len(train) + len(val) == len(ds)
    assert sorted(np.concatenate([train.episode_returns, val.episode_returns])) == sorted(ds.episode_returns)
    # Every sample of each side equals the whole dataset's sample at the same stored step.
    whole = ds[:]
    for part in (train, val):
        got = part[:]
        shard_ids, steps, _ = part.locate(np.arange(len(part)))
        offsets = np.array([0, len(TeacherDataset(breakout_shards[0]))])
        assert np.array_equal(got["frames"], whole["frames"][offsets[shard_ids] + steps])
    train_steps = {tuple(x) for x in np.stack(train.locate(np.arange(len(train)))[::2], 1)}
    val_steps = {tuple(x) for x in np.stack(val.locate(np.arange(len(val)))[::2], 1)}
    assert not train_steps & val_steps, "an episode's steps went to both sides"
    same = ds.split_episodes(val_fraction=0.3, seed=0)[1]
    assert np.array_equal(same.episode_returns, val.episode_returns)
    with pytest.raises(UserError, match="cannot split"):
        TeacherDataset(breakout_shards[0]).split_episodes(val_fraction=0.9)


def test_an_interrupted_store_is_refused_unless_allowed(tmp_path, breakout_episodes):
    path = write_store(tmp_path / "cut.zarr", "breakout", breakout_episodes[:3], complete=False)
    with pytest.raises(UserError, match=r"incomplete.*--resume"):
        TeacherDataset(path)
    ds = TeacherDataset(path, allow_incomplete=True)
    assert ds.num_episodes == 3 and len(ds) == sum(len(e["actions"]) for e in breakout_episodes[:3])


def test_rows_past_the_commit_are_never_served(tmp_path, breakout_episodes):
    path = write_store(tmp_path / "killed.zarr", "breakout", breakout_episodes[:2])
    committed = len(TeacherDataset(path))
    backend = open_backend(path, "a")  # a killed writer's rows: on disk but not committed
    for name in ("frames", "q_values"):
        backend.resize(name, committed + 40)
    assert len(TeacherDataset(path)) == committed
    with pytest.raises(IndexError):
        TeacherDataset(path)[committed]


def test_a_store_with_nan_values_is_refused_naming_the_step(tmp_path, breakout_episodes):
    path = write_store(tmp_path / "nan.h5", "breakout", breakout_episodes[:2])
    backend = open_backend(path, "a")
    backend.array("hidden")[77, 3] = np.nan
    backend.close()
    ds = TeacherDataset(path)
    assert np.isfinite(ds[:70]["hidden"]).all()
    with pytest.raises(UserError, match=r"nan\.h5: hidden holds NaN.*first at step 77"):
        ds[70:80]


def test_mismatched_shards_and_bad_paths_are_refused(tmp_path, breakout_zarr, pong_zarr):
    with pytest.raises(UserError, match="differ in game"):
        TeacherDataset([breakout_zarr, pong_zarr])
    with pytest.raises(UserError, match="does not exist"):
        TeacherDataset(tmp_path / "missing.zarr")
    with pytest.raises(UserError, match="no teacher stores"):
        TeacherDataset([])

"""TeacherDataset on real tiny stores: exact stacks, values, engines, shards, splits, refusals."""

import numpy as np
import pytest
import torch

from actor_mimic.common.atari import AtariConfig, action_set
from actor_mimic.datasets import TeacherDataset, make_loader
from actor_mimic.errors import UserError
from actor_mimic.store import open_backend
from tests.datasets.conftest import copy_store, edit_row, live_stacks, mark_incomplete, raw_arrays


def test_stacks_equal_the_live_observations_across_episode_boundaries(breakout_zarr, breakout_live):
    ds = TeacherDataset(breakout_zarr)
    assert len(ds) == 700 and ds.num_episodes >= 3
    assert np.array_equal(ds[:]["frames"], breakout_live)
    # The first steps of each episode hold zero frames, never the previous episode's.
    starts = np.concatenate([[0], np.cumsum(ds.episode_lengths)[:-1]])
    assert not ds[starts]["frames"][:, :3].any() and ds[starts]["frames"][:, 3].any()
    # Single ints, negative ints and unsorted arrays with repeats read the same steps.
    picks = np.array([450, 3, 3, 299, 150, 0, 699, starts[1] + 1])
    assert np.array_equal(ds[picks]["frames"], breakout_live[picks])
    assert np.array_equal(ds[-1]["frames"], breakout_live[-1]) and ds[5]["frames"].shape == (4, 84, 84)


def test_values_are_the_experts_scattered_onto_the_18_ale_actions(breakout_zarr, breakout_live, breakout_expert):
    ds = TeacherDataset(breakout_zarr)
    game_actions = list(action_set(AtariConfig("breakout")))
    assert ds.action_set == tuple(game_actions) == (0, 1, 3, 4) and ds.hidden_size == 512
    sample = ds[:]
    with torch.inference_mode():  # one stack at a time, as the one-env collection labelled
        labels = [breakout_expert.network(torch.from_numpy(s[None]), hidden_layer="fc") for s in breakout_live]
    expected_q = np.zeros((700, 18), np.float32)
    expected_q[:, game_actions] = torch.cat([q for q, _ in labels]).numpy()
    assert np.array_equal(sample["q_values"], expected_q)
    # stored as float16 (the default), served as float32: exactly the expert's, rounded to float16
    assert sample["hidden"].dtype == np.float32
    assert np.array_equal(
        sample["hidden"], torch.cat([h for _, h in labels]).numpy().astype(np.float16).astype(np.float32)
    )
    assert sample["q_values"].dtype == np.float32 and sample["action_mask"].dtype == bool
    assert np.array_equal(sample["action_mask"], np.tile(np.isin(np.arange(18), game_actions), (700, 1)))
    assert np.array_equal(ds.action_mask, np.isin(np.arange(18), game_actions))
    stored = raw_arrays(breakout_zarr)["actions"]
    assert np.array_equal(sample["actions"], np.array(game_actions)[stored])
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


def test_shards_read_as_one_dataset(breakout_shards):
    sharded = TeacherDataset(breakout_shards)
    alone = [TeacherDataset(path) for path in breakout_shards]
    assert len(sharded) == 700 == sum(len(ds) for ds in alone)
    assert sharded.num_episodes == sum(ds.num_episodes for ds in alone)
    assert np.array_equal(sharded.episode_returns, np.concatenate([ds.episode_returns for ds in alone]))
    whole = sharded[:]
    for key, values in whole.items():
        if key != "index":
            assert np.array_equal(values, np.concatenate([ds[:][key] for ds in alone])), key
    assert np.array_equal(whole["frames"], np.concatenate([live_stacks(p) for p in breakout_shards]))


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


def test_an_interrupted_store_is_refused_unless_allowed(tmp_path, breakout_zarr):
    path = copy_store(breakout_zarr, tmp_path / "cut.zarr")
    mark_incomplete(path)
    with pytest.raises(UserError, match=r"incomplete.*--resume"):
        TeacherDataset(path)
    assert len(TeacherDataset(path, allow_incomplete=True)) == 700


def test_rows_past_the_commit_are_never_served(tmp_path, breakout_zarr):
    path = copy_store(breakout_zarr, tmp_path / "killed.zarr")
    backend = open_backend(path, "a")  # a killed writer's rows: on disk but not committed
    for name in ("frames", "q_values", "hidden", "actions"):
        backend.resize("lanes/0/" + name, 700 + 40)
    ds = TeacherDataset(path)
    assert len(ds) == 700 and len(ds[650:]["frames"]) == 50
    with pytest.raises(IndexError):
        ds[700]
    assert sum(len(batch["index"]) for batch in make_loader(ds, batch_size=64)) == 700


def test_a_store_with_nan_values_is_refused_naming_the_step(tmp_path, breakout_h5):
    path = copy_store(breakout_h5, tmp_path / "nan.h5")
    hidden = open_backend(path, "r").array("lanes/0/hidden")[77]
    hidden[3] = np.nan
    edit_row(path, "lanes/0/hidden", 77, hidden)
    ds = TeacherDataset(path)
    assert np.isfinite(ds[:70]["hidden"]).all()
    with pytest.raises(UserError, match=r"nan\.h5 lane 0: hidden holds NaN.*first at step 77"):
        ds[70:80]
    with pytest.raises(UserError, match=r"nan\.h5 lane 0: hidden holds NaN.*first at step 77"):
        list(make_loader(ds, batch_size=64))


def test_mismatched_shards_and_bad_paths_are_refused(tmp_path, breakout_zarr, pong_conv_zarr):
    with pytest.raises(UserError, match="differ in game"):
        TeacherDataset([breakout_zarr, pong_conv_zarr])
    with pytest.raises(UserError, match="does not exist"):
        TeacherDataset(tmp_path / "missing.zarr")
    with pytest.raises(UserError, match="no teacher stores"):
        TeacherDataset([])


def test_shards_of_other_preprocessing_or_actions_are_refused_naming_the_field(tmp_path, breakout_zarr):
    def edited(name, edit):
        path = copy_store(breakout_zarr, tmp_path / name)
        backend = open_backend(path, "a")
        backend.write_attrs(edit(backend.read_attrs()))
        backend.close()
        return path

    skip3 = edited(
        "skip3.zarr",
        lambda a: {
            **a,
            "atari": {**a["atari"], "frame_skip": 3},
            "preprocessing": {**a["preprocessing"], "frame_skip": 3},
        },
    )
    with pytest.raises(UserError, match=r"differ in preprocessing \(frame_skip 4 vs 3\)"):
        TeacherDataset([breakout_zarr, skip3])
    # An action set that is not the game's is refused on open, before shards are compared.
    actions = edited("actions.zarr", lambda a: {**a, "action_set": [0, 1, 3, 5]})
    with pytest.raises(UserError, match=r"'action_set' is \[0, 1, 3, 5\], not breakout's minimal action set"):
        TeacherDataset([breakout_zarr, actions])

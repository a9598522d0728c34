"""make_loader on real tiny stores: exact samples, exactly-once epochs, determinism, shares."""

import itertools
import warnings

import numpy as np
import pytest
import torch

from actor_mimic.datasets import TeacherDataset, TeacherMixture, make_loader
from actor_mimic.errors import UserError

# 64-step chunks, one chunk per block, two blocks in memory: a 700-step store makes 11 blocks,
# so an epoch crosses many block, group and episode boundaries.
SMALL = {"block_chunks": 1, "shuffle_buffer": 128}


def epoch(loader) -> dict:
    """One epoch's batches, concatenated (numpy), plus the batch sizes."""
    batches = list(loader)
    joined = {key: np.concatenate([b[key].numpy() for b in batches]) for key in batches[0]}
    joined["batch_sizes"] = np.array([len(b["index"]) for b in batches])
    return joined


def assert_samples_exact(got: dict, datasets: list) -> None:
    """Every served sample equals the dataset's own sample at its (game, index)."""
    for game_id, ds in enumerate(datasets):
        mine = got["game_id"] == game_id
        expected = ds[got["index"][mine]]
        for key in ("frames", "q_values", "action_mask", "actions"):
            assert np.array_equal(got[key][mine], expected[key]), key
        width = ds.hidden_size
        assert np.array_equal(got["hidden"][mine, :width], expected["hidden"])
        assert not got["hidden"][mine, width:].any(), "narrower experts are zero-padded"


def test_one_epoch_serves_every_sample_exactly_once_shuffled(breakout_zarr):
    ds = TeacherDataset(breakout_zarr)
    loader = make_loader(ds, batch_size=50, seed=0, **SMALL)
    got = epoch(loader)
    assert len(loader) == len(got["batch_sizes"]) == 14
    assert np.array_equal(np.sort(got["index"]), np.arange(700))
    assert not np.array_equal(got["index"], np.arange(700)), "the order is shuffled"
    assert_samples_exact(got, [ds])
    first = next(iter(make_loader(ds, batch_size=8, seed=0)))
    assert first["frames"].dtype == torch.uint8 and first["frames"].shape == (8, 4, 84, 84)
    assert first["q_values"].dtype == torch.float32 and first["action_mask"].dtype == torch.bool
    assert first["actions"].dtype == torch.int64 and first["hidden"].shape == (8, 512)


def test_order_is_fixed_by_seed_and_epoch(breakout_zarr):
    ds = TeacherDataset(breakout_zarr)
    loader = make_loader(ds, batch_size=64, seed=3, **SMALL)
    epoch0, epoch1 = epoch(loader)["index"], epoch(loader)["index"]  # iterating again: next epoch
    assert loader.epoch == 1 and not np.array_equal(epoch0, epoch1)
    assert np.array_equal(np.sort(epoch0), np.sort(epoch1))
    loader.set_epoch(0)
    assert np.array_equal(epoch(loader)["index"], epoch0)
    assert np.array_equal(epoch(make_loader(ds, batch_size=64, seed=3, **SMALL))["index"], epoch0)
    assert not np.array_equal(epoch(make_loader(ds, batch_size=64, seed=4, **SMALL))["index"], epoch0)
    in_order = epoch(make_loader(ds, batch_size=64, shuffle=False, **SMALL))["index"]
    assert np.array_equal(in_order, np.arange(700))


def test_start_at_serves_the_rest_of_an_epoch_then_the_next_epoch(breakout_zarr):
    ds = TeacherDataset(breakout_zarr)
    reference = make_loader(ds, batch_size=64, seed=3, **SMALL)
    reference.set_epoch(1)
    epoch1, epoch2 = [b["index"].numpy() for b in reference], [b["index"].numpy() for b in reference]
    loader = make_loader(ds, batch_size=64, seed=3, **SMALL)
    loader.start_at(1, 4)  # a fit that stopped after 4 batches of epoch 1
    rest = [b["index"].numpy() for b in loader]
    assert len(rest) == len(epoch1) - 4 == 7
    assert all(np.array_equal(a, b) for a, b in zip(rest, epoch1[4:]))
    following = [b["index"].numpy() for b in loader]  # iterating again: epoch 2, whole
    assert loader.epoch == 2 and len(following) == len(epoch2) == 11
    assert all(np.array_equal(a, b) for a, b in zip(following, epoch2))
    loader.start_at(0, 11)  # stopped on the epoch's last batch: nothing left of it
    assert list(loader) == []
    with pytest.raises(ValueError, match="batch must be >= 0"):
        loader.start_at(0, -1)


def test_ranks_get_disjoint_shares_and_equal_batch_counts(breakout_zarr):
    ds = TeacherDataset(breakout_zarr)
    loaders = [make_loader(ds, batch_size=32, seed=1, rank=r, world_size=3, **SMALL) for r in range(3)]
    served = [epoch(loader) for loader in loaders]
    counts = [len(s["batch_sizes"]) for s in served]
    assert counts == [len(loader) for loader in loaders] and len(set(counts)) == 1
    indices = np.concatenate([s["index"] for s in served])
    assert len(np.unique(indices)) == len(indices), "ranks' shares overlap"
    assert np.array_equal(np.sort(indices), np.arange(700)), "equal shares: nothing is cut"
    assert [len(s["index"]) for s in served] == [233, 233, 234]


def test_worker_processes_share_the_epoch_exactly_once(breakout_zarr):
    ds = TeacherDataset(breakout_zarr)
    loader = make_loader(ds, batch_size=50, seed=0, num_workers=2, **SMALL)
    got = epoch(loader)
    assert len(got["batch_sizes"]) == len(loader)
    assert np.array_equal(np.sort(got["index"]), np.arange(700))
    assert_samples_exact(got, [ds])


def test_a_split_loader_serves_only_its_episodes(breakout_shards):
    train, val = TeacherDataset(breakout_shards).split_episodes(val_fraction=0.3, seed=0)
    got = epoch(make_loader(train, batch_size=40, seed=0, drop_last=True, **SMALL))
    assert (got["batch_sizes"] == 40).all() and len(got["index"]) > len(train) - 2 * 40
    assert len(np.unique(got["index"])) == len(got["index"]) and got["index"].max() < len(train)
    assert_samples_exact(got, [train])
    assert np.array_equal(epoch(make_loader(val, batch_size=40, shuffle=False))["index"], np.arange(len(val)))


def test_balanced_mixture_batches_hold_equal_counts_per_game(breakout_zarr, pong_conv_zarr):
    breakout, pong = TeacherDataset(breakout_zarr), TeacherDataset(pong_conv_zarr)
    mix = TeacherMixture([breakout, pong])
    assert mix.games == ["breakout", "pong"] and mix.hidden_sizes == [512, 3136]
    assert mix.action_sets == [(0, 1, 3, 4), (0, 1, 3, 4, 11, 12)] and mix.hidden_size == 3136
    loader = make_loader(mix, batch_size=33, seed=0, **SMALL)
    batches = list(loader)
    assert len(batches) == len(loader) == int(np.ceil(2 * 700 / 33))  # an epoch: 700 steps per game
    per_game = np.array([np.bincount(b["game_id"].numpy(), minlength=2) for b in batches])
    assert set(per_game.sum(axis=1)) == {33} and set(per_game.ravel()) == {16, 17}
    assert abs(int(per_game[:, 0].sum()) - int(per_game[:, 1].sum())) <= 1
    got = {key: np.concatenate([b[key].numpy() for b in batches]) for key in batches[0]}
    assert set(got["index"][got["game_id"] == 0]) == set(range(700)), "the largest game is seen whole"
    assert set(got["index"][got["game_id"] == 1]) == set(range(300)), "the smaller game is cycled"
    assert_samples_exact(got, mix.datasets)


def test_proportional_mixture_serves_every_step_of_every_game_once(breakout_zarr, pong_conv_zarr):
    mix = TeacherMixture([TeacherDataset(pong_conv_zarr), TeacherDataset(breakout_zarr)], weighting="proportional")
    got = epoch(make_loader(mix, batch_size=64, seed=0, **SMALL))
    assert np.array_equal(np.bincount(got["game_id"]), [300, 700])
    for game_id, size in enumerate((300, 700)):
        assert np.array_equal(np.sort(got["index"][got["game_id"] == game_id]), np.arange(size))
    assert_samples_exact(got, mix.datasets)
    sample = mix[[0, 299, 300, 999]]
    assert sample["game_id"].tolist() == [0, 0, 1, 1] and sample["index"].tolist() == [0, 299, 0, 699]


def test_mixtures_refuse_what_cannot_be_mixed(tmp_path, breakout_zarr, pong_conv_zarr):
    from actor_mimic.store import open_backend
    from tests.datasets.conftest import copy_store

    other = copy_store(pong_conv_zarr, tmp_path / "pong-skip3.zarr")
    backend = open_backend(other, "a")
    attrs = backend.read_attrs()
    attrs["preprocessing"]["frame_skip"] = 3
    attrs["atari"]["frame_skip"] = 3  # a store of its own, collected with frame skip 3
    backend.write_attrs(attrs)
    with pytest.raises(UserError, match="preprocessing differs"):
        TeacherMixture([TeacherDataset(breakout_zarr), TeacherDataset(other)])
    with pytest.raises(UserError, match="single TeacherDataset"):
        TeacherMixture([TeacherDataset(breakout_zarr), TeacherDataset(breakout_zarr)])
    with pytest.raises(UserError, match="weighting"):
        TeacherMixture([TeacherDataset(breakout_zarr)], weighting="uniform")
    with pytest.raises(UserError, match="batch_size"):
        make_loader(TeacherDataset(breakout_zarr), batch_size=0)
    with pytest.raises(UserError, match="rank"):
        make_loader(TeacherDataset(breakout_zarr), rank=2, world_size=2)


def test_read_ahead_and_skipping_activations_change_nothing_else(breakout_zarr):
    ds = TeacherDataset(breakout_zarr)
    reference = epoch(make_loader(ds, batch_size=64, seed=5, **SMALL))
    same = epoch(make_loader(ds, batch_size=64, seed=5, read_ahead=False, **SMALL))
    light = epoch(make_loader(ds, batch_size=64, seed=5, with_hidden=False, **SMALL))
    assert light["hidden"].shape == (700, 0)
    for key in reference:
        assert np.array_equal(same[key], reference[key]), key
        if key != "hidden":
            assert np.array_equal(light[key], reference[key]), key


def _ddp_rank(rank: int, store: str, rendezvous: str, out: str) -> None:
    """One DDP process: join a real 2-process gloo group, then serve one epoch."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=2)
    try:
        loader = make_loader(TeacherDataset(store), batch_size=64, seed=0, **SMALL)
        indices = np.concatenate([batch["index"].numpy() for batch in loader])
        np.save(f"{out}-{rank}.npy", np.append(indices, len(loader)))
    finally:
        torch.distributed.destroy_process_group()


def test_ranks_come_from_torch_distributed(tmp_path, breakout_zarr):
    torch.multiprocessing.spawn(
        _ddp_rank, args=(str(breakout_zarr), str(tmp_path / "rendezvous"), str(tmp_path / "served")), nprocs=2
    )
    served = [np.load(tmp_path / f"served-{rank}.npy") for rank in (0, 1)]
    assert [s[-1] for s in served] == [6, 6], "each rank makes ceil(350 / 64) batches"
    indices = [s[:-1] for s in served]
    assert [len(i) for i in indices] == [350, 350]
    assert np.array_equal(np.sort(np.concatenate(indices)), np.arange(700)), "disjoint shares, all served"


def test_hdf5_stores_serve_the_same_batches(breakout_zarr, breakout_h5):
    from_zarr = epoch(make_loader(TeacherDataset(breakout_zarr), batch_size=100, seed=2, **SMALL))
    from_hdf5 = epoch(make_loader(TeacherDataset(breakout_h5), batch_size=100, seed=2, **SMALL))
    for key in from_zarr:
        assert np.array_equal(from_zarr[key], from_hdf5[key]), key


def test_settings_are_one_dataclass_and_options_override_them(breakout_zarr):
    from dataclasses import replace

    from actor_mimic.datasets import LoaderSettings

    ds = TeacherDataset(breakout_zarr)
    settings = LoaderSettings(batch_size=64, seed=3, **SMALL)
    by_settings = epoch(make_loader(ds, settings=settings))["index"]
    assert np.array_equal(by_settings, epoch(make_loader(ds, batch_size=64, seed=3, **SMALL))["index"])
    in_order = epoch(make_loader(ds, settings=settings, shuffle=False))["index"]  # an option overrides
    assert np.array_equal(in_order, np.arange(700))
    assert len(make_loader(ds, 100, settings=replace(settings, drop_last=True))) == 7
    with pytest.raises(UserError, match="unknown loader option 'shuffle_size'"):
        make_loader(ds, shuffle_size=10)


def test_an_epoch_decodes_each_activation_chunk_once(breakout_zarr, monkeypatch):
    """Blocks refer to activations stored in earlier chunks of their window; the loader serves
    a few windows at a time and keeps their decoded chunks, so none is decoded twice."""
    from actor_mimic.store import ChunkFiles

    decoded = []
    real = ChunkFiles._decode_into

    def counting(self, index, out):
        if self.prefix.endswith("/hidden/"):
            decoded.append(index)
        return real(self, index, out)

    monkeypatch.setattr(ChunkFiles, "_decode_into", counting)
    ds = TeacherDataset(breakout_zarr)
    assert_samples_exact(epoch(make_loader(ds, batch_size=50, seed=0, read_ahead=False, **SMALL)), [ds])
    assert sorted(decoded) == list(range(11)), "every chunk of the 700-step lane once"


def test_blocks_are_served_a_few_windows_at_a_time():
    from actor_mimic.datasets.blocks import Block, block_order, interleave_windows

    blocks = [Block(0, shard, start, start + 10, 10, window) for shard in (0, 1) for window in range(5)
              for start in range(window * 40, window * 40 + 40, 10)]  # fmt: skip
    order = block_order(blocks, seed=0, epoch=0, stream=0, shuffle=True)
    assert sorted(order) == list(range(40))
    keys = [blocks[i].window_key for i in order]
    assert sum(a != b for a, b in itertools.pairwise(keys)) == 9, "each window's blocks together"
    served = interleave_windows(blocks, 3, np.random.default_rng(0))
    assert sorted(served, key=lambda b: (b.shard_id, b.start)) == blocks
    for first in range(0, 30, 3):  # 10 windows of 4 blocks, 3 at a time: every group spans 3 windows
        assert len({block.window_key for block in served[first : first + 3]}) == 3


def test_map_style_access_serves_exact_samples_and_warns_when_shuffled(breakout_zarr):
    from torch.utils.data import DataLoader

    from actor_mimic.datasets.teacher import RandomAccessWarning

    ds = TeacherDataset(breakout_zarr)
    with pytest.warns(RandomAccessWarning, match="use actor_mimic.datasets.make_loader"):
        batch = next(iter(DataLoader(ds, batch_size=32, shuffle=True)))
    expected = ds[batch["index"].numpy()]
    for key in expected:
        assert np.array_equal(batch[key].numpy(), expected[key]), key
    with warnings.catch_warnings():
        warnings.simplefilter("error", RandomAccessWarning)
        in_order = next(iter(DataLoader(ds, batch_size=32)))  # sequential: no warning
    assert in_order["index"].tolist() == list(range(32))

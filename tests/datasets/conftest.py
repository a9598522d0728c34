"""Tiny real teacher stores, collected with `amn collect`'s Python API from real games.

The expert is randomly initialised (reading data is plumbing). Breakout is played with
uniformly random actions (epsilon 1), so its episodes end every ~150-300 steps and a few
hundred steps cross several episode boundaries; no-op starts are off, so each stored episode
replays exactly in the reference single env (`make_env`), which gives the live observations
the datasets must rebuild. Chunks are small (64 steps) so tiny stores span many chunks.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.atari import AtariConfig, make_env
from actor_mimic.common.checkpoint import random_init_expert
from actor_mimic.store import open_backend, open_store, read_field, record_checksums

CHUNK = 64
BREAKOUT = AtariConfig("breakout", noop_max=0)
PONG = AtariConfig("pong", noop_max=0)


@pytest.fixture(scope="session")
def breakout_expert():
    return random_init_expert(BREAKOUT, seed=0)


def collect_store(path, expert, steps: int, seed: int = 0, **options):
    options = {"num_envs": 1, "epsilon": 1.0, "chunk_len": CHUNK, **options}
    return collect(CollectConfig(expert=expert, out=path, steps=steps, seed=seed, **options))


def live_stacks(path) -> np.ndarray:
    """uint8 (T, 4, 84, 84): every stored episode replayed through the reference single env;
    the observation the live game showed at each stored step."""
    backend, info = open_store(path, allow_incomplete=True)
    lanes = [(lane, np.asarray(backend.array(lane.prefix + "actions")[: lane.num_steps])) for lane in info.lanes]
    backend.close()
    env = make_env(BREAKOUT if info.game == "breakout" else PONG)
    stacks = []
    for lane, actions in lanes:
        for start, length in zip(lane.episode_starts, lane.episode_lengths):
            observation, _ = env.reset(seed=0)
            for t in range(start, start + length):
                stacks.append(observation)
                observation, *_ = env.step(int(actions[t]))
    env.close()
    return np.stack(stacks)


def raw_arrays(path) -> dict:
    """Every served per-step array of a store, as stored, lane after lane."""
    backend, info = open_store(path, allow_incomplete=True)
    arrays = {
        name: np.concatenate(
            [read_field(backend, info.attrs, lane.prefix, name, 0, lane.num_steps) for lane in info.lanes]
        )
        for name in info.attrs["fields"]
    }
    backend.close()
    return arrays


def copy_store(source, target):
    """A copy of a store (a Zarr directory or an HDF5 file) to damage in one test."""
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    return target


def edit_row(path, name: str, row: int, value) -> None:
    """Change one stored row as a faulty writer would: new values with matching checksums."""
    backend = open_backend(path, "a")
    backend.array(name)[row] = value
    chunk = row // backend.array(name).chunks[0]
    record_checksums(backend, name, chunk, chunk + 1)
    backend.close()


def stored_chunk(path, name: str, index: int) -> tuple:
    """(file, byte offset, size) of chunk `index` of array `name` as stored on disk."""
    backend = open_backend(path, "r")
    try:
        if backend.name == "zarr":
            chunk_file = backend.chunk_file(name, index)
            return chunk_file, 0, chunk_file.stat().st_size
        dataset = backend.array(name)
        info = dataset.id.get_chunk_info_by_coord((index * dataset.chunks[0],) + (0,) * (dataset.ndim - 1))
        return path, info.byte_offset, info.size
    finally:
        backend.close()


def flip_byte(path, name: str, index: int, at: int | None = None) -> None:
    """Damage chunk `index` of `name` as a bad disk or download would: one byte changed
    (byte `at` of the stored chunk; by default its middle one)."""
    target, offset, size = stored_chunk(path, name, index)
    offset += size // 2 if at is None else at
    with open(target, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0x40]))


def mark_incomplete(path) -> None:
    """Leave the store as an interrupted collection leaves it: committed but not complete."""
    backend = open_backend(path, "a")
    attrs = backend.read_attrs()
    attrs["complete"] = False
    backend.write_attrs(attrs)
    backend.close()


@pytest.fixture(scope="session")
def breakout_zarr(tmp_path_factory, breakout_expert):
    return collect_store(tmp_path_factory.mktemp("stores") / "breakout.zarr", breakout_expert, 700)


@pytest.fixture(scope="session")
def breakout_h5(tmp_path_factory, breakout_expert):
    """The same collection as `breakout_zarr`, written by the HDF5 engine."""
    return collect_store(tmp_path_factory.mktemp("stores") / "breakout.h5", breakout_expert, 700)


@pytest.fixture(scope="session")
def breakout_live(breakout_zarr) -> np.ndarray:
    return live_stacks(breakout_zarr)


@pytest.fixture(scope="session")
def breakout_shards(tmp_path_factory, breakout_expert):
    """Two shards of one collection (one Zarr, one HDF5), as `amn collect --shard i/2` makes."""
    folder = tmp_path_factory.mktemp("shards")
    return [
        collect_store(folder / "breakout-0.zarr", breakout_expert, 700, shard=(0, 2)),
        collect_store(folder / "breakout-1.h5", breakout_expert, 700, shard=(1, 2)),
    ]


@pytest.fixture(scope="session")
def pong_conv_zarr(tmp_path_factory):
    """Pong labelled with the expert's convolutional features: 3136 activations per step."""
    expert = random_init_expert(PONG, seed=1)
    path = tmp_path_factory.mktemp("stores") / "pong.zarr"
    return collect_store(path, expert, 300, seed=1, hidden_layer="conv", epsilon=0.05)

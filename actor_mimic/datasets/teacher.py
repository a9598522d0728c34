"""`TeacherDataset`: the steps of one game, from one store or several shards, read as one.

    ds = TeacherDataset(["pong-0.zarr", "pong-1.h5"])
    len(ds), ds.game, ds.action_set, ds.hidden_size, ds.num_episodes, ds.episode_returns
    sample = ds[i]          # int, slice or int array -> dict of numpy arrays (batch.py)
    train, val = ds.split_episodes(val_fraction=0.05, seed=0)

Index i runs over the selected episodes' steps, shard after shard (a store's lanes are
shards too, store.py), in stored order. Indexing is random access: a batch of indices is read
chunk by chunk, each chunk once, but shuffled indices still decode about a chunk per sample
(hundreds of samples/s). Train through `make_loader`, which reads whole blocks of chunks;
`DataLoader(dataset, shuffle=True, batch_size=...)` works (`__getitems__`) and warns, once,
pointing there. A dataset may hold a subset of its shards' episodes (after
`split_episodes`); only committed episodes are ever served.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from actor_mimic.common.atari import preprocessing_differences
from actor_mimic.common.stacking import stack_offsets
from actor_mimic.datasets.batch import GameLayout, empty_batch, write_values
from actor_mimic.datasets.shard import Shard, as_float32, open_shards
from actor_mimic.errors import UserError
from actor_mimic.store import check_finite


class TeacherDataset:
    """Steps of one game. `paths`: one store path or a list of shards of the same game."""

    def __init__(self, paths: str | Path | list[str | Path], allow_incomplete: bool = False):
        if isinstance(paths, (str, Path)):
            paths = [paths]
        if not paths:
            raise UserError("no teacher stores given: pass at least one store path")
        shards = [shard for path in paths for shard in open_shards(path, allow_incomplete=allow_incomplete)]
        _check_same_game(shards)
        self._hold(shards, [np.arange(len(s.episode_starts), dtype=np.int64) for s in shards])

    @classmethod
    def _from_shards(cls, shards: list[Shard], episodes: list[np.ndarray]) -> TeacherDataset:
        dataset = cls.__new__(cls)
        dataset._hold(shards, episodes)
        return dataset

    def _hold(self, shards: list[Shard], episodes: list[np.ndarray]) -> None:
        self.shards = shards
        # Per shard: the indices (into its episode table) of the episodes this dataset holds.
        self.selected_episodes = [np.sort(np.asarray(e, dtype=np.int64)) for e in episodes]
        self._index_episodes()

    def _index_episodes(self) -> None:
        """Flat tables over the selected episodes, in index order."""
        shard_ids, starts, lengths, returns = [], [], [], []
        for shard_id, (shard, chosen) in enumerate(zip(self.shards, self.selected_episodes)):
            shard_ids.append(np.full(len(chosen), shard_id, dtype=np.int64))
            starts.append(shard.episode_starts[chosen])
            lengths.append(shard.episode_lengths[chosen])
            returns.append(shard.episode_returns[chosen])
        self._episode_shard = np.concatenate(shard_ids)
        self._episode_start = np.concatenate(starts)
        self._episode_length = np.concatenate(lengths)
        self.episode_returns = np.concatenate(returns)  # float64 (num_episodes,), raw returns
        self._episode_end_index = np.cumsum(self._episode_length)
        self._shard_first_episode = np.cumsum([0] + [len(e) for e in self.selected_episodes])

    # ------------------------------------------------------------------ description
    @property
    def game(self) -> str:
        return self.shards[0].game

    @property
    def action_set(self) -> tuple[int, ...]:
        """ALE action ids of the expert's outputs, in order."""
        return self.shards[0].action_set

    @property
    def action_mask(self) -> np.ndarray:
        """bool (18,): True at the game's valid ALE actions."""
        return GameLayout(0, self.action_set).mask

    @property
    def hidden_size(self) -> int:
        return self.shards[0].hidden_size

    @property
    def episode_lengths(self) -> np.ndarray:
        """int64 (num_episodes,), in index order (like `episode_returns`)."""
        return self._episode_length

    @property
    def preprocessing(self) -> dict:
        return self.shards[0].preprocessing

    @property
    def stack_size(self) -> int:
        return self.shards[0].stack_size

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """(stack_size, H, W): the shape of one observation."""
        return self.shards[0].frame_shape

    @property
    def paths(self) -> list[Path]:
        """The stores, once each (a store's lanes are several shards)."""
        return list(dict.fromkeys(shard.path for shard in self.shards))

    @property
    def num_episodes(self) -> int:
        return len(self._episode_start)

    def __len__(self) -> int:
        return int(self._episode_end_index[-1]) if self.num_episodes else 0

    def __repr__(self) -> str:
        return (
            f"TeacherDataset(game={self.game!r}, steps={len(self)}, "
            f"episodes={self.num_episodes}, shards={len(self.shards)})"
        )

    def selected_intervals(self, shard_id: int) -> tuple[np.ndarray, np.ndarray]:
        """(starts, lengths) int64 (E,): the held episodes of one shard, sorted by start."""
        shard, chosen = self.shards[shard_id], self.selected_episodes[shard_id]
        return shard.episode_starts[chosen], shard.episode_lengths[chosen]

    # ------------------------------------------------------------------ splitting
    def split_episodes(self, val_fraction: float = 0.05, seed: int = 0):
        """(train, val) datasets over disjoint sets of whole episodes.

        `round(val_fraction * num_episodes)` episodes (at least one when val_fraction > 0)
        go to val, chosen at random with `seed`; never steps of one episode to both sides.
        """
        if not 0.0 <= val_fraction < 1.0:
            raise UserError(f"val_fraction must lie in [0, 1), got {val_fraction}")
        total = self.num_episodes
        num_val = max(1, round(val_fraction * total)) if val_fraction > 0 else 0
        if num_val >= total and num_val > 0:
            raise UserError(
                f"cannot split {total} episode(s) of {self.game} into train and validation: "
                "collect more episodes or pass val_fraction=0"
            )
        val_mask = np.zeros(total, dtype=bool)
        val_mask[np.random.default_rng(seed).permutation(total)[:num_val]] = True
        return self._subset(~val_mask), self._subset(val_mask)

    def _subset(self, keep: np.ndarray) -> TeacherDataset:
        """A dataset over the held episodes where `keep` (bool, per held episode) is True."""
        offsets = np.cumsum([0] + [len(e) for e in self.selected_episodes])
        episodes = [chosen[keep[offsets[i] : offsets[i + 1]]] for i, chosen in enumerate(self.selected_episodes)]
        return TeacherDataset._from_shards(self.shards, episodes)

    # ------------------------------------------------------------------ random access
    def locate(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(shard ids, steps, episode starts), each int64 (N,), of dataset indices (N,)."""
        episode = np.searchsorted(self._episode_end_index, indices, side="right")
        first_index = self._episode_end_index[episode] - self._episode_length[episode]
        episode_start = self._episode_start[episode]
        return self._episode_shard[episode], episode_start + (indices - first_index), episode_start

    def indices_of(self, shard_id: int, steps: np.ndarray) -> np.ndarray:
        """int64 (N,): the dataset indices of held `steps` (N,) of one shard."""
        first, last = self._shard_first_episode[shard_id], self._shard_first_episode[shard_id + 1]
        episode = first + np.searchsorted(self._episode_start[first:last], steps, side="right") - 1
        return self._episode_end_index[episode] - self._episode_length[episode] + (steps - self._episode_start[episode])

    def __getitem__(self, index) -> dict:
        """dict of numpy arrays (batch.py) for an int (no batch axis), a slice or int array."""
        indices, single = _normalise_index(index, len(self))
        batch = self.read(indices, game_id=0, hidden_size=self.hidden_size)
        return {key: value[0] for key, value in batch.items()} if single else batch

    def __getitems__(self, indices: list[int]) -> list[dict]:
        """What a torch DataLoader with a batch size calls: the samples at `indices`, read
        together, as one dict per sample (for the DataLoader's collate)."""
        return samples_for_collate(self, indices)

    def read(self, indices: np.ndarray, game_id: int, hidden_size: int) -> dict:
        """The samples at valid dataset `indices` (N,), hidden zero-padded to `hidden_size`."""
        batch = empty_batch(len(indices), self.frame_shape, hidden_size)
        layout = GameLayout(game_id, self.action_set)
        shard_ids, steps, episode_starts = self.locate(indices)
        for shard_id in np.unique(shard_ids):
            rows = np.flatnonzero(shard_ids == shard_id)
            part = _read_shard_steps(self.shards[shard_id], steps[rows], episode_starts[rows], layout, hidden_size)
            for key, values in part.items():
                batch[key][rows] = values
        batch["index"][:] = indices
        return batch


def _read_shard_steps(shard: Shard, steps, episode_starts, layout: GameLayout, hidden_size: int) -> dict:
    """The samples at `steps` (N,) of one shard, in that order."""
    part = empty_batch(len(steps), shard.frame_shape, hidden_size)
    part["frames"][:] = _read_stacks(shard, steps, episode_starts)
    unique_steps, inverse = np.unique(steps, return_inverse=True)
    values = {name: shard.read_at(name, unique_steps) for name in ("q_values", "hidden", "actions")}
    for name in ("q_values", "hidden"):
        values[name] = as_float32(values[name])
        check_finite(values[name], name, shard.label, unique_steps)
    write_values(part, 0, layout, values["q_values"][inverse], values["hidden"][inverse], values["actions"][inverse])
    return part


def _read_stacks(shard: Shard, steps: np.ndarray, episode_starts: np.ndarray) -> np.ndarray:
    """uint8 (N, K, H, W): stacks at `steps` of one shard, reading each needed frame once."""
    offsets, inside = stack_offsets(steps, episode_starts, shard.stack_size)
    needed = np.unique(offsets[inside])
    frames = shard.read_at("frames", needed)
    stacks = frames[np.searchsorted(needed, np.where(inside, offsets, needed[0]))]
    stacks[~inside] = 0
    return stacks


class RandomAccessWarning(UserWarning):
    """Shuffled batches read by index from a compressed store: correct, but slow."""


def samples_for_collate(data, indices) -> list[dict]:
    """`data[indices]` (a dataset or a mixture) as one dict per sample, each a view of the
    batch read at once; warns, once per process, when the indices are shuffled."""
    indices = np.asarray(indices, dtype=np.int64).reshape(-1)
    if len(indices) > 1 and np.any(np.diff(indices) < 0):
        warnings.warn(
            f"{type(data).__name__} served shuffled indices: reading by index decodes about one chunk per "
            "sample (hundreds of samples/s); for shuffled training batches use "
            "actor_mimic.datasets.make_loader, which reads whole chunks (100x faster)",
            RandomAccessWarning,
            stacklevel=3,
        )
    batch = data[indices]
    return [{key: value[i] for key, value in batch.items()} for i in range(len(indices))]


def _normalise_index(index, length: int) -> tuple[np.ndarray, bool]:
    """int64 (N,) valid indices and whether `index` was a single int."""
    if isinstance(index, (int, np.integer)):
        indices, single = np.array([int(index)], dtype=np.int64), True
    elif isinstance(index, slice):
        indices, single = np.arange(*index.indices(length), dtype=np.int64), False
    else:
        indices, single = np.asarray(index), False
        if indices.dtype == bool:
            raise IndexError("boolean masks are not supported; pass np.flatnonzero(mask)")
        if indices.size == 0:
            indices = indices.astype(np.int64)
        if not np.issubdtype(indices.dtype, np.integer):
            raise IndexError(f"dataset indices must be integers, got {indices.dtype}")
        indices = indices.astype(np.int64).reshape(-1)
    indices = np.where(indices < 0, indices + length, indices)
    if indices.size and (indices.min() < 0 or indices.max() >= length):
        raise IndexError(f"index out of range for a dataset of {length} steps")
    return indices, single


def _check_same_game(shards: list[Shard]) -> None:
    """Shards read as one dataset must be one game, acted on and described the same way."""
    first = shards[0]
    for shard in shards[1:]:
        for what, mine, theirs in (
            ("game", shard.game, first.game),
            ("action set", shard.action_set, first.action_set),
            ("hidden size", shard.hidden_size, first.hidden_size),
        ):
            if mine != theirs:
                raise UserError(
                    f"{shard.path} and {first.path} differ in {what} ({theirs} vs {mine}); "
                    "shards read as one dataset must come from one game and one kind of expert"
                )
        differences = preprocessing_differences(first.preprocessing, shard.preprocessing)
        if differences:
            raise UserError(
                f"{shard.path} and {first.path} differ in preprocessing ({differences}); shards read "
                "as one dataset must show the same observations: recollect one with the other's Atari settings"
            )

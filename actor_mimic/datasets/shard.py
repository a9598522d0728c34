"""One lane of a teacher store, opened for reading: its metadata at once, its arrays lazily.

The lanes of a store (store.py) read as shards of one dataset. A `Shard` is pickled into
DataLoader workers, so it holds only plain data (path, attribute document, committed episode
table). Array handles are opened on first use in the process that reads, and reopened after
a fork: h5py objects cannot be pickled, and neither h5py nor zarr handles are fork-safe (a
Zarr handle made before forking can deadlock in the child, its async event loop and thread
pool do not survive the fork).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from actor_mimic.errors import UserError
from actor_mimic.store import (
    Backend,
    ChunkGuard,
    activation_refs,
    check_finite,
    checked_references,
    chunks_of,
    distinct_rows,
    hidden_window,
    non_finite_rows,
    open_backend,
    open_store,
    read_checksums,
    read_lane_rows,
)

STEP_ARRAYS = ("frames", "actions", "q_values", "hidden")


def read_arrays(attrs: dict) -> tuple[str, ...]:
    """The arrays a Shard reads: STEP_ARRAYS, and the activations' references (schema 3)."""
    return STEP_ARRAYS + (("hidden_ref",) if hidden_window(attrs) else ())


def store_preprocessing(attrs: dict) -> dict:
    """The store's `preprocessing` document, or the one its Atari settings imply."""
    if "preprocessing" in attrs:
        return dict(attrs["preprocessing"])
    atari = dict(attrs.get("atari") or {})
    atari.pop("game", None)
    from actor_mimic.common.atari import AtariConfig

    return AtariConfig(game=attrs["game"], **atari).preprocessing()


def open_shards(path: str | Path, allow_incomplete: bool = False) -> list[Shard]:
    """One Shard per lane of the teacher store at `path` (a schema 1 store: one)."""
    with open_store(path, allow_incomplete=allow_incomplete) as (backend, info):
        chunk_len, version = int(info.attrs["chunk_len"]), int(info.attrs["schema_version"])
        shards = []
        for index, lane in enumerate(info.lanes):
            checksums = {
                name: read_checksums(backend, lane.prefix + name, chunks_of(lane.num_steps, chunk_len), version)
                for name in read_arrays(info.attrs)
            }
            shards.append(Shard(info, index, lane, checksums))
        return shards


class Shard:
    """A committed, read-only view of one lane of one teacher store.

    Serves only steps below `num_steps` (those of closed episodes); the lane's arrays may hold
    more rows: the head of an episode still running when the collection stopped.
    """

    def __init__(self, info, lane_index: int, lane, checksums: dict):
        self.path = info.path  # a Path, or the URL of a remote store
        self.lane = lane_index
        self.prefix = lane.prefix  # of the lane's arrays
        self.label = f"{self.path} lane {lane_index}" if lane.prefix else str(self.path)  # for messages
        # Checks every chunk's bytes before they are decoded (store/checksums.py).
        chunk_len = int(info.attrs["chunk_len"])
        self.arrays_read = read_arrays(info.attrs)
        self.guards = {
            name: ChunkGuard(self.path, lane.prefix + name, chunk_len, checksums[name]) for name in self.arrays_read
        }
        self.hidden_window = hidden_window(info.attrs)  # None: activations stored row by row
        self.backend_name = info.backend
        self.attrs = info.attrs
        self.episode_starts = lane.episode_starts.astype(np.int64)
        self.episode_lengths = lane.episode_lengths.astype(np.int64)
        self.episode_returns = lane.episode_returns.astype(np.float64)
        self.num_steps = lane.num_steps
        self.game = info.game
        self.action_set = tuple(int(a) for a in info.action_set)
        self.num_actions = int(self.attrs["num_actions"])
        self.hidden_size = int(self.attrs["hidden_size"])
        self.chunk_len = chunk_len
        self.preprocessing = store_preprocessing(self.attrs)
        self.stack_size = int(self.preprocessing.get("stack_size", 4))
        screen = int(self.preprocessing.get("screen_size", 84))
        self.frame_shape = (self.stack_size, screen, screen)  # one observation
        self._arrays: dict | None = None
        self._readers: dict = {}  # name -> the backend's row reader (fast Zarr chunks, or checked slicing)
        self._backend: Backend | None = None
        self._pid: int | None = None
        self._kept_hidden_chunks = 0  # decoded activation chunks the reader keeps (keep_activation_windows)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_arrays=None, _backend=None, _pid=None, _readers={})
        return state

    def __repr__(self) -> str:
        return f"Shard({str(self.path)!r}, lane={self.lane}, game={self.game!r}, steps={self.num_steps})"

    def array(self, name: str):
        """The backend's array `name`, opened in this process on first use."""
        if self._arrays is None or self._pid != os.getpid():
            backend = open_backend(self.path, "r", self.backend_name)
            self._arrays = {n: backend.array(self.prefix + n) for n in self.arrays_read}
            self._readers = {n: backend.row_reader(self.prefix + n, self.guards[n]) for n in self.arrays_read}
            self._backend, self._pid = backend, os.getpid()
            self._keep_hidden_chunks()
        return self._arrays[name]

    def keep_activation_windows(self, count: int) -> None:
        """Keep the decoded stored activations of about `count` windows (schema 3; plus one
        for the window being left), so that the blocks of one window, read one after the
        other, decode each of its chunks once. HDF5 keeps its own cache of decoded chunks."""
        if self.hidden_window:
            self._kept_hidden_chunks = max(self._kept_hidden_chunks, (count + 1) * self.hidden_window // self.chunk_len)
        self._keep_hidden_chunks()

    def _keep_hidden_chunks(self) -> None:
        reader = self._readers.get("hidden")
        if reader is not None and hasattr(reader, "cache_chunks"):
            reader.cache_chunks = self._kept_hidden_chunks

    def close(self) -> None:
        if self._backend is not None and self._pid == os.getpid():
            self._backend.close()
        self._arrays = self._backend = self._pid = None

    def read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows start..stop-1 of a per-step array (a contiguous, chunk-friendly read)."""
        if not 0 <= start <= stop <= self.num_steps:
            raise IndexError(f"{self.path}: rows {start}..{stop} outside 0..{self.num_steps}")
        rows = self._read(name, start, stop)
        if name == "actions" and len(rows) and (rows.min() < 0 or rows.max() >= self.num_actions):
            step = start + int(np.flatnonzero((rows < 0) | (rows >= self.num_actions))[0])
            raise UserError(
                f"{self.label}: the action at step {step} is {int(rows[step - start])}, outside its action "
                f"set (0..{self.num_actions - 1}); the store is corrupt: recollect it"
            )
        return rows

    def read_frames_into(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """Frames of steps start..stop-1 decoded into `out` (uint8 (stop-start, H, W))."""
        if not 0 <= start <= stop <= self.num_steps:
            raise IndexError(f"{self.path}: rows {start}..{stop} outside 0..{self.num_steps}")
        return self._row_reader("frames").read_into(start, stop, out)

    def _read(self, name: str, start: int, stop: int) -> np.ndarray:
        return read_lane_rows(self._row_reader, name, start, stop, self.hidden_window, self.label)

    def _row_reader(self, name: str):
        self.array(name)  # opens the store in this process on first use
        return self._readers[name]

    def read_at(self, name: str, steps: np.ndarray) -> np.ndarray:
        """Rows at `steps` (sorted, unique): one slice per chunk touched, from its first to
        its last wanted step (random access decodes a whole chunk per step: slow, for
        inspection; training reads blocks through `read`)."""
        steps = np.asarray(steps, dtype=np.int64)
        if name == "hidden" and self.hidden_window:  # all the references first: each chunk decoded once
            refs = checked_references(self.read_at("hidden_ref", steps), steps, self.hidden_window, self.label)
            rows, index = distinct_rows(self._row_reader, refs)
            return rows[index]
        chunk_of = steps // self.chunk_len
        bounds = np.flatnonzero(np.diff(chunk_of)) + 1
        pieces = []
        for run in np.split(steps, bounds) if len(steps) else []:
            low, high = int(run[0]), int(run[-1]) + 1
            pieces.append(self.read(name, low, high)[run - low])
        return np.concatenate(pieces) if pieces else self.read(name, 0, 0)

    def activation_rows(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """(stored, index): the stored activation rows that steps start..stop-1 use, distinct
        and sorted, int64 (U,), and each step's position in them, int64 (n,). Read them with
        `activations_into`; each stored row is read once (store/dedup.py)."""
        if not 0 <= start <= stop <= self.num_steps:
            raise IndexError(f"{self.path}: rows {start}..{stop} outside 0..{self.num_steps}")
        return activation_refs(self._row_reader, start, stop, self.hidden_window, self.label)

    def activations_into(self, stored: np.ndarray, index: np.ndarray, start: int, out: np.ndarray) -> None:
        """The stored activation rows `stored` ((stored, index) of `activation_rows(start,
        ...)`) into `out` (U, H), checked finite (an error names the first bad step)."""
        self._row_reader("hidden").take(stored, out=out)
        if len(non_finite_rows(out)):  # rare: then name the first bad step exactly
            check_finite(out[index], "hidden", self.label, start)

    def values(self, name: str, start: int, stop: int) -> np.ndarray:
        """float32 Q-values or hidden activations of rows start..stop-1, checked finite."""
        values = as_float32(self.read(name, start, stop))
        check_finite(values, name, self.label, start)
        return values


def as_float32(values: np.ndarray) -> np.ndarray:
    """Stored Q-values or activations as float32 (the same array when already float32).

    float16 is converted by torch: numpy converts float16 one element at a time in software
    (about 1.9 us per step of 512 activations here, a sixth of the loader's time), torch
    with the CPU's conversion instructions (about 0.07 us). Both are exact: every float16
    value is a float32 value (only NaN payloads may differ, and NaN is rejected anyway).
    """
    if values.dtype == np.float16:
        return torch.from_numpy(values).to(torch.float32).numpy()
    return values.astype(np.float32, copy=False)

"""Opening a teacher store for reading: `with open_store(path) as (backend, info): ...`.

`open_store` gives an `OpenStore`, the pair (backend, StoreInfo); used in a `with` block it
closes the backend on leaving. (Unpacked without `with`, the caller closes the backend.)

Schema 2 stores keep no episode table: a lane's episodes are where its terminated/truncated
flags say, so the table is derived here from the committed rows (their chunks checked against
their checksums first). Rows after a lane's last flag belong to an episode still running when
the collection stopped: committed, kept for `--resume`, never served. Schema 1 stores are one
lane at the root with a stored episode table.

An HDF5 store is written as a Zarr store beside it (`X.h5.partial`) until its collection
completes (writer.py explains why); `open_store("X.h5")` opens that one while `X.h5` does not
exist yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, overload

import numpy as np

from actor_mimic.errors import UserError
from actor_mimic.store.backends import bytes_on_disk, detect_backend, open_backend
from actor_mimic.store.checksums import CheckedRows, ChunkGuard, chunks_of, read_checked, read_checksums
from actor_mimic.store.dedup import read_lane_rows
from actor_mimic.store.identity import seal_problem
from actor_mimic.store.location import location
from actor_mimic.store.meaning import meaning_problems
from actor_mimic.store.schema import (
    EPISODE_CHUNK,
    EPISODE_FIELDS,
    array_problems,
    checked_attrs,
    hidden_window,
    lane_rows,
)

PARTIAL_SUFFIX = ".partial"


def partial_path(path: str | Path) -> Path:
    """Where an HDF5 store lives, as a Zarr store, until its collection completes."""
    path = Path(path)
    return path.with_name(path.name + PARTIAL_SUFFIX)


@overload
def stored_path(path: Path) -> Path: ...
@overload
def stored_path(path: str | Path) -> Path | str: ...
def stored_path(path: str | Path) -> Path | str:
    """The store to open for `path`: itself, or its partial Zarr store while `path` is absent
    (a URL: itself)."""
    path = location(path)
    if isinstance(path, str):
        return path
    if not path.exists() and partial_path(path).is_dir():
        return partial_path(path)
    return path


@dataclass
class LaneInfo:
    """One lane: a contiguous stream of steps of one environment, episode after episode."""

    prefix: str  # of its arrays: "lanes/3/" (schema 2), "" (schema 1)
    committed: int  # rows committed on disk, the running episode's head included
    episode_starts: np.ndarray  # int64 (E,): first row of each closed episode
    episode_lengths: np.ndarray  # int64 (E,)
    episode_returns: np.ndarray  # float64 (E,), raw

    @property
    def num_steps(self) -> int:
        """Rows covered by closed episodes: the only ones a reader serves."""
        return int(self.episode_starts[-1] + self.episode_lengths[-1]) if len(self.episode_starts) else 0


@dataclass
class StoreInfo:
    """What `open_store` found: the attribute document and each lane's closed episodes."""

    path: Path | str  # a URL for a remote store
    backend: str
    attrs: dict
    lanes: list[LaneInfo]

    @property
    def num_steps(self) -> int:
        return sum(lane.num_steps for lane in self.lanes)

    @property
    def num_episodes(self) -> int:
        return sum(len(lane.episode_starts) for lane in self.lanes)

    @property
    def episode_returns(self) -> np.ndarray:
        """float64 (E,): every closed episode's raw return, lane after lane."""
        return np.concatenate([lane.episode_returns for lane in self.lanes])

    @property
    def game(self) -> str:
        return self.attrs["game"]

    @property
    def action_set(self) -> list[int]:
        return list(self.attrs["action_set"])

    @property
    def complete(self) -> bool:
        return bool(self.attrs.get("complete"))

    def bytes_on_disk(self) -> int:
        return bytes_on_disk(self.path)


def open_attrs(path: str | Path, check_arrays: bool = True, mode: str = "r", check_meaning: bool = True):
    """(backend, attribute document) of the teacher store at `path` (or its partial store).

    Refuses a missing path, a file that is not a teacher store, a store with links out of it,
    a document that fails `checked_attrs`, (with `check_meaning`) one whose meaning is wrong
    (meaning.py) or that no longer matches its seal (identity.py), and (with `check_arrays`)
    arrays that are not what the schema says. Reads nothing but metadata."""
    path = stored_path(path)
    if isinstance(path, Path) and not path.exists():  # a str is a URL
        raise UserError(f"teacher store {path} does not exist")
    backend = open_backend(path, mode, detect_backend(path))
    try:
        backend.check_self_contained()
        attrs = checked_attrs(backend.read_attrs(), path)
        if check_meaning:
            problem = next(iter(meaning_problems(attrs)), None) or seal_problem(attrs)
            if problem is not None:
                raise UserError(f"{path}: {problem}")
        problems = array_problems(backend, attrs) if check_arrays else []
        if problems:
            raise UserError(f"{path}: {problems[0]}; the store was altered or damaged: recollect it")
        return backend, attrs
    except BaseException:
        backend.close()
        raise


class OpenStore(NamedTuple):
    """An opened teacher store: its backend (the arrays) and what `open_store` found."""

    backend: Any  # a ZarrBackend or HDF5Backend, open for reading
    info: StoreInfo

    def __enter__(self) -> OpenStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.backend.close()


def open_store(path: str | Path, allow_incomplete: bool = False) -> OpenStore:
    """Open a teacher store for reading: `with open_store(path) as (backend, info):`.

    Refuses, with a UserError saying what to do, everything `open_attrs` refuses and (unless
    `allow_incomplete`) a store whose collection was interrupted. The arrays may hold rows of
    a running episode past the closed ones; callers serve only each lane's `num_steps`.
    """
    backend, attrs = open_attrs(path)
    try:
        if not attrs.get("complete") and not allow_incomplete:
            raise UserError(
                f"{path} is incomplete: its collection stopped after {attrs['num_steps']} steps. "
                "Finish it with `amn collect ... --resume` (same arguments), or read what it has "
                "with allow_incomplete=True / --allow-incomplete"
            )
        if attrs["schema_version"] < 2:
            lanes = [_stored_table(backend, attrs)]
        else:
            lanes = [_derived_table(backend, attrs, prefix, rows) for prefix, rows in lane_rows(attrs)]
            for index, (lane, record) in enumerate(zip(lanes, attrs["lanes"])):
                if len(lane.episode_starts) != record["episodes"]:
                    raise UserError(
                        f"{backend.path}: lane {index} ends {len(lane.episode_starts)} episodes in its flags "
                        f"but its commit says {record['episodes']}; the store is corrupt: recollect it"
                    )
    except BaseException:
        backend.close()
        raise
    return OpenStore(backend, StoreInfo(backend.path, backend.name, attrs, lanes))


def _derived_table(backend, attrs: dict, prefix: str, rows: int) -> LaneInfo:
    """A schema 2 lane's closed episodes, from its flags and rewards."""
    chunks = chunks_of(rows, attrs["chunk_len"])
    values = {}
    for name in ("terminated", "truncated", "rewards"):
        checksums = read_checksums(backend, prefix + name, chunks, 2)
        values[name] = read_checked(backend, prefix + name, 0, rows, checksums)
    ends = np.flatnonzero(values["terminated"] | values["truncated"]).astype(np.int64)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int64) if len(ends) else ends
    rewards = values["rewards"].astype(np.float64)
    returns = np.add.reduceat(rewards[: ends[-1] + 1], starts) if len(ends) else np.zeros(0)
    return LaneInfo(prefix, rows, starts, ends + 1 - starts, returns)


def _stored_table(backend, attrs: dict) -> LaneInfo:
    """A schema 1 store's episode table, checked before it is trusted."""
    n = attrs["num_episodes"]
    table = {}
    for name in EPISODE_FIELDS:
        checksums = read_checksums(backend, name, chunks_of(n, EPISODE_CHUNK), 1)
        table[name] = read_checked(backend, name, 0, n, checksums)
    lane = LaneInfo("", attrs["num_steps"], *table.values())
    if lane.num_steps > attrs["num_steps"]:
        raise UserError(f"{backend.path}: its episode table runs past its committed steps; the store is corrupt")
    return lane


def read_field(backend, attrs: dict, prefix: str, name: str, start: int, stop: int, gather: bool = True) -> np.ndarray:
    """Rows start..stop-1 of array `name` of the lane at `prefix`, each chunk checked against
    its checksum. The activations (`hidden`) of a schema 3 store are gathered through their
    references (store/dedup.py), unless `gather` is False (then: the stored rows)."""

    def rows_of(array: str) -> CheckedRows:
        full = prefix + array
        chunk_len = int(backend.array(full).chunks[0])
        checksums = read_checksums(backend, full, chunks_of(stop, chunk_len), attrs["schema_version"])
        return CheckedRows(backend, full, ChunkGuard(backend.path, full, chunk_len, checksums))

    window = hidden_window(attrs) if gather else None
    return read_lane_rows(rows_of, name, start, stop, window, f"{backend.path} {prefix.rstrip('/')}")


def read_episodes(backend, info: StoreInfo):
    """Every closed episode's rows (a dict of per-step arrays), lane after lane, in stored
    order, each chunk checked against its checksum."""
    for lane in info.lanes:
        rows = {
            name: read_field(backend, info.attrs, lane.prefix, name, 0, lane.num_steps) for name in info.attrs["fields"]
        }
        for start, length in zip(lane.episode_starts, lane.episode_lengths):
            yield {name: values[start : start + length] for name, values in rows.items()}

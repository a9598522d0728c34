"""The teacher store: what `amn collect` writes and `actor_mimic.datasets` reads.

One store holds steps of one game, collected by one run (or one shard of a run). Per step t,
in the order they were played, episode after episode:

    frames      uint8   (T, 84, 84)   newest frame of the observation s_t; stacks are rebuilt
                                      on read from the frames of the same episode, zero-padded
    actions     int16   (T,)          a_t, index into `action_set` (the action actually taken)
    rewards     float32 (T,)          raw reward after a_t (unclipped)
    terminated  bool    (T,)          the game ended after a_t
    truncated   bool    (T,)          the episode was cut after a_t (time limit, budget, interrupt)
    lives       int16   (T,)          lives counter in s_t
    q_values    float   (T, A)        the expert's Q(s_t, .) over `action_set` (`q_dtype`, default
                                      float32: they are the distillation targets, and tiny)
    hidden      float   (T, H)        the expert's hidden activations h(s_t) (`hidden_dtype`,
                                      default float16: they dominate a store's size and decode time,
                                      and an L2 regression target needs no more than 3 digits)

Per episode e: `episode_starts[e]`, `episode_lengths[e]`, `episode_returns[e]` (raw).

The attribute document (JSON, key `actor_mimic`) carries `schema_version`, the game, the
Atari settings, `action_set`, provenance, and the **commit**: `num_steps` and `num_episodes`.
Zarr reads never-written chunks as zeros and a killed writer can leave rows past the commit,
so readers serve only rows below `num_steps` and only committed episodes. The writer
advances the commit after the rows are on disk, so a store is readable after any interruption.
`complete` is true once the collection reached its target; `--resume` continues it otherwise.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actor_mimic.common.store_backends import (
    bytes_on_disk,
    detect_backend,
    open_backend,
    parse_compression,
)
from actor_mimic.errors import UserError

SCHEMA = "actor-mimic-teacher-store"
SCHEMA_VERSION = 1
VALUE_DTYPES = ("float32", "float16")

EPISODE_FIELDS = {
    "episode_starts": np.int64,
    "episode_lengths": np.int64,
    "episode_returns": np.float64,
}
EPISODE_CHUNK = 4096


def step_fields(
    num_actions: int, hidden_size: int, screen_size: int, q_dtype: str, hidden_dtype: str
) -> dict:
    """name -> (per-step shape, dtype) of every per-step array."""
    return {
        "frames": ((screen_size, screen_size), np.uint8),
        "actions": ((), np.int16),
        "rewards": ((), np.float32),
        "terminated": ((), np.bool_),
        "truncated": ((), np.bool_),
        "lives": ((), np.int16),
        "q_values": ((num_actions,), np.dtype(q_dtype)),
        "hidden": ((hidden_size,), np.dtype(hidden_dtype)),
    }


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def check_finite(name: str, values: np.ndarray, where: str) -> None:
    """Raise UserError if a Q-value or activation block holds NaN or infinities."""
    if not np.isfinite(values).all():
        bad = int(np.argwhere(~np.isfinite(values))[0][0])
        raise UserError(
            f"{where}: {name} holds NaN or infinite values (first at row {bad}); "
            "the expert checkpoint or the store is broken, recollect it"
        )


class StoreWriter:
    """Appends whole episodes and commits them chunk by chunk.

    Rows are buffered until a chunk is full, then written, then committed in the attributes.
    A killed writer therefore loses at most the rows of its unflushed chunk; `close()` writes
    the rest. Use `StoreWriter.create` for a new store and `StoreWriter.resume` to continue.
    """

    def __init__(self, backend, attrs: dict):
        self.backend = backend
        self.attrs = attrs
        self.chunk_len = int(attrs["chunk_len"])
        self.num_steps = int(attrs["num_steps"])  # committed
        self.num_episodes = int(attrs["num_episodes"])  # committed
        self._step_buffer: dict[str, list[np.ndarray]] = {name: [] for name in attrs["fields"]}
        self._buffered = 0
        self._pending_episodes: list[tuple[int, int, float]] = []  # (start, length, return)

    @classmethod
    def create(
        cls,
        path: str | Path,
        *,
        metadata: dict,
        num_actions: int,
        hidden_size: int,
        screen_size: int = 84,
        q_dtype: str = "float32",
        hidden_dtype: str = "float16",
        chunk_len: int = 1024,
        compression: str = "zstd",
        backend: str | None = None,
    ) -> StoreWriter:
        """A new empty store at `path`. `metadata` is merged into the attribute document.

        Never deletes anything: an existing `path` is refused (`amn collect --overwrite` sets
        the old store aside first, see `actor_mimic.collect.output`)."""
        path = Path(path)
        if path.exists() or path.is_symlink():
            raise UserError(
                f"{path} already exists: pass --resume to continue it or --overwrite to replace it"
            )
        for name, dtype in (("Q-value", q_dtype), ("hidden", hidden_dtype)):
            if dtype not in VALUE_DTYPES:
                raise UserError(f"{name} dtype must be one of {VALUE_DTYPES}, got {dtype!r}")
        if chunk_len < 1:
            raise UserError(f"chunk length must be positive, got {chunk_len}")
        codec = parse_compression(compression)
        path.parent.mkdir(parents=True, exist_ok=True)
        store = open_backend(path, "w", backend or ("hdf5" if path.suffix in (".h5", ".hdf5") else "zarr"))
        fields = step_fields(num_actions, hidden_size, screen_size, q_dtype, hidden_dtype)
        for name, (tail, dtype) in fields.items():
            store.create_array(name, tail, dtype, chunk_len, codec)
        for name, dtype in EPISODE_FIELDS.items():
            store.create_array(name, (), dtype, EPISODE_CHUNK, codec)
        attrs = dict(metadata)
        attrs.update(
            schema=SCHEMA,
            schema_version=SCHEMA_VERSION,
            backend=store.name,
            fields=list(fields),
            num_actions=num_actions,
            hidden_size=hidden_size,
            q_dtype=q_dtype,
            hidden_dtype=hidden_dtype,
            chunk_len=chunk_len,
            compression=compression,
            num_steps=0,
            num_episodes=0,
            complete=False,
            created=_now(),
            updated=_now(),
        )
        store.write_attrs(attrs)
        store.flush()
        return cls(store, attrs)

    @classmethod
    def resume(cls, path: str | Path) -> StoreWriter:
        """Reopen a store to append to it.

        Rows a killed writer left past the commit are dropped. Committed rows after the last
        committed episode (the head of an episode whose end was never flushed) become an
        episode of their own, marked truncated, so no committed step is lost.
        """
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path} does not exist: there is nothing to resume")
        store = open_backend(path, "a")
        attrs = _checked_attrs(store.read_attrs(), path)
        writer = cls(store, attrs)
        for name in attrs["fields"]:
            store.resize(name, writer.num_steps)
        for name in EPISODE_FIELDS:
            store.resize(name, writer.num_episodes)
        covered = 0
        if writer.num_episodes:
            last = writer.num_episodes - 1
            covered = int(store.array("episode_starts")[last] + store.array("episode_lengths")[last])
        if covered < writer.num_steps:
            store.array("truncated")[writer.num_steps - 1] = True
            tail_return = float(np.sum(store.array("rewards")[covered : writer.num_steps], dtype=np.float64))
            writer._append_episode_rows([(covered, writer.num_steps - covered, tail_return)])
            writer._commit(writer.num_steps, writer.num_episodes + 1)
        return writer

    @property
    def total_steps(self) -> int:
        """Committed plus buffered steps."""
        return self.num_steps + self._buffered

    @property
    def total_episodes(self) -> int:
        return self.num_episodes + len(self._pending_episodes)

    def append_episode(self, steps: dict[str, np.ndarray]) -> None:
        """Append one episode (or the part of one that was played): every per-step field,
        all of the same length. Flushes and commits every chunk that fills up."""
        missing = set(self.attrs["fields"]) - set(steps)
        if missing:
            raise ValueError(f"episode lacks fields {sorted(missing)}")
        length = len(steps["actions"])
        if length == 0:
            return
        for name in ("q_values", "hidden"):
            check_finite(name, steps[name], f"episode starting at step {self.total_steps}")
        start = self.total_steps
        for name in self.attrs["fields"]:
            values = np.asarray(steps[name])
            if len(values) != length:
                raise ValueError(f"field {name} has {len(values)} rows, expected {length}")
            self._step_buffer[name].append(values)
        self._buffered += length
        episode_return = float(np.sum(steps["rewards"], dtype=np.float64))
        self._pending_episodes.append((start, length, episode_return))
        self.flush(final=False)

    def flush(self, final: bool = False) -> None:
        """Write buffered rows: whole chunks only, or everything when `final`."""
        end = self.total_steps if final else (self.total_steps // self.chunk_len) * self.chunk_len
        if end <= self.num_steps:
            return
        count = end - self.num_steps
        for name in self.attrs["fields"]:
            rows = np.concatenate(self._step_buffer[name])
            self.backend.resize(name, end)
            self.backend.array(name)[self.num_steps : end] = rows[:count]
            self._step_buffer[name] = [rows[count:]] if count < len(rows) else []
        self._buffered -= count
        done = [e for e in self._pending_episodes if e[0] + e[1] <= end]
        self._pending_episodes = self._pending_episodes[len(done) :]
        self._append_episode_rows(done)
        self._commit(end, self.num_episodes + len(done))

    def close(self, complete: bool, **extra_attrs) -> None:
        """Write everything buffered, record whether the target was reached, release files."""
        self.flush(final=True)
        self.attrs.update(extra_attrs)
        self.attrs["complete"] = bool(complete)
        self._commit(self.num_steps, self.num_episodes)
        self.backend.close()

    def update_attrs(self, **extra_attrs) -> None:
        self.attrs.update(extra_attrs)
        self._commit(self.num_steps, self.num_episodes)

    def _append_episode_rows(self, rows: list[tuple[int, int, float]]) -> None:
        if not rows:
            return
        n = self.num_episodes
        for column, name in enumerate(EPISODE_FIELDS):
            self.backend.resize(name, n + len(rows))
            self.backend.array(name)[n : n + len(rows)] = np.array(
                [row[column] for row in rows], dtype=EPISODE_FIELDS[name]
            )

    def _commit(self, num_steps: int, num_episodes: int) -> None:
        self.backend.flush()  # rows reach the disk before the commit that points at them
        self.num_steps, self.num_episodes = num_steps, num_episodes
        self.attrs.update(num_steps=num_steps, num_episodes=num_episodes, updated=_now())
        self.backend.write_attrs(self.attrs)
        self.backend.flush()


@dataclass
class StoreInfo:
    """What `open_store` found: the attribute document and the committed episode table."""

    path: Path
    backend: str
    attrs: dict
    episode_starts: np.ndarray  # int64 (E,)
    episode_lengths: np.ndarray  # int64 (E,)
    episode_returns: np.ndarray  # float64 (E,)

    @property
    def num_steps(self) -> int:
        """Steps covered by committed episodes: the only ones a reader serves."""
        if len(self.episode_starts) == 0:
            return 0
        return int(self.episode_starts[-1] + self.episode_lengths[-1])

    @property
    def num_episodes(self) -> int:
        return len(self.episode_starts)

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


def open_store(path: str | Path, allow_incomplete: bool = False):
    """Open a teacher store for reading: (backend, StoreInfo).

    Refuses, with a UserError saying what to do: a missing path, a file that is not a teacher
    store, a schema newer than this actor-mimic, and (unless `allow_incomplete`) a store whose
    collection was interrupted. The backend's arrays may hold rows past the commit; callers
    must stay below `info.num_steps`.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"teacher store {path} does not exist")
    backend = open_backend(path, "r", detect_backend(path))
    attrs = _checked_attrs(backend.read_attrs(), path)
    if not attrs.get("complete") and not allow_incomplete:
        backend.close()
        raise UserError(
            f"{path} is incomplete: its collection stopped after {attrs['num_steps']} steps. "
            "Finish it with `amn collect ... --resume` (same arguments), or read what it has "
            "with allow_incomplete=True / --allow-incomplete"
        )
    n = int(attrs["num_episodes"])
    episodes = {name: np.asarray(backend.array(name)[:n]) for name in EPISODE_FIELDS}
    info = StoreInfo(path, backend.name, attrs, **episodes)
    if info.num_steps > int(attrs["num_steps"]):
        backend.close()
        raise UserError(f"{path}: its episode table runs past its committed steps; the store is corrupt")
    return backend, info


def _checked_attrs(attrs: dict | None, path: Path) -> dict:
    if not attrs or attrs.get("schema") != SCHEMA:
        raise UserError(f"{path} is not an actor-mimic teacher store (no '{SCHEMA}' attributes)")
    version = int(attrs.get("schema_version", 0))
    if version > SCHEMA_VERSION:
        raise UserError(
            f"{path} uses store schema version {version}, newer than this actor-mimic reads "
            f"({SCHEMA_VERSION}); upgrade actor-mimic to read it"
        )
    return attrs

"""The teacher store: what `amn collect` writes and `actor_mimic.datasets` reads.

One store holds steps of one game, collected by one run (or one shard of a run), in **lanes**:
one lane per environment of the collection, each a contiguous stream of that environment's
steps, episode after episode, in `lanes/<i>/`. Per step t of a lane:

    frames      uint8   (T, 84, 84)   newest frame of the observation s_t; stacks are rebuilt
                                      on read from the frames of the same episode, zero-padded
    actions     int16   (T,)          a_t, index into `action_set`: the action the acting policy
                                      chose (with sticky actions, see below, not always the one
                                      the emulator executed)
    rewards     float32 (T,)          raw reward after a_t (unclipped)
    terminated  bool    (T,)          the game ended after a_t
    truncated   bool    (T,)          the episode was cut after a_t (time limit, or the budget)
    lives       int16   (T,)          lives counter in s_t
    q_values    float   (T, A)        the expert's Q(s_t, .) over `action_set` (`q_dtype`, default
                                      float32: they are the distillation targets, and tiny)
    hidden      float   (T, H)        the expert's hidden activations h(s_t) (`hidden_dtype`,
                                      default float16: they dominate a store's size and decode time,
                                      and an L2 regression target needs no more than 3 digits)

Sticky actions (`atari.repeat_action_probability` p > 0): on each emulator frame of a step,
ALE repeats the previous frame's action with probability p, so a step may execute the previous
action on some of its frames. ALE reports neither the draws nor the executed action (there is
no such output in ale-py, openai/atari-py#77), so the store cannot hold it; `amn dataset info`
says so for such stores. The expert's Q-values, the distillation targets, are of the observed
state and are not affected.

    hidden_ref  int32   (T,)          schema 3: the row of `hidden` that holds h(s_t): each
                                      distinct activation row is stored once per window of
                                      `hidden_window` steps (store/dedup.py)

and `lanes/<i>/checksums/<array>`: the CRC-32C of every stored chunk (store/checksums.py).
Episodes are where the flags say (the episode table is derived on read, store/reader.py); rows
after a lane's last flag are the head of an episode that was running when the collection
stopped. Readers serve closed episodes only; the lanes of a store read as one dataset, like
shards.

The attribute document (JSON, key `actor_mimic`; store/schema.py reads it) carries the game,
the Atari settings, `action_set`, provenance, and **the commit**: per lane, its committed rows,
closed episodes and whether it reached its quota (`lanes`), with their sums `num_steps` and
`num_episodes`, and `complete`.

Crash safety. A lane's rows are buffered until a whole chunk is full; the chunk of every array
is then written, its checksums recorded, and only then the commit advanced. Zarr writes every
file (chunk, array metadata, attribute document) to a temporary name and renames it into place,
so a kill leaves each file old or new, never torn; and no committed chunk is ever written again
(an interrupted lane commits whole chunks only; a lane's last, partial chunk is written once,
when it reaches its quota). A kill at any instant therefore leaves the committed rows intact,
matching their checksums, and loses at most each lane's unflushed chunk, running episodes
included. `StoreWriter.resume` checks the store (schema, counts, the last committed chunk of
every array against its checksum), drops rows a killed writer left past the commit, and goes on.

Exactness. Each lane's randomness is a function of (seed, shard, lane, episode), and a resumed
lane replays its running episode's committed head from that episode's reset seed (ale-py's
vector env cannot restore emulator state; collect/lanes.py), so a resumed collection equals an
uninterrupted one with the same settings, lane by lane and array by array. Not identical: the
attribute document's `segments` (one entry per run) and timestamps. Identical only with the
same ale-py and torch (a replay that diverges is refused, naming the lane), and the same
--num-envs (the expert labels a fixed batch of num_envs observations; CPU kernels pick their
summation order by batch size, not by the other rows).

HDF5 cannot be appended to that way: the library updates its index and headers in place and
a kill in the middle of a flush can corrupt data committed long before (segfaulting reads,
wrong rows). SWMR mode orders those writes, but a file its writer did not close needs h5clear
before it opens again ("invalid dataset size"), which h5py cannot do. So an HDF5 store is
collected as a Zarr store beside its path (`X.h5.partial`, readable and resumable like any
store) and written as one HDF5 file, under a temporary name renamed into place, only when the
collection completes: `X.h5` exists only whole.

Schema 2 stores (activations stored row by row, no `hidden_ref`) are read and resumed as
they are. Schema 1 stores (one stream at the root with a stored episode table, no checksums;
written by actor-mimic before lanes) stay readable; they cannot be resumed.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from actor_mimic.common.kill_points import kill_point
from actor_mimic.common.outputs import remove
from actor_mimic.errors import UserError
from actor_mimic.store.backends import backend_by_name, open_backend, parse_compression
from actor_mimic.store.checksums import chunks_of, create_checksums, record_checksums
from actor_mimic.store.dedup import WindowIndex, window_for
from actor_mimic.store.finite import check_finite
from actor_mimic.store.reader import (
    LaneInfo,
    StoreInfo,
    open_attrs,
    open_store,
    partial_path,
    read_episodes,
    read_field,
    stored_path,
)
from actor_mimic.store.resume import open_for_resume
from actor_mimic.store.schema import (
    EPISODE_FIELDS,
    MAX_CHUNK_LEN,
    MAX_LANES,
    SCHEMA,
    SCHEMA_VERSION,
    VALUE_DTYPES,
    hidden_window,
    lane_prefix,
    lane_rows,
    step_fields,
    stored_fields,
)

__all__ = [
    "EPISODE_FIELDS", "SCHEMA", "SCHEMA_VERSION", "VALUE_DTYPES", "LaneInfo", "StoreInfo", "StoreWriter",
    "open_attrs", "open_store", "partial_path", "read_episodes", "step_fields", "stored_path",
]  # fmt: skip


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class StoreWriter:
    """Appends rows to the lanes of a store and commits them chunk by chunk.

    `append(lane, rows)` writes and commits every whole chunk of a lane's rows and keeps the
    rest until the next append (a caller that hands over whole chunks, like the collector,
    has its rows written from its own arrays, never copied into another buffer);
    `finish_lane(lane)` writes the lane's last, partial chunk once it reached its quota;
    `close(complete)` records the end (and, for an HDF5 store, writes the HDF5 file). Rows of
    an incomplete lane that do not fill a chunk are never written: a resumed collection
    plays them again (writer.py's docstring says why). Use `StoreWriter.create` for a new store
    and `StoreWriter.resume` to continue one.
    """

    def __init__(self, backend, attrs: dict, path: Path):
        self.backend = backend
        self.attrs = attrs
        self.path = path  # the store's name: X.h5 while its rows live in X.h5.partial
        self.chunk_len = int(attrs["chunk_len"])
        self.lanes: list[dict] = attrs["lanes"]  # the commit, per lane
        self._pending: list[dict[str, np.ndarray] | None] = [None] * len(self.lanes)  # rows short of a chunk
        self._buffered = [0] * len(self.lanes)  # their number, per lane
        self.window = hidden_window(attrs)  # None: a schema 2 store, activations stored plainly
        self._index = [WindowIndex(self.window) for _ in self.lanes] if self.window else []

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
        lanes: int = 1,
        hidden_window: int | None = None,
    ) -> StoreWriter:
        """A new empty store of `lanes` lanes at `path`; `metadata` joins its attributes.

        Never deletes anything: an existing store (for HDF5, also its collection in progress,
        `PATH.partial`) is refused; `amn collect --overwrite` sets the old store aside first
        (see `actor_mimic.collect.output`)."""
        path = Path(path)
        target = backend or backend_by_name(path)
        candidates = (path, partial_path(path)) if target == "hdf5" else (path,)
        existing = [p for p in candidates if p.exists() or p.is_symlink()]
        if existing:
            raise UserError(f"{existing[0]} already exists: pass --resume to continue it or --overwrite to replace it")
        for name, dtype in (("Q-value", q_dtype), ("hidden", hidden_dtype)):
            if dtype not in VALUE_DTYPES:
                raise UserError(f"{name} dtype must be one of {VALUE_DTYPES}, got {dtype!r}")
        if not 1 <= chunk_len <= MAX_CHUNK_LEN:
            raise UserError(f"chunk length must lie in 1..{MAX_CHUNK_LEN}, got {chunk_len}")
        if not 1 <= lanes <= MAX_LANES:
            raise UserError(f"a store holds 1..{MAX_LANES} lanes (one per environment), not {lanes}")
        if hidden_window is None:
            hidden_window = window_for(chunk_len, hidden_size * np.dtype(hidden_dtype).itemsize)
        if hidden_window < 1 or hidden_window % chunk_len:
            raise UserError(
                f"the activation window must be a whole number of chunks of {chunk_len} steps, got {hidden_window}"
            )
        codec = parse_compression(compression)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Rows are written to a Zarr store; an HDF5 store is written whole when complete.
        store = open_backend(partial_path(path) if target == "hdf5" else path, "w", "zarr")
        fields = step_fields(num_actions, hidden_size, screen_size, q_dtype, hidden_dtype)
        attrs = dict(metadata)
        attrs.update(
            schema=SCHEMA,
            schema_version=SCHEMA_VERSION,
            backend=target,
            fields=list(fields),
            num_actions=num_actions,
            hidden_size=hidden_size,
            q_dtype=q_dtype,
            hidden_dtype=hidden_dtype,
            chunk_len=chunk_len,
            hidden_window=hidden_window,
            compression=compression,
            lanes=[{"steps": 0, "episodes": 0, "complete": False} for _ in range(lanes)],
            num_steps=0,
            num_episodes=0,
            complete=False,
            created=_now(),
            updated=_now(),
        )
        # Marked first, so a store killed while being created says so (and is ours to replace).
        store.write_attrs({**attrs, "creating": True})
        for lane in range(lanes):
            for name, (tail, dtype) in stored_fields(attrs).items():
                store.create_array(lane_prefix(lane) + name, tail, dtype, chunk_len, codec, unit_major=name == "hidden")
                create_checksums(store, lane_prefix(lane) + name)
            kill_point("create")
        store.write_attrs(attrs)
        return cls(store, attrs, path)

    @classmethod
    def resume(cls, path: str | Path) -> StoreWriter:
        """Reopen an interrupted store to append to it, after checking it (store/resume.py:
        the document, every array's last committed chunk against its checksum; the rows and
        temporary files a killed writer left past the commit are dropped)."""
        path = Path(path)
        backend, attrs = open_for_resume(path)
        try:
            writer = cls(backend, attrs, path)
            writer._restore_windows()
        except BaseException:
            backend.close()
            raise
        return writer

    # ------------------------------------------------------------------ state
    @property
    def num_lanes(self) -> int:
        return len(self.lanes)

    @property
    def num_steps(self) -> int:
        """Committed rows, over all lanes."""
        return int(self.attrs["num_steps"])

    @property
    def num_episodes(self) -> int:
        return int(self.attrs["num_episodes"])

    @property
    def total_steps(self) -> int:
        """Committed plus buffered rows, over all lanes."""
        return self.num_steps + sum(self._buffered)

    def committed(self, lane: int) -> int:
        return int(self.lanes[lane]["steps"])

    def read_rows(self, lane: int, name: str, start: int, stop: int) -> np.ndarray:
        """Committed rows start..stop-1 of step field `name` in `lane`, checked against their
        checksums (activations gathered through their references)."""
        return read_field(self.backend, self.attrs, lane_prefix(lane), name, start, stop)

    # ------------------------------------------------------------------ writing
    def append(self, lane: int, rows: dict[str, np.ndarray]) -> None:
        """Append rows (every per-step field, all of one length) to `lane`; writes and commits
        every chunk that fills. Rows are refused, before anything is written, if their
        Q-values or activations hold NaN or infinities (NonFiniteValues)."""
        missing = set(self.attrs["fields"]) - set(rows)
        if missing:
            raise ValueError(f"rows lack fields {sorted(missing)}")
        length = len(rows["actions"])
        if length == 0:
            return
        rows = {name: np.asarray(rows[name]) for name in self.attrs["fields"]}
        for name, values in rows.items():
            if len(values) != length:
                raise ValueError(f"field {name} has {len(values)} rows, expected {length}")
        first = self.committed(lane) + self._buffered[lane]
        for name in ("q_values", "hidden"):
            check_finite(rows[name], name, f"{self.path} lane {lane}", first)
        pending = self._pending[lane]
        if pending is not None:
            rows = {name: np.concatenate([pending[name], values]) for name, values in rows.items()}
        start, length = 0, len(rows["actions"])
        while length - start >= self.chunk_len:
            self._write(lane, {name: values[start : start + self.chunk_len] for name, values in rows.items()})
            start += self.chunk_len
        # The rest waits for the next rows; a copy, as the caller may reuse its arrays.
        self._pending[lane] = {name: values[start:].copy() for name, values in rows.items()} if start < length else None
        self._buffered[lane] = length - start

    def append_episode(self, steps: dict[str, np.ndarray], lane: int = 0) -> None:
        """Append one episode's rows to `lane` (its last row flagged terminated or truncated)."""
        self.append(lane, steps)

    def finish_lane(self, lane: int, cut: bool = False) -> None:
        """`lane` reached its quota: write its buffered rows (its last chunk, once) and mark it
        complete. `cut`: its last episode was ended by the budget, not by the game."""
        pending = self._pending[lane]
        if pending is not None:
            self._write(lane, pending, commit=False)
            self._pending[lane], self._buffered[lane] = None, 0
        self.lanes[lane]["complete"] = True
        if cut:
            self.attrs["cut_episodes"] = sorted(
                [*self.attrs.get("cut_episodes", []), [lane, self.lanes[lane]["episodes"] - 1]]
            )
        self._commit()

    def close(self, complete: bool, **extra_attrs) -> None:
        """Record the end and release the files. `complete`: every lane reached its quota
        (their buffered rows are written now); otherwise rows short of a chunk are dropped
        and a resumed collection plays them again. An HDF5 store is written when complete."""
        if complete:
            for lane in range(self.num_lanes):
                if not self.lanes[lane]["complete"]:
                    self.finish_lane(lane)
        self.attrs.update(extra_attrs)
        self.attrs["complete"] = bool(complete)
        self._commit()
        if complete and self.attrs["backend"] == "hdf5" and self.backend.name == "zarr":
            from actor_mimic.store.hdf5 import write_hdf5

            write_hdf5(self.backend, self.attrs, self.path)
            self.backend.close()
            remove(partial_path(self.path))  # the store's own staging copy, now written out
            return
        self.backend.close()

    def _write(self, lane: int, rows: dict[str, np.ndarray], commit: bool = True) -> None:
        """Write `rows` (a whole chunk, or a lane's final one) after the committed rows of
        `lane`, record their checksums, then commit them."""
        count = len(rows["actions"])
        start, end = self.committed(lane), self.committed(lane) + count
        stored = dict(rows)
        if self.window:  # each distinct activation row once per window (store/dedup.py)
            stored["hidden"], stored["hidden_ref"] = self._index[lane].encode(start, stored["hidden"])
        for index, (name, values) in enumerate(stored.items()):
            full = lane_prefix(lane) + name
            self.backend.resize(full, end)
            self.backend.array(full)[start:end] = values
            record_checksums(self.backend, full, start // self.chunk_len, chunks_of(end, self.chunk_len))
            if index == len(stored) // 2:
                kill_point("chunk")
        self.lanes[lane]["steps"] = end
        self.lanes[lane]["episodes"] += int(np.sum(rows["terminated"] | rows["truncated"]))
        if commit:
            self._commit()

    def _commit(self) -> None:
        """Advance the commit to the rows on disk: one atomic write of the document."""
        self.attrs.update(
            num_steps=sum(record["steps"] for record in self.lanes),
            num_episodes=sum(record["episodes"] for record in self.lanes),
            updated=_now(),
        )
        kill_point("commit")
        self.backend.write_attrs(self.attrs)
        self.backend.flush()

    # ------------------------------------------------------------------ resuming
    def _restore_windows(self) -> None:
        """Rebuild each unfinished lane's index of its current activation window from the
        committed rows, so its next chunks refer exactly as an uninterrupted writer's would."""
        for lane, (prefix, rows) in enumerate(lane_rows(self.attrs)):
            if not self.window or self.lanes[lane]["complete"] or rows % self.window == 0:
                continue
            start = rows - rows % self.window
            refs = read_field(self.backend, self.attrs, prefix, "hidden_ref", start, rows)
            stored = read_field(self.backend, self.attrs, prefix, "hidden", start, rows, gather=False)
            self._index[lane].restore(start, refs, stored)

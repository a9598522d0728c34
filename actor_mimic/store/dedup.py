"""Activations stored once per window: a repeated activation row becomes a reference.

An expert that acts almost greedily revisits the same states (every episode starts from a
handful of them, rallies repeat), and the same observation gives the same activations: in
20,000-step lanes of the shipped Breakout expert 39% of the rows exactly repeat an earlier row
of their lane. No chunk-local codec can use that once the earlier row lies in another chunk,
and chunks are what a kill-safe writer commits (writer.py). So schema 3 stores each distinct
row once per *window* of `hidden_window` consecutive steps of a lane (a multiple of
`chunk_len`, 32,768 steps by default), and a reference per step:

    hidden      float (T, H)  chunk k (steps kC..kC+C-1) holds first the rows of its steps that
                              did not occur earlier in their window, in step order, then zeros
                              (which compress to almost nothing)
    hidden_ref  int32 (T,)    the row of `hidden` holding step t's activations, with
                              w(t) <= hidden_ref[t] <= t, w(t) = t - t % hidden_window

so the activations of step t are `hidden[hidden_ref[t]]`: one gather, for any Zarr or HDF5
reader. Both arrays have a row per step and are written chunk by chunk as steps commit, like
every other array: a committed chunk is never written again, every chunk has its checksum,
and a kill loses at most one chunk per lane. The references of a step depend only on its
lane's earlier steps in the window, so a resumed lane (which rebuilds the window's index from
its committed rows) writes exactly what an uninterrupted one writes.

Why windows, and not a lane's whole history: the activations of a run of steps lie in the
chunks of their windows only, from each window's start, so a reader decodes at most one
window of stored rows besides the run's own: memory stays bounded, and the loader keeps its
4-chunk blocks (blocks.py; benchmarks/bench_loading.py). Of the earlier chunks a run refers
to, a reader keeps only the rows referred to (`read_activations`).
"""

from __future__ import annotations

import numpy as np

from actor_mimic.errors import UserError

REF_DTYPE = np.int32
# steps: the shipped Breakout expert's activations cost 252 B/step at 32,768 where 16,384 give
# 278 (a store 287 B/step, 106x smaller than naive, against 312 B, 97x; docs/storage.md)
DEFAULT_WINDOW = 32768
WINDOW_BYTES = 32 << 20  # at most this many bytes of distinct rows indexed per lane (wide layers)


def window_for(chunk_len: int, row_bytes: int) -> int:
    """The window of a new store: DEFAULT_WINDOW steps, fewer for rows so wide that a lane's
    index would pass WINDOW_BYTES, always a whole number of chunks."""
    steps = min(DEFAULT_WINDOW, max(1, WINDOW_BYTES // max(row_bytes, 1)))
    return chunk_len * max(1, steps // chunk_len)


class WindowIndex:
    """The writer's side, for one lane: the distinct rows of the current window, by value."""

    def __init__(self, window: int):
        self.window = window
        self.rows: dict[bytes, int] = {}  # row bytes -> its row in `hidden`

    def encode(self, start: int, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(stored rows, references) of steps start..start+n-1 (`hidden` (n, H), one chunk
        starting at a chunk boundary): what the chunk of `hidden` and `hidden_ref` hold."""
        stored = np.zeros_like(hidden)
        refs = np.empty(len(hidden), dtype=REF_DTYPE)
        novel = 0
        for i, row in enumerate(hidden):
            if (start + i) % self.window == 0:
                self.rows.clear()
            key = row.tobytes()
            ref = self.rows.get(key)
            if ref is None:
                ref = self.rows[key] = start + novel
                stored[novel] = row
                novel += 1
            refs[i] = ref
        return stored, refs

    def restore(self, start: int, refs: np.ndarray, stored: np.ndarray) -> None:
        """Rebuild the index from the committed steps start..start+n-1 of the current window:
        `refs` their references, `stored` rows start..start+n-1 of `hidden`."""
        self.rows.clear()
        for ref in refs.tolist():
            self.rows.setdefault(stored[ref - start].tobytes(), ref)


def bad_reference(refs: np.ndarray, start: int | np.ndarray, window: int) -> int | None:
    """The first step whose reference breaks w(t) <= ref <= t, or None. `start`: the step of
    refs[0] (refs of consecutive steps), or the step of every ref (int64 (N,))."""
    if isinstance(start, np.ndarray):
        steps = start.astype(np.int64, copy=False)
    else:
        steps = np.arange(start, start + len(refs), dtype=np.int64)
    refs = refs.astype(np.int64, copy=False)
    bad = (refs > steps) | (refs < steps - steps % window)
    return int(steps[np.argmax(bad)]) if bad.any() else None


def checked_references(refs: np.ndarray, steps: int | np.ndarray, window: int, where: str) -> np.ndarray:
    """`refs` as int64, after refusing one that leaves its window (`steps` as in
    `bad_reference`; `where` names the lane in the error)."""
    bad = bad_reference(refs, steps, window)
    if bad is not None:
        raise UserError(
            f"{where}: hidden_ref of step {bad} points outside its window of {window} steps; the store "
            "is corrupt: recollect or re-download it"
        )
    return refs.astype(np.int64, copy=False)


def distinct_rows(rows_of, refs: np.ndarray, dtype=None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, index): the stored activation rows that checked `refs` (N,) name, each once and
    each chunk decoded once, (U, H) as `dtype`, and each ref's row in them (N,)."""
    distinct, index = np.unique(refs, return_inverse=True)
    return rows_of("hidden").take(distinct, dtype), index.reshape(-1)


def read_activations(rows_of, start: int, stop: int, window: int | None, where: str, dtype=None):
    """(rows, index): the activations of a lane's steps start..stop-1 as the distinct rows
    they use, (U, H), and each step's row in them, int64 (n,): `rows[index]` are the steps'
    activations. `rows_of(array)` is a row reader of one of the lane's arrays (`.read(start,
    stop)`, `.take(sorted rows, dtype)`, every chunk checked). A schema 3 store (`window`)
    reads the references, then only the stored rows they name; a schema 2 store's rows are
    read as they are (and `dtype` is left to the caller)."""
    if window is None:
        return rows_of("hidden").read(start, stop), np.arange(stop - start, dtype=np.int64)
    stored, index = activation_refs(rows_of, start, stop, window, where)
    return rows_of("hidden").take(stored, dtype), index


def activation_refs(rows_of, start: int, stop: int, window: int | None, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(stored, index): the rows of `hidden` that hold the activations of a lane's steps
    start..stop-1, distinct and sorted, int64 (U,), and each step's position in them, int64
    (n,): `hidden[stored][index]` are the steps' activations (`rows_of` as in
    `read_activations`). A schema 2 store (no `window`) holds step t's in row t."""
    if window is None:
        return np.arange(start, stop, dtype=np.int64), np.arange(stop - start, dtype=np.int64)
    refs = checked_references(rows_of("hidden_ref").read(start, stop), start, window, where)
    stored, index = np.unique(refs, return_inverse=True)
    return stored, index.reshape(-1)


def read_lane_rows(rows_of, name: str, start: int, stop: int, window: int | None, where: str) -> np.ndarray:
    """Rows start..stop-1 of a lane's per-step array `name` (`rows_of` as in
    `read_activations`): the activations of a schema 3 store gathered through their
    references, every other array as stored. The one read path of the store's reader
    (`read_field`) and of the loader's shards (datasets/shard.py)."""
    if name != "hidden" or window is None:
        return rows_of(name).read(start, stop)
    rows, index = read_activations(rows_of, start, stop, window, where)
    return rows[index]

"""Activations stored once per window: a repeated activation row becomes a reference.

An expert that acts almost greedily revisits the same states (every episode starts from a
handful of them, rallies repeat), and the same observation gives the same activations: in
20,000-step lanes of the shipped Breakout expert 39% of the rows exactly repeat an earlier row
of their lane. No chunk-local codec can use that once the earlier row lies in another chunk,
and chunks are what a kill-safe writer commits (writer.py). So schema 3 stores each distinct
row once per *window* of `hidden_window` consecutive steps of a lane (a multiple of
`chunk_len`, 16,384 steps by default), and a reference per step:

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
window of stored rows (16 MB of float16 activations) besides the run's own: memory stays
bounded, and the loader keeps its 4-chunk blocks (blocks.py; benchmarks/bench_loading.py).
"""

from __future__ import annotations

import numpy as np

from actor_mimic.errors import UserError

REF_DTYPE = np.int32
DEFAULT_WINDOW = 16384  # steps: 264 B/step of activations where 8,192 give 288, 32,768 give 238
WINDOW_BYTES = 16 << 20  # at most this many bytes of distinct rows indexed per lane (wide layers)


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


def bad_reference(refs: np.ndarray, start: int, window: int) -> int | None:
    """The first step (from `start`) whose reference breaks w(t) <= ref <= t, or None."""
    steps = np.arange(start, start + len(refs), dtype=np.int64)
    refs = refs.astype(np.int64, copy=False)
    bad = (refs > steps) | (refs < steps - steps % window)
    return int(steps[np.argmax(bad)]) if bad.any() else None


def gather(refs: np.ndarray, start: int, window: int, chunk_len: int, read_stored, where: str) -> np.ndarray:
    """The activations of steps start..start+n-1 from their references `refs` (n,) and
    `read_stored(low, high)`, which returns rows low..high-1 of `hidden` (stored in chunks of
    `chunk_len` rows). Only the chunks the references point into are read: a run of steps
    mostly refers to its own chunks and a few earlier ones (episode starts look alike).
    `where` names the lane in the error raised for a reference that leaves its window."""
    if len(refs) == 0:
        return read_stored(start, start)
    bad = bad_reference(refs, start, window)
    if bad is not None:
        raise UserError(
            f"{where}: hidden_ref of step {bad} points outside its window of {window} steps; the store "
            "is corrupt: recollect or re-download it"
        )
    refs = refs.astype(np.int64, copy=False)
    chunks = np.unique(refs // chunk_len)
    runs = np.split(chunks, np.flatnonzero(np.diff(chunks) > 1) + 1)
    last = int(refs.max()) + 1
    if len(runs) == 1:  # one contiguous read: a single gather
        low = int(runs[0][0]) * chunk_len
        return read_stored(low, last)[refs - low]
    out = None
    for run in runs:
        low, high = int(run[0]) * chunk_len, min((int(run[-1]) + 1) * chunk_len, last)
        rows = read_stored(low, high)
        if out is None:
            out = np.empty((len(refs), *rows.shape[1:]), dtype=rows.dtype)
        inside = (refs >= low) & (refs < high)
        out[inside] = rows[refs[inside] - low]
    assert out is not None  # two runs or more
    return out


def read_lane_rows(read_stored, name: str, start: int, stop: int, window: int | None, chunk_len: int, where: str):
    """Rows start..stop-1 of a lane's per-step array `name`, from `read_stored(array, low,
    high)`, which returns rows low..high-1 of one of the lane's stored arrays (each chunk
    checked). The activations of a schema 3 store (`window` not None) are gathered through
    their references; every other array is read as stored. The one read path of the store's
    reader (`read_field`) and of the loader's shards (datasets/shard.py)."""
    if name != "hidden" or window is None:
        return read_stored(name, start, stop)
    refs = read_stored("hidden_ref", start, stop)
    return gather(refs, start, window, chunk_len, lambda low, high: read_stored("hidden", low, high), where)

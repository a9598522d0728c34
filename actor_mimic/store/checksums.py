"""A checksum of every stored chunk: recorded when the chunk is written, checked on every read.

For each array `X` of a teacher store (schema 2 on), the uint32 array `checksums/X` next to it
(`lanes/0/checksums/frames` for `lanes/0/frames`) holds at row k the CRC-32C of the bytes
chunk k of X has on disk: the Zarr chunk file, or the HDF5 raw chunk, compressed, exactly as
the engine stored it. The writer records it right after writing the chunk (reading the bytes
back from the page cache); readers compare before decoding. A flipped bit, a truncated or
deleted chunk file, or a chunk copied in from elsewhere is therefore an error naming the
store, the array and the chunk, never data.

CRC-32C through google-crc32c (the implementation zarr's own crc32c codec uses): about
5 GB/s on one core here, so checking costs a few percent of decompressing the same chunk.
Stores of schema 1 have no checksums: there, only missing chunks of the arrays that are never
all zeros (frames, Q-values, activations, episode lengths) can be told from Zarr's legitimately unwritten ones.
"""

from __future__ import annotations

from pathlib import Path

import google_crc32c
import numpy as np

from actor_mimic.errors import UserError

CHECKSUM_DTYPE = np.uint32
CHECKSUM_CHUNK = 256  # checksums per chunk of a checksum array: a 1 KB file
# Schema 1: a missing chunk of these is damage (they cannot hold only zeros).
NEVER_ALL_ZERO = ("frames", "q_values", "hidden", "episode_lengths")


def crc32c(data: bytes) -> int:
    return int(google_crc32c.value(data))


def checksum_name(name: str) -> str:
    """`frames` -> `checksums/frames`; `lanes/0/frames` -> `lanes/0/checksums/frames`."""
    head, _, tail = name.rpartition("/")
    return f"{head}/checksums/{tail}" if head else f"checksums/{tail}"


class DamagedChunk(UserError):
    """A chunk that is missing, does not match its checksum, or cannot be read or decoded."""


class ChunkGuard:
    """Checks the stored bytes of one array's chunks before anyone decodes them.

    store, name: for messages. chunk_len: rows per chunk. checksums: uint32 (n_chunks,) as
    recorded, or None for a schema 1 store (then only `missing_is_damage` is checked).
    """

    def __init__(self, store: Path | str, name: str, chunk_len: int, checksums: np.ndarray | None):
        self.store = store
        self.name = name
        self.chunk_len = chunk_len
        self.checksums = checksums
        self.missing_is_damage = checksums is not None or name.rpartition("/")[2] in NEVER_ALL_ZERO

    def where(self, index: int) -> str:
        start = index * self.chunk_len
        return f"chunk {index} of {self.name} (rows {start}..{start + self.chunk_len - 1})"

    def problem(self, index: int, data: bytes | None) -> str | None:
        """What is wrong with chunk `index`, whose stored bytes are `data` (None: no chunk)."""
        if data is None:
            return f"{self.where(index)} is missing" if self.missing_is_damage else None
        if self.checksums is None:
            return None
        if index >= len(self.checksums):
            return f"{self.where(index)} has no recorded checksum"
        if crc32c(data) != int(self.checksums[index]):
            return f"{self.where(index)} does not match its checksum: its bytes were changed after writing"
        return None

    def check(self, index: int, data: bytes | None) -> None:
        """Raise DamagedChunk if chunk `index` is missing or corrupt."""
        problem = self.problem(index, data)
        if problem is not None:
            raise self.damaged(problem)

    def damaged(self, problem: str) -> DamagedChunk:
        return DamagedChunk(
            f"{self.store}: {problem}; the store is damaged: `amn dataset verify` lists every "
            "bad chunk; re-download or recollect it"
        )


def read_checksums(backend, name: str, num_chunks: int, schema_version: int) -> np.ndarray | None:
    """The recorded checksums of the first `num_chunks` chunks of `name` (None before schema 2)."""
    if schema_version < 2:
        return None
    label = checksum_name(name)
    if not backend.has_array(label):
        raise UserError(f"{backend.path}: the checksum array {label} is missing; the store is damaged")
    array = backend.array(label)
    if array.ndim != 1 or np.dtype(array.dtype) != CHECKSUM_DTYPE or array.shape[0] < num_chunks:
        raise UserError(
            f"{backend.path}: {label} holds {array.shape[0]} {np.dtype(array.dtype)} values, not the "
            f"{num_chunks} uint32 checksums of {name}'s chunks; the store is damaged"
        )
    return np.asarray(array[:num_chunks], dtype=CHECKSUM_DTYPE)


def chunks_of(rows: int, chunk_len: int) -> int:
    """How many chunks hold `rows` rows."""
    return -(-rows // chunk_len)


def create_checksums(backend, name: str) -> None:
    """The empty checksum array of array `name` (CRCs do not compress: stored raw)."""
    backend.create_array(checksum_name(name), (), CHECKSUM_DTYPE, CHECKSUM_CHUNK, ("none", None))


def record_checksums(backend, name: str, first: int, last: int) -> None:
    """Record the checksums of chunks first..last-1 of `name`, as written just now."""
    label = checksum_name(name)
    values = []
    for index in range(first, last):
        data = backend.read_chunk(name, index)
        if data is None:
            raise RuntimeError(f"chunk {index} of {name} was written but has no stored bytes")
        values.append(crc32c(data))
    if backend.array(label).shape[0] < last:
        backend.resize(label, last)
    backend.array(label)[first:last] = np.array(values, dtype=CHECKSUM_DTYPE)


def chunk_runs(rows: np.ndarray, chunk_len: int):
    """(chunk index, low, high) for each chunk that sorted `rows` (N,) lie in: rows[low:high]
    are the ones in that chunk."""
    chunk_of = rows // chunk_len
    bounds = np.flatnonzero(np.diff(chunk_of)) + 1
    lows, highs = np.concatenate([[0], bounds]), np.concatenate([bounds, [len(rows)]])
    return [(int(chunk_of[low]), int(low), int(high)) for low, high in zip(lows, highs) if high > low]


def copy_rows(out: np.ndarray, rows: np.ndarray) -> None:
    """out[...] = rows, converting float16 to float32 with torch (numpy converts float16
    one element at a time in software; see datasets/shard.py's as_float32)."""
    if out.dtype == rows.dtype or rows.dtype.kind != "f" or out.dtype.kind != "f":
        out[...] = rows
    else:
        import torch

        torch.from_numpy(out).copy_(torch.from_numpy(np.ascontiguousarray(rows)))


class CheckedRows:
    """Reads rows of array `name` of `backend` through the engine's own slicing, each chunk's
    stored bytes checked by `guard` first (`read_checked`): the reader of any layout the fast
    Zarr chunk reader does not handle, and of every HDF5 store."""

    def __init__(self, backend, name: str, guard: ChunkGuard):
        self.backend, self.name, self.guard = backend, name, guard

    def read(self, start: int, stop: int) -> np.ndarray:
        return read_checked(self.backend, self.name, start, stop, self.guard.checksums, store=self.guard.store)

    def read_into(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        out[...] = self.read(start, stop)
        return out

    def take(self, rows: np.ndarray, dtype=None, out: np.ndarray | None = None) -> np.ndarray:
        """The rows at `rows` (sorted int64 (N,) inside the array), as `dtype` (default the
        stored one): one checked read per run of adjacent chunks they lie in. `out`: an
        (N, ...) array to write them into instead (its dtype wins)."""
        array = self.backend.array(self.name)
        if out is None:
            out = np.empty((len(rows), *array.shape[1:]), dtype=dtype or array.dtype)
        chunk_len = int(array.chunks[0])
        chunks = [index for index, _, _ in chunk_runs(rows, chunk_len)]
        for run in np.split(np.asarray(chunks), np.flatnonzero(np.diff(chunks) > 1) + 1) if chunks else []:
            low, high = int(run[0]) * chunk_len, min((int(run[-1]) + 1) * chunk_len, int(rows[-1]) + 1)
            first, last = np.searchsorted(rows, [low, high])
            copy_rows(out[first:last], self.read(low, high)[rows[first:last] - low])
        return out


def read_checked(backend, name: str, start: int, stop: int, checksums: np.ndarray | None, store=None) -> np.ndarray:
    """Rows start..stop-1 of `name`, after checking the stored bytes of every chunk they lie
    in against `checksums` (uint32 (n,), from chunk 0; None for a schema 1 store). Raises
    DamagedChunk naming the chunk; the engine decodes only bytes that passed."""
    chunk_len = int(backend.array(name).chunks[0])
    guard = ChunkGuard(store or backend.path, name, chunk_len, checksums)
    for index in range(start // chunk_len, chunks_of(stop, chunk_len)):
        try:
            data = backend.read_chunk(name, index)
        except (OSError, RuntimeError, ValueError) as error:
            raise guard.damaged(f"{guard.where(index)} cannot be read ({error})") from None
        guard.check(index, data)
    try:
        return np.asarray(backend.array(name)[start:stop])
    except Exception as error:  # noqa: BLE001 (any codec complaint about these bytes)
        raise guard.damaged(f"rows {start}..{stop - 1} of {name} cannot be decoded ({error})") from None

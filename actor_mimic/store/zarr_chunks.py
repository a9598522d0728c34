"""Whole-chunk reads of Zarr v3 arrays, decoded straight into the caller's array.

zarr-python 3 returns a run of whole chunks several times slower than its own codecs decode
them (here: 46k frames/s through `array[a:b]` against 317k frames/s decoding the same chunk
files with numcodecs; known v3 slowdowns, zarr-python#2710). The loader reads nothing but
runs of whole chunks, so for the layout `StoreWriter` writes (a directory store, local or
remote, regular chunks along the first axis only, default chunk keys, an optional transpose of a 2-D
chunk (the unit-major activations, store/backends.py), little-endian bytes, then at most one
of zstd / blosc / gzip) it reads the chunk files itself and decodes them with numcodecs, the
codecs zarr itself uses. For any other layout `ChunkFiles.for_array` returns
None and callers slice the zarr array as usual.

It reaches into zarr-python's internals (array metadata, store classes, chunk key encoding),
so it lives behind the storage backend: `ZarrBackend.row_reader` (store/backends.py) is the
one place that uses it, and tests/datasets/test_zarr_chunks.py checks it against the pinned
zarr, array by array.

The chunk bytes come from a byte source (store/location.py): a local folder, read
file by file exactly as before, or a remote store through fsspec, one request per chunk
(only the chunks a read needs).

Every chunk's bytes go through a `ChunkGuard` before they are decoded: a chunk that is
missing, or whose bytes do not match the checksum recorded when it was written, raises
`DamagedChunk` naming the store, the array and the chunk. (Zarr itself would serve a missing
chunk as zeros.) Only in a schema 1 store, which has no checksums and whose writer skipped
all-zero chunks, does a missing chunk of a flag or counter array read as zeros.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from actor_mimic.store.checksums import ChunkGuard, chunk_runs, copy_rows
from actor_mimic.store.location import LocalFiles


def _decoder(codecs, chunk_shape=None):
    """A decoder for zarr v3 codecs [transpose?, bytes, <one compressor>?] of chunks of
    `chunk_shape`, else None: "raw", or an object with `decode(data, out)`, `out` the flat
    uint8 view of a C-contiguous chunk."""
    import numcodecs
    from zarr.codecs import BloscCodec, BytesCodec, GzipCodec, TransposeCodec, ZstdCodec

    codecs = list(codecs or ())
    if codecs and isinstance(codecs[0], TransposeCodec):
        if chunk_shape is None or len(chunk_shape) != 2 or tuple(codecs[0].order) != (1, 0):
            return None
        inner = _decoder(codecs[1:])
        return None if inner is None else TransposedChunks(inner, tuple(chunk_shape))

    if not codecs or not isinstance(codecs[0], BytesCodec) or len(codecs) > 2:
        return None
    endian = getattr(codecs[0].endian, "value", codecs[0].endian)
    if endian not in (None, "little"):
        return None
    if len(codecs) == 1:
        return "raw"
    compressor = codecs[1]
    if isinstance(compressor, ZstdCodec):
        return numcodecs.Zstd()
    if isinstance(compressor, BloscCodec):
        return numcodecs.Blosc()  # the blosc header says how the chunk was compressed
    if isinstance(compressor, GzipCodec):
        return numcodecs.GZip()
    return None


class TransposedChunks:
    """Decodes a chunk stored transposed ((cols, rows) on disk) into its (rows, cols) place."""

    def __init__(self, inner, chunk_shape: tuple[int, int]):
        self.inner = inner  # "raw" or a numcodecs codec
        self.rows, self.cols = chunk_shape

    def columns(self, data: bytes, dtype: np.dtype) -> np.ndarray:
        """The chunk as stored: (cols, rows) of `dtype`."""
        columns = np.empty((self.cols, self.rows), dtype=dtype)
        if isinstance(self.inner, str):  # "raw"
            columns.reshape(-1).view(np.uint8)[:] = np.frombuffer(data, dtype=np.uint8)
        else:
            self.inner.decode(data, out=columns.reshape(-1).view(np.uint8))
        return columns

    def decode(self, data: bytes, out: np.ndarray) -> None:
        import torch

        itemsize = out.size // (self.rows * self.cols)
        unit = np.dtype(f"i{itemsize}")  # values are moved, not interpreted
        columns = self.columns(data, unit)
        # torch transposes a 512 x 1024 chunk several times faster than numpy's copy.
        rows = out.view(unit).reshape(self.rows, self.cols)
        torch.from_numpy(rows).copy_(torch.from_numpy(columns).T)


class ChunkFiles:
    """Reads rows of one Zarr array by decoding its chunk files directly."""

    def __init__(self, files, prefix: str, metadata, dtype: np.dtype, shape: tuple, decoder, guard: ChunkGuard):
        self.files = files  # the store's byte source
        self.prefix = prefix  # the array's key inside the store, with a trailing '/'
        self.guard = guard
        self.metadata = metadata
        self.dtype = np.dtype(dtype).newbyteorder("<")
        self.chunk_len = int(metadata.chunk_grid.chunk_shape[0])
        self.tail = tuple(shape[1:])
        self.fill_value = metadata.fill_value
        self.decoder = decoder
        # Decoded chunks kept for `take` (most recently used last); 0: none. Read-ahead
        # threads of several games' streams may share this reader: hence the lock.
        self.cache_chunks = 0
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def for_array(cls, array, guard: ChunkGuard, files=None) -> ChunkFiles | None:
        """A fast reader for `array` whose chunks `guard` checks, or None when its layout is
        not the one handled here. `files`: the store's byte source (store/location.py);
        None for a local store's folder."""
        try:
            from zarr.core.chunk_grids import RegularChunkGrid
            from zarr.core.metadata import ArrayV3Metadata
            from zarr.storage import FsspecStore, LocalStore

            metadata = array.metadata
            store = array.store_path.store
            if not isinstance(metadata, ArrayV3Metadata) or not isinstance(store, (LocalStore, FsspecStore)):
                return None
            if files is None:
                if not isinstance(store, LocalStore):
                    return None
                files = LocalFiles(store.root)
            if not isinstance(metadata.chunk_grid, RegularChunkGrid):
                return None
            if tuple(metadata.chunk_grid.chunk_shape[1:]) != tuple(array.shape[1:]):
                return None
            decoder = _decoder(metadata.codecs, metadata.chunk_grid.chunk_shape)
            if decoder is None or np.dtype(array.dtype).hasobject:
                return None
            prefix = f"{array.store_path.path}/" if array.store_path.path else ""
            return cls(files, prefix, metadata, array.dtype, array.shape, decoder, guard)
        except (ImportError, AttributeError):  # another zarr-python layout of its internals
            return None

    def _chunk_key(self, index: int) -> str:
        return self.prefix + self.metadata.chunk_key_encoding.encode_chunk_key((index,) + (0,) * len(self.tail))

    def _chunk_bytes(self, index: int) -> bytes | None:
        """The stored bytes of chunk `index`, checked by the guard (None: no chunk, schema 1)."""
        try:
            data = self.files.read(self._chunk_key(index))
        except OSError as error:
            raise self.guard.damaged(f"{self.guard.where(index)} cannot be read ({error})") from None
        self.guard.check(index, data)
        return data

    def _decode_into(self, index: int, out: np.ndarray) -> None:
        """Decode chunk `index` (all chunk_len rows) into the C-contiguous array `out`."""
        data = self._chunk_bytes(index)
        if data is None:  # schema 1 only: its writer skipped chunks holding only the fill value
            out[...] = self.fill_value
            return
        target = out.reshape(-1).view(np.uint8)
        try:
            if isinstance(self.decoder, str):  # "raw"
                target[:] = np.frombuffer(data, dtype=np.uint8)
            else:
                self.decoder.decode(data, out=target)
        except Exception as error:  # noqa: BLE001 (any codec complaint about these bytes)
            raise self.guard.damaged(f"{self.guard.where(index)} cannot be decoded ({error})") from None

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop-1 (the caller keeps them inside the array's shape)."""
        return self.read_into(start, stop, np.empty((stop - start, *self.tail), dtype=self.dtype))

    def read_into(self, start: int, stop: int, out: np.ndarray) -> np.ndarray:
        """Rows start..stop-1 decoded into `out` (C-contiguous, of this array's dtype)."""
        first, last = start // self.chunk_len, (stop - 1) // self.chunk_len
        for index in range(first, last + 1):
            chunk_start = index * self.chunk_len
            low, high = max(start, chunk_start), min(stop, chunk_start + self.chunk_len)
            if low == chunk_start and high == chunk_start + self.chunk_len:
                self._decode_into(index, out[low - start : high - start])  # straight into place
            else:
                whole = np.empty((self.chunk_len, *self.tail), dtype=self.dtype)
                self._decode_into(index, whole)
                out[low - start : high - start] = whole[low - chunk_start : high - chunk_start]
        return out

    def take(self, rows: np.ndarray, dtype=None, out: np.ndarray | None = None) -> np.ndarray:
        """The rows at `rows` (sorted int64 (N,) inside the array), as `dtype` (default the
        stored one), decoding each chunk they lie in once, or taking it from the cache of
        the last `cache_chunks` chunks decoded here (the activations a block refers to lie in
        earlier chunks of their window: the loader keeps those of the windows it serves).
        `out`: an (N, ...) array to write them into instead (its dtype wins)."""
        if out is None:
            out = np.empty((len(rows), *self.tail), dtype=dtype or self.dtype)
        for index, low, high in chunk_runs(rows, self.chunk_len):
            chunk = self._decoded(index)
            first, last = int(rows[low]), int(rows[high - 1])
            base = index * self.chunk_len
            if last - first + 1 == high - low:  # a run of rows: a slice, no gather
                copy_rows(out[low:high], chunk[first - base : last - base + 1])
            else:
                copy_rows(out[low:high], chunk[rows[low:high] - base])
        return out

    def _decoded(self, index: int) -> np.ndarray:
        """Chunk `index` decoded, (chunk_len, *tail): from the cache, or decoded (and kept)."""
        with self._lock:
            chunk = self._cache.get(index)
            if chunk is not None:
                self._cache.move_to_end(index)
                return chunk
        chunk = np.empty((self.chunk_len, *self.tail), dtype=self.dtype)
        self._decode_into(index, chunk)
        if self.cache_chunks:
            with self._lock:
                self._cache[index] = chunk
                while len(self._cache) > self.cache_chunks:
                    self._cache.popitem(last=False)
        return chunk

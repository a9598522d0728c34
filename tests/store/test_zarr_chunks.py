"""The direct chunk-file reader returns exactly what zarr's own slicing returns, and checks
every chunk's bytes against the checksum recorded when it was written."""

import numpy as np
import pytest

from actor_mimic.store.backends import ZarrBackend, parse_compression
from actor_mimic.store.checksums import ChunkGuard, DamagedChunk, chunks_of, crc32c, read_checksums
from actor_mimic.store.zarr_chunks import ChunkFiles

RANGES = [(0, 64), (0, 700), (10, 20), (63, 65), (64, 192), (650, 700), (699, 700), (5, 5)]


def test_every_array_of_a_collected_store_reads_identically(breakout_zarr):
    backend = ZarrBackend(breakout_zarr, "r")
    for field in ("frames", "actions", "rewards", "terminated", "truncated", "lives", "q_values", "hidden"):
        name = "lanes/0/" + field
        array = backend.array(name)
        guard = ChunkGuard(breakout_zarr, name, 64, read_checksums(backend, name, chunks_of(700, 64), 2))
        fast = ChunkFiles.for_array(array, guard)
        assert fast is not None, f"{name}: the layout StoreWriter writes must take the fast path"
        for start, stop in RANGES:
            got, expected = fast.read(start, stop), array[start:stop]
            assert got.dtype == expected.dtype and np.array_equal(got, expected), (name, start, stop)


@pytest.mark.parametrize("compression", ["zstd", "lz4", "gzip", "none"])
def test_codecs_all_zero_chunks_and_missing_chunks(tmp_path, breakout_zarr, compression):
    frames = np.asarray(ZarrBackend(breakout_zarr, "r").array("lanes/0/frames")[:300])
    frames[64:128] = 0  # a chunk holding only the fill value: written all the same
    values = np.random.default_rng(0).normal(size=(300, 7)).astype(np.float16)
    backend = ZarrBackend(tmp_path / "a.zarr", "w")
    for name, data in (("frames", frames), ("values", values)):
        backend.create_array(name, data.shape[1:], data.dtype, 64, parse_compression(compression))
        backend.resize(name, len(data))
        backend.array(name)[:] = data
    assert (tmp_path / "a.zarr" / "frames" / "c" / "1" / "0" / "0").is_file()
    for name, data in (("frames", frames), ("values", values)):
        checksums = np.array([crc32c(backend.read_chunk(name, k)) for k in range(5)], dtype=np.uint32)
        fast = ChunkFiles.for_array(backend.array(name), ChunkGuard(tmp_path / "a.zarr", name, 64, checksums))
        assert fast is not None
        for start, stop in RANGES[:-3] + [(250, 300)]:
            stop = min(stop, 300)
            assert np.array_equal(fast.read(start, stop), data[start:stop]), (name, start, stop)

    backend.chunk_file("values", 1).unlink()
    checked = ChunkFiles.for_array(backend.array("values"), ChunkGuard("a.zarr", "values", 64, checksums))
    with pytest.raises(DamagedChunk, match=r"^a\.zarr: chunk 1 of values \(rows 64\.\.127\) is missing; "):
        checked.read(0, 100)
    # A schema 1 store (no checksums) skipped all-zero chunks: there a missing chunk of a
    # flag or counter array reads as zeros, one of frames / Q-values / activations is damage.
    old = ChunkFiles.for_array(backend.array("values"), ChunkGuard("a.zarr", "values", 64, None))
    assert np.array_equal(old.read(60, 70), np.concatenate([values[60:64], np.zeros((6, 7), np.float16)]))
    backend.chunk_file("frames", 1).unlink()
    old_frames = ChunkFiles.for_array(backend.array("frames"), ChunkGuard("a.zarr", "frames", 64, None))
    with pytest.raises(DamagedChunk, match="chunk 1 of frames .* is missing"):
        old_frames.read(0, 100)
    # Without checksums, a truncated chunk is still never data: the codec's complaint is named.
    cut = backend.chunk_file("frames", 2)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    with pytest.raises(DamagedChunk, match=r"chunk 2 of frames \(rows 128\.\.191\) cannot be decoded \("):
        old_frames.read(128, 130)

"""The direct chunk-file reader returns exactly what zarr's own slicing returns."""

import numpy as np
import pytest

from actor_mimic.common.store_backends import ZarrBackend, parse_compression
from actor_mimic.datasets.zarr_chunks import ChunkFiles

RANGES = [(0, 64), (0, 700), (10, 20), (63, 65), (64, 192), (650, 700), (699, 700), (5, 5)]


def test_every_array_of_a_collected_store_reads_identically(breakout_zarr):
    backend = ZarrBackend(breakout_zarr, "r")
    for name in ("frames", "actions", "rewards", "terminated", "truncated", "lives", "q_values", "hidden"):
        array = backend.array(name)
        fast = ChunkFiles.for_array(array)
        assert fast is not None, f"{name}: the layout StoreWriter writes must take the fast path"
        for start, stop in RANGES:
            got, expected = fast.read(start, stop), array[start:stop]
            assert got.dtype == expected.dtype and np.array_equal(got, expected), (name, start, stop)


@pytest.mark.parametrize("compression", ["zstd", "lz4", "gzip", "none"])
def test_codecs_and_never_written_chunks(tmp_path, breakout_zarr, compression):
    frames = np.asarray(ZarrBackend(breakout_zarr, "r").array("frames")[:300])
    frames[64:128] = 0  # a chunk holding only the fill value: zarr does not write its file
    values = np.random.default_rng(0).normal(size=(300, 7)).astype(np.float16)
    backend = ZarrBackend(tmp_path / "a.zarr", "w")
    for name, data in (("frames", frames), ("values", values)):
        backend.create_array(name, data.shape[1:], data.dtype, 64, parse_compression(compression))
        backend.resize(name, len(data))
        backend.array(name)[:] = data
    assert not (tmp_path / "a.zarr" / "frames" / "c" / "1" / "0" / "0").exists()
    for name, data in (("frames", frames), ("values", values)):
        fast = ChunkFiles.for_array(backend.array(name))
        assert fast is not None
        for start, stop in RANGES[:-3] + [(250, 300)]:
            stop = min(stop, 300)
            assert np.array_equal(fast.read(start, stop), data[start:stop]), (name, start, stop)

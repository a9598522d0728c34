"""Copying a complete store into a new one, chunk by checked chunk; writing it as one HDF5 file.

`copy_lanes` copies every lane's committed rows, array by array, from an open store into an
empty backend, each source chunk checked against its checksum on the way; the target records
the checksums of its own chunks (its codecs and chunking give other bytes). Two users:

- an HDF5 store is collected as a Zarr store and written as one HDF5 file when complete
  (`write_hdf5`, store.py says why);
- `amn dataset convert` rewrites a store in the other engine, or with another compression or
  chunk length (`actor_mimic.datasets.sharing.convert`).

`write_hdf5` writes under a temporary name (`X.h5.writing`) renamed into place when whole, so
`X.h5` is never half written: a kill during the copy leaves the complete Zarr store, which
`--resume` copies again.
"""

from __future__ import annotations

import os
from pathlib import Path

from actor_mimic.common.kill_points import kill_point
from actor_mimic.store.backends import HDF5Backend, parse_compression
from actor_mimic.store.checksums import (
    chunks_of,
    create_checksums,
    read_checked,
    read_checksums,
    record_checksums,
)
from actor_mimic.store.schema import lane_rows, stored_fields

WINDOW_STEPS = 8192  # rows copied at a time (rounded up to whole target chunks)


def copy_lanes(source, attrs: dict, target, target_attrs: dict) -> None:
    """Copy the committed rows of every lane of the store open in `source` (its checked
    document `attrs`, schema 2 or later) into the empty backend `target`, with the chunk length and
    compression of `target_attrs`, recording the target's checksums; then write
    `target_attrs` as the target's document. Rows are copied as stored: a schema 3 store's
    activation references stay valid under any chunk length (store/dedup.py)."""
    for prefix, rows in lane_rows(attrs):
        copy_lane(source, attrs, prefix, rows, target, prefix, target_attrs)
        kill_point("convert")
    target.write_attrs(target_attrs)
    target.flush()


def copy_lane(source, attrs: dict, prefix: str, rows: int, target, target_prefix: str, target_attrs: dict) -> None:
    """Copy the first `rows` rows of every array of the lane at `prefix` of `source` to new
    arrays at `target_prefix` of `target` (chunk length and compression of `target_attrs`),
    each source chunk checked against its checksum, and record the target's checksums."""
    codec = parse_compression(target_attrs["compression"])
    chunk_len = int(target_attrs["chunk_len"])
    window = chunk_len * chunks_of(WINDOW_STEPS, chunk_len)
    for name, (tail, dtype) in stored_fields(attrs).items():  # as stored: hidden_ref too
        full, copy = prefix + name, target_prefix + name
        target.create_array(copy, tail, dtype, chunk_len, codec, unit_major=name == "hidden")
        create_checksums(target, copy)
        target.resize(copy, rows)
        source_chunk = int(source.array(full).chunks[0])
        checksums = read_checksums(source, full, chunks_of(rows, source_chunk), attrs["schema_version"])
        for start in range(0, rows, window):
            stop = min(start + window, rows)
            target.array(copy)[start:stop] = read_checked(source, full, start, stop, checksums)
        target.flush()
        record_checksums(target, copy, 0, chunks_of(rows, target.array(copy).chunks[0]))


def write_hdf5(source, attrs: dict, out: Path, target_attrs: dict | None = None) -> None:
    """Write the complete store open in `source` as the HDF5 file `out` (its document
    `target_attrs`, by default `attrs` with the backend set to hdf5)."""
    target_attrs = {**attrs, "backend": "hdf5"} if target_attrs is None else target_attrs
    temporary = out.with_name(out.name + ".writing")
    temporary.unlink(missing_ok=True)  # left by a killed copy: this module's own file
    target = HDF5Backend(temporary, "w")
    try:
        copy_lanes(source, attrs, target, target_attrs)
        target.close()
    except BaseException:
        target.close()
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, out)

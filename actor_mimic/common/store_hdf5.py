"""Writing a completed store as one HDF5 file, atomically (store.py says why only then).

The rows are copied lane by lane and array by array from the Zarr store they were collected
in, each chunk checked against its checksum on the way; the HDF5 file records the checksums of
its own chunks (its compression gives other bytes). The file is written under a temporary
name (`X.h5.writing`) and renamed into place when whole, so `X.h5` is never half written: a
kill during the copy leaves the complete Zarr store, which `--resume` copies again.
"""

from __future__ import annotations

import os
from pathlib import Path

from actor_mimic.common.kill_points import kill_point
from actor_mimic.common.store_backends import HDF5Backend, parse_compression
from actor_mimic.common.store_checksums import (
    chunks_of,
    create_checksums,
    read_checked,
    read_checksums,
    record_checksums,
)
from actor_mimic.common.store_schema import lane_rows, screen_size_of, step_fields


def write_hdf5(source, attrs: dict, out: Path) -> None:
    """Write the complete store open in `source` (a Zarr backend) as the HDF5 file `out`."""
    temporary = out.with_name(out.name + ".writing")
    temporary.unlink(missing_ok=True)  # left by a killed copy: this module's own file
    target = HDF5Backend(temporary, "w")
    try:
        codec = parse_compression(attrs["compression"])
        chunk_len = int(attrs["chunk_len"])
        fields = step_fields(
            attrs["num_actions"], attrs["hidden_size"], screen_size_of(attrs), attrs["q_dtype"], attrs["hidden_dtype"]
        )
        for prefix, rows in lane_rows(attrs):
            for name, (tail, dtype) in fields.items():
                full = prefix + name
                target.create_array(full, tail, dtype, chunk_len, codec)
                create_checksums(target, full)
                target.resize(full, rows)
                checksums = read_checksums(source, full, chunks_of(rows, chunk_len), attrs["schema_version"])
                for start in range(0, rows, chunk_len):
                    stop = min(start + chunk_len, rows)
                    target.array(full)[start:stop] = read_checked(source, full, start, stop, checksums)
                target.flush()
                record_checksums(target, full, 0, chunks_of(rows, chunk_len))
            kill_point("convert")
        target.write_attrs({**attrs, "backend": "hdf5"})
        target.close()
    except BaseException:
        target.close()
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, out)

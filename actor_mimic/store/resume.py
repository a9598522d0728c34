"""Reopening a store a killed writer left, for `StoreWriter.resume` (writer.py).

A writer commits whole chunks only, and a kill leaves each file old or new (writer.py's
docstring). Before appending again: the document must be one a writer can go on with, every
unfinished lane must have committed whole chunks, and every array's last committed chunk must
match its checksum (a store damaged since, or by the kill, is named here). Rows and temporary
files past the commit were never committed: they are dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

from actor_mimic.errors import UserError
from actor_mimic.store.backends import ZarrBackend
from actor_mimic.store.checksums import ChunkGuard, checksum_name, chunks_of, read_checksums
from actor_mimic.store.reader import open_attrs, stored_path
from actor_mimic.store.schema import SCHEMA_VERSION, SOURCES_SCHEMA_VERSION, lane_rows, stored_fields


def open_for_resume(path: Path) -> tuple[ZarrBackend, dict]:
    """(backend open for appending, attribute document) of the interrupted store at `path`,
    checked, with what a killed writer left past the commit dropped. Raises UserError."""
    if not stored_path(path).exists():
        raise UserError(f"{path} does not exist: there is nothing to resume")
    backend, attrs = open_attrs(path, mode="a")
    try:
        if attrs["schema_version"] < 2:
            raise UserError(
                f"{path} was written by an older actor-mimic (store schema {attrs['schema_version']}) "
                "that cannot be resumed: read it as it is, or start again with --overwrite"
            )
        if attrs["schema_version"] >= SOURCES_SCHEMA_VERSION:
            raise UserError(
                f"{path} was merged from several collections (`amn dataset merge`): it is not resumed; "
                "resume the collections it was merged from, then merge them again"
            )
        if not isinstance(backend, ZarrBackend):  # an HDF5 file is only ever written whole
            raise UserError(f"{path} is complete: there is nothing to resume")
        check_tails(backend, attrs)
        drop_uncommitted(backend, attrs)
    except BaseException:
        backend.close()
        raise
    return backend, attrs


def check_tails(backend: ZarrBackend, attrs: dict) -> None:
    """Every unfinished lane committed whole chunks; every array's last committed chunk
    matches its checksum."""
    chunk_len = int(attrs["chunk_len"])
    for lane, (prefix, rows) in enumerate(lane_rows(attrs)):
        if not attrs["lanes"][lane]["complete"] and rows % chunk_len:
            raise UserError(
                f"{backend.path}: lane {lane} of an unfinished collection commits {rows} rows, not "
                f"whole chunks of {chunk_len}: the store is corrupt; start again with --overwrite"
            )
        if rows == 0:
            continue
        last = (rows - 1) // chunk_len
        for name in stored_fields(attrs):
            checksums = read_checksums(backend, prefix + name, last + 1, SCHEMA_VERSION)
            guard = ChunkGuard(backend.path, prefix + name, chunk_len, checksums)
            problem = guard.problem(last, backend.read_chunk(prefix + name, last))
            if problem is not None:
                raise UserError(
                    f"{backend.path}: {problem}, so it cannot be resumed; `amn dataset verify "
                    f"--allow-incomplete` lists all damage; start again with --overwrite"
                )


def drop_uncommitted(backend: ZarrBackend, attrs: dict) -> None:
    """Rows and files a killed writer left past the commit: never committed, so dropped."""
    chunk_len = int(attrs["chunk_len"])
    for prefix, rows in lane_rows(attrs):
        for name in stored_fields(attrs):
            if backend.array(prefix + name).shape[0] > rows:
                backend.resize(prefix + name, rows)
            label = checksum_name(prefix + name)
            if backend.array(label).shape[0] > chunks_of(rows, chunk_len):
                backend.resize(label, chunks_of(rows, chunk_len))
    # zarr writes FILE.<32 hex>.partial, then renames it
    for leftover in Path(backend.path).rglob("*.partial"):
        if leftover.is_file() and re.search(r"\.[0-9a-f]{32}\.partial$", leftover.name):
            leftover.unlink()

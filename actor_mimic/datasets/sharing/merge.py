"""`amn dataset merge OUT STORE STORE...`: several collections of one game as one store.

Shards of a collection, collections with other seeds, student-acts rounds of one expert:
every lane of every input becomes a lane of OUT, input after input, with identical values.
The inputs must agree on the game, its Atari settings, the expert and the labels' layout
(merge_document.py says what and why); each lane keeps its collection's provenance (schema 4,
`sources`), so the merged store still says which steps which behaviour policy took, in which
round, from which seed.

How a lane is copied: when the input is a Zarr store whose arrays are encoded exactly as the
output's (same chunk length, same codecs: the usual case, stores collected with the same
options), every committed chunk is copied byte for byte after checking it against its
checksum, and so are the checksums. Otherwise (an HDF5 input, another chunk length or
compression) the rows are decoded and written again (`copy_lane`, the code of `amn dataset
convert`) and the checksums are computed anew. The output takes the first input's chunk
length and compression.

Incomplete inputs (interrupted collections) are refused unless `allow_incomplete`; then their
committed rows are copied, as they are, and the merged store is complete: nothing is ever
appended to it (an unfinished episode at a lane's end stays unserved, as in its source).

The output follows the rules of every output (common/outputs.py): checked first, an existing
teacher store replaced only with `overwrite`, written as OUT.partial (a Zarr OUT) or through a
temporary Zarr store and OUT.writing (an HDF5 OUT), renamed into place when whole. Then its
card is written.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from actor_mimic.common.outputs import Output, atomic_output, check_output, make_parents, remove, remove_created, shown
from actor_mimic.datasets.sharing.convert import is_teacher_store
from actor_mimic.datasets.sharing.merge_document import check_mergeable, merged_document, source_lanes
from actor_mimic.errors import UserError
from actor_mimic.store import (
    ChunkGuard,
    ZarrBackend,
    backend_by_name,
    checksum_name,
    chunks_of,
    copy_lane,
    create_checksums,
    lane_prefix,
    lane_rows,
    open_store,
    parse_compression,
    partial_path,
    read_checksums,
    refresh_card,
    store_digest,
    stored_fields,
    write_hdf5,
)


def merge(out: str | Path, inputs: list, allow_incomplete: bool = False, overwrite: bool = False) -> Path:
    """Write the lanes of the stores `inputs` (two or more) as one store at `out` (HDF5 for a
    .h5/.hdf5 name, else Zarr). Returns the path written."""
    engine = backend_by_name(out)
    what = Output("teacher store", flag="OUT", folder=engine == "zarr", is_ours=is_teacher_store)
    out = check_output(out, what, replace=overwrite)
    paths = [Path(path) for path in inputs]
    if len(paths) < 2:
        raise UserError("merge needs two stores or more: OUT STORE STORE...")
    _check_paths(out, paths, engine)
    with contextlib.ExitStack() as closing:
        opened = [closing.enter_context(open_store(path, allow_incomplete=allow_incomplete)) for path in paths]
        stores = [(path, info.attrs) for path, (_, info) in zip(paths, opened)]
        check_mergeable(stores)
        lanes = source_lanes(stores)
        attrs = merged_document(stores, lanes, [path.name for path in paths])
        # The merged store's digest is its own (new chunks, a new document); it names its inputs'.
        attrs["merged"]["input_digests"] = [store_digest(backend, info.attrs) for backend, info in opened]
        sources = [(backend, info.attrs) for backend, info in opened]
        if engine == "zarr":
            with atomic_output(out) as temporary:
                _write_lanes(sources, ZarrBackend(temporary, "w"), attrs)
        else:
            _write_hdf5(sources, out, attrs)
    refresh_card(out)
    return out


def _check_paths(out: Path, paths: list[Path], engine: str) -> None:
    """No input twice, and OUT neither an input nor inside one (it is read while OUT is written)."""
    resolved = [path.resolve() for path in paths]
    for index, path in enumerate(resolved):
        if path in resolved[:index]:
            raise UserError(f"{shown(paths[index])} is given twice: each store is merged once")
        if out.resolve() == path or out.resolve().is_relative_to(path):
            raise UserError(
                f"OUT {shown(out)} is the input {shown(paths[index])} or lies inside it: choose another path"
            )
    if engine == "hdf5" and partial_path(out).exists():
        raise UserError(
            f"{shown(partial_path(out))} holds the collection in progress of {shown(out)}: "
            "finish it with `amn collect --resume` or choose another OUT"
        )


def _write_hdf5(sources: list, out: Path, attrs: dict) -> None:
    """An HDF5 store is written whole from a complete Zarr store (store.py says why): merge
    into a temporary Zarr store beside OUT, then write it as OUT.writing, renamed to OUT."""
    created = make_parents(out.parent)
    folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.merging-", dir=out.parent))
    try:
        merged = ZarrBackend(folder / "merged.zarr", "w")
        _write_lanes(sources, merged, attrs)
        write_hdf5(merged, attrs, out, {**attrs, "backend": "hdf5"})
    except BaseException:
        remove_created(created)
        raise
    finally:
        remove(folder)


def _write_lanes(sources: list, target, attrs: dict) -> None:
    """Copy every committed lane of every source (backend, document) into the empty Zarr
    backend `target`, in order, then write the merged document `attrs`."""
    lane = 0
    for backend, source_attrs in sources:
        byte_copy = _same_encoding(backend, source_attrs, lane_rows(source_attrs)[0][0], target, attrs)
        for prefix, rows in lane_rows(source_attrs):
            target_prefix = lane_prefix(lane)
            if byte_copy:
                _copy_chunks(backend, source_attrs, prefix, rows, target, target_prefix, attrs)
            else:
                copy_lane(backend, source_attrs, prefix, rows, target, target_prefix, attrs)
            lane += 1
    target.write_attrs(attrs)


def _same_encoding(source, source_attrs: dict, prefix: str, target, attrs: dict) -> bool:
    """Are the stored chunks of the lane at `prefix` (and its store's others) exactly what the
    output would store for the same rows?
    Only between Zarr stores whose chunk length and compression agree; then the arrays'
    whole Zarr metadata (chunking, codecs and their settings) is compared, after creating
    the output's first array to compare with (a store written by another zarr version may
    record its codecs otherwise: then the rows are copied by value)."""
    if source.name != "zarr" or (source_attrs["chunk_len"], source_attrs["compression"]) != (
        attrs["chunk_len"], attrs["compression"]
    ):  # fmt: skip
        return False
    folder = Path(tempfile.mkdtemp(prefix=".probe-", dir=target.path.parent))
    probe = ZarrBackend(folder, "w")
    try:
        codec = parse_compression(attrs["compression"])
        for name, (tail, dtype) in stored_fields(attrs).items():
            probe.create_array(name, tail, dtype, attrs["chunk_len"], codec, unit_major=name == "hidden")
            if _encoding(probe.group[name]) != _encoding(source.group[prefix + name]):
                return False
        return True
    finally:
        remove(folder)


def _encoding(array) -> dict:
    """An array's Zarr metadata without what a copy changes (its length, its attributes)."""
    document = array.metadata.to_dict()
    return {key: value for key, value in document.items() if key not in ("shape", "attributes")}


def _copy_chunks(source, source_attrs: dict, prefix: str, rows: int, target, target_prefix: str, attrs: dict) -> None:
    """Copy the committed chunks of a lane's arrays byte for byte, each checked against its
    checksum first; the checksums carry over, since the bytes are the same."""
    codec = parse_compression(attrs["compression"])
    chunk_len = int(attrs["chunk_len"])
    count = chunks_of(rows, chunk_len)
    for name, (tail, dtype) in stored_fields(attrs).items():
        full, copy = prefix + name, target_prefix + name
        checksums = read_checksums(source, full, count, source_attrs["schema_version"])
        guard = ChunkGuard(source.path, full, chunk_len, checksums)
        target.create_array(copy, tail, dtype, chunk_len, codec, unit_major=name == "hidden")
        create_checksums(target, copy)
        target.resize(copy, rows)
        for index in range(count):
            data = source.read_chunk(full, index)
            guard.check(index, data)
            chunk_file = target.chunk_file(copy, index)
            chunk_file.parent.mkdir(parents=True, exist_ok=True)
            chunk_file.write_bytes(data)
        target.resize(checksum_name(copy), count)
        target.array(checksum_name(copy))[:count] = checksums

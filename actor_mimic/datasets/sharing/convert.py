"""`amn dataset convert`: a complete teacher store rewritten in the other engine (Zarr <-> HDF5),
or with another compression or chunk length, value for value.

The rows are copied lane by lane with `copy_lanes` (store/hdf5.py, the code that writes
every HDF5 store at the end of its collection): each source chunk is checked against its
checksum before it is used, and the target records the checksums of its own chunks, so the
result passes `amn dataset verify`. The attribute document is carried over whole (provenance,
lanes, segments, cut episodes, versions of the collection) with the target's engine, chunk
length and compression, and a `converted_from` record. Then the card is regenerated.

The output follows the rules of every output (common/outputs.py): checked before anything is
read, an existing store replaced only with `--overwrite` and only if it is a teacher store,
written under a temporary name and renamed into place when whole: a conversion that fails or
is killed leaves no half-written store. Only complete stores of schema 2 or later are converted.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from actor_mimic.common.outputs import Output, atomic_output, check_output, make_parents, remove_created, shown
from actor_mimic.common.versions import installed_version
from actor_mimic.errors import UserError
from actor_mimic.store import (
    MAX_CHUNK_LEN,
    SCHEMA,
    ZarrBackend,
    backend_by_name,
    copy_lanes,
    open_backend,
    open_store,
    parse_compression,
    partial_path,
    refresh_card,
    store_digest,
    write_hdf5,
)


def convert(
    source: str | Path,
    target: str | Path,
    compression: str | None = None,
    chunk_len: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the complete store `source` again at `target` (engine from its suffix: .h5/.hdf5
    for HDF5, anything else Zarr). Compression and chunk length default to the source's."""
    source = Path(source)
    engine = backend_by_name(target)
    what = Output("teacher store", flag="TARGET", folder=engine == "zarr", is_ours=is_teacher_store)
    target = check_output(target, what, replace=overwrite)
    if compression is not None:
        parse_compression(compression)
    if chunk_len is not None and not 1 <= chunk_len <= MAX_CHUNK_LEN:
        raise UserError(f"--chunk-len must lie in 1..{MAX_CHUNK_LEN}, got {chunk_len}")
    if target.resolve() == source.resolve() or target.resolve().is_relative_to(source.resolve()):
        raise UserError(f"TARGET {shown(target)} is the source store or lies inside it: choose another path")
    if engine == "hdf5" and partial_path(target).exists():
        raise UserError(
            f"{shown(partial_path(target))} holds the collection in progress of {shown(target)}: "
            "finish it with `amn collect --resume` or choose another TARGET"
        )
    with open_store(source) as (backend, info):
        attrs = info.attrs
        if attrs["schema_version"] < 2:
            raise UserError(
                f"{source} uses store schema {attrs['schema_version']} (written before lanes): convert reads "
                "schema 2 stores; recollect it with this actor-mimic"
            )
        window = attrs.get("hidden_window") if attrs["schema_version"] >= 3 else None
        if chunk_len is not None and window and window % chunk_len:
            raise UserError(
                f"--chunk-len {chunk_len} does not divide {source}'s activation window of {window} steps: "
                "choose a divisor of it (chunks never straddle a window)"
            )
        target_attrs = {
            **attrs,
            "backend": engine,
            "chunk_len": int(chunk_len or attrs["chunk_len"]),
            "compression": compression or attrs["compression"],
            "converted_from": {
                "name": source.name,
                "backend": info.backend,
                "chunk_len": attrs["chunk_len"],
                "compression": attrs["compression"],
                "digest": store_digest(backend, attrs),  # the same rows as other bytes: another digest
                "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "actor_mimic": installed_version("actor-mimic"),
            },
        }
        if engine == "zarr":
            with atomic_output(target) as temporary:
                copy_lanes(backend, attrs, ZarrBackend(temporary, "w"), target_attrs)
        else:
            created = make_parents(target.parent)
            try:
                write_hdf5(backend, attrs, target, target_attrs)
            except BaseException:
                remove_created(created)
                raise
    refresh_card(target)
    return target


def is_teacher_store(path: Path) -> bool:
    """True if `path` holds a teacher store's attribute document (then --overwrite may replace it)."""
    try:
        backend = open_backend(path, "r")
    except UserError:
        return False
    try:
        attrs = backend.read_attrs()
    except Exception:  # noqa: BLE001 - unreadable: not something we know to be ours
        attrs = None
    finally:
        backend.close()
    return isinstance(attrs, dict) and attrs.get("schema") == SCHEMA

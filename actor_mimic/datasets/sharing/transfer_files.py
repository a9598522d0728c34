"""What `amn dataset push` and `pull` share: the names they may write, how they write one
file, their progress bar, and the store they move.

Names. Every file name a transfer writes is checked by `safe_key` first: relative, '/'-separated,
no empty, `.` or `..` part, no backslash, no drive letter, printable; so a remote store cannot
make a pull write outside its folder, whatever its metadata or listing says (the names are
computed from the metadata, store/files.py, and checked anyway). Nothing is unpickled:
stores are JSON metadata and raw chunk bytes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from actor_mimic.errors import UserError
from actor_mimic.store import SCHEMA, StoreFile, backend_by_name, open_attrs

TEMPORARY = ".download"  # a file being written, renamed into place when whole
_DRIVE = re.compile(r"^[A-Za-z]:")


def safe_key(key: str, where: str) -> str:
    """`key` if it names a file inside the store's folder; else UserError naming it."""
    parts = key.split("/")
    if (
        not key
        or not key.isprintable()
        or "\\" in key
        or key.startswith("/")
        or _DRIVE.match(key)
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise UserError(
            f"{where}: refusing the file name {key!r}: it would be written outside the store's folder "
            "(absolute, '..', a backslash or an empty part); the remote store is malformed or hostile"
        )
    return key


def store_name(url: str) -> str:
    """The last part of a URL's path: the store's name (`.../breakout.zarr` -> breakout.zarr)."""
    path = url.split("://", 1)[-1].rstrip("/")
    return safe_key(path.rsplit("/", 1)[-1], url)


def write_file(path: Path, data: bytes) -> None:
    """Write `data` at `path` whole or not at all (a sibling, renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + TEMPORARY)
    temporary.write_bytes(data)
    os.replace(temporary, path)


def is_hdf5_name(name: str) -> bool:
    return backend_by_name(name) == "hdf5"


def complete_store(location, what: str):
    """(backend, attrs) of a complete teacher store of schema 2 or later, or UserError."""
    backend, attrs = open_attrs(location)
    if not attrs.get("complete"):
        backend.close()
        raise UserError(
            f"{what} {location} is incomplete: finish its collection (`amn collect ... --resume`) before sharing it"
        )
    if attrs["schema_version"] < 2:
        backend.close()
        raise UserError(
            f"{what} {location} uses store schema {attrs['schema_version']} (no checksums): convert or recollect it"
        )
    return backend, attrs


def is_teacher_document(data: bytes | None) -> bool:
    """True if `data` is the root zarr.json of a teacher store."""
    import json

    try:
        document = json.loads(data) if data else None
    except ValueError:
        return False
    attrs = (document or {}).get("attributes", {}).get("actor_mimic") if isinstance(document, dict) else None
    return isinstance(attrs, dict) and attrs.get("schema") == SCHEMA


def progress_bar(total: int, description: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="file", disable=not enabled, leave=False)


def checked_keys(files: list[StoreFile], where: str) -> list[StoreFile]:
    for file in files:
        safe_key(file.key, where)
    return files

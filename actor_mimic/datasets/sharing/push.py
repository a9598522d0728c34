"""`amn dataset push STORE URL`: upload a complete teacher store to any filesystem fsspec
writes (hf://datasets/..., s3://, gs://, file://, memory://), then check the copy.

In order:
1. the local store is verified whole (`amn dataset verify`: schema, every chunk's CRC-32C,
   every row); a damaged store is never shared;
2. the remote side is checked: nothing there, an interrupted push of this store (files of
   this store only, no root `zarr.json`), this very store (a re-run: nothing to upload), or
   another teacher store, replaced only with `--overwrite`. Anything else is refused;
3. the files are uploaded, the root `zarr.json` last, so an interrupted push never looks like
   a store. A remote file of the right size is read back and kept if its bytes are right (a
   chunk: its recorded CRC-32C; other files: equal bytes), so re-running continues;
4. the copy is checked: one listing gives every remote file's size, and the small files
   (metadata, checksum chunks, card) are read back and compared byte for byte.

With `--overwrite`, the files the replaced store's own metadata names and this store does not
are deleted, after the new store is in place: nothing else on the remote side is touched.
An HDF5 store is its file plus its card sibling (`NAME.h5.README.md`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import cast

from actor_mimic.common.outputs import shown
from actor_mimic.datasets.inspection import verify_store
from actor_mimic.datasets.sharing.transfer_files import (
    checked_keys,
    complete_store,
    is_hdf5_name,
    is_teacher_document,
    progress_bar,
)
from actor_mimic.errors import UserError
from actor_mimic.store import (
    CARD_NAME,
    ROOT_METADATA,
    SCHEMA,
    RemoteFiles,
    ZarrBackend,
    card_path,
    crc32c,
    is_remote,
    location,
    open_url,
    recorded_checksums,
    store_files,
)

SMALL = 64 << 10  # files up to this size are read back after uploading and compared whole
HOST_FILES = {".gitattributes"}  # a Hub repository always has it: not a foreign file


def push(store, url: str, overwrite: bool = False, progress: bool = True) -> tuple[int, int]:
    """Upload the store at `store` to `url`. Returns (files uploaded, files already there)."""
    url = str(url).rstrip("/")
    if not is_remote(url) and not str(url).startswith("file://"):
        raise UserError(f"URL {shown(url)} is not a URL: give hf://, s3://, gs://, file://... (cp copies local stores)")
    if url.startswith(("http://", "https://")):
        raise UserError(
            f"{url}: http(s) URLs are read-only (pull, info, verify, training); push to hf://, s3:// or gs://"
        )
    open_url(url)  # an unknown protocol or a missing package, before anything is read
    store = location(store)
    if is_hdf5_name(str(store)) != is_hdf5_name(url):
        raise UserError(
            f"{url}: an {'HDF5' if is_hdf5_name(str(store)) else 'Zarr'} store keeps its suffix: "
            f"name the URL like {store.name}"
        )
    backend, _attrs = complete_store(store, "teacher store")
    backend.close()
    problems = verify_store(store)
    if problems:
        raise UserError(
            f"{store}: {problems[0]}; fix the store before sharing it (`amn dataset verify` lists every problem)"
        )
    if is_hdf5_name(str(store)):
        return _push_hdf5(Path(store), url, overwrite, progress)
    return _push_zarr(store, url, overwrite, progress)


def _push_zarr(store: Path, url: str, overwrite: bool, progress: bool) -> tuple[int, int]:
    local = ZarrBackend(store, "r")
    files = checked_keys(store_files(local, cast(dict, local.read_attrs())), str(store))  # verified above
    checksums = recorded_checksums(local, files)
    remote = RemoteFiles(url)
    replaced = _replaced_files(remote, local, files, url, overwrite)
    present = _remote_sizes(remote)
    uploaded = kept = 0
    if replaced is not None:  # the old store stops being a store before its files change
        remote.fs.rm_file(remote.path(ROOT_METADATA))
        present.pop(ROOT_METADATA, None)
    body, root = files[:-1], files[-1]  # the root document goes last, once the rest is checked
    with progress_bar(len(files), f"push {store.name}", progress) as bar:
        for file in body:
            data = cast(bytes, local.files.read(file.key))  # store_files listed it
            expected = int(checksums[file.array][file.index]) if file.array else None
            if present.get(file.key) == len(data) and _intact(remote, file.key, data, expected):
                kept += 1
            else:
                _upload(remote, file.key, data)
                uploaded += 1
            bar.update()
        _check_copy(local, remote, body, url)
        if remote.read(root.key) == local.files.read(root.key):
            kept += 1
        else:
            _upload(remote, root.key, cast(bytes, local.files.read(root.key)))
            uploaded += 1
        _check_copy(local, remote, [root], url)
        bar.update()
    for key in sorted(set(replaced or ()) - {f.key for f in files}):
        remote.fs.rm_file(remote.path(key))  # named by the replaced store's own metadata
    return uploaded, kept


def _replaced_files(remote: RemoteFiles, local, files, url: str, overwrite: bool) -> list[str] | None:
    """What is at `url` now. None: nothing, this store, or its interrupted push (go on); the
    file keys of another teacher store that `overwrite` replaces. Anything else: UserError."""
    root = remote.read(ROOT_METADATA)
    if root is None:
        ours = {f.key for f in files} | {f"{f.key}.download" for f in files}
        foreign = sorted(set(_remote_sizes(remote)) - ours - HOST_FILES)
        if foreign:
            raise UserError(
                f"{url} holds files that are not part of this store (e.g. {foreign[0]}): choose an empty "
                "location, or the location of a teacher store to replace with --overwrite"
            )
        return None
    if root == local.files.read(ROOT_METADATA):
        return None  # this store: a re-run, or a push interrupted after its last step
    if not is_teacher_document(root):
        raise UserError(
            f"{url} exists and is not a teacher store written by actor-mimic: it is never replaced "
            "(--overwrite only replaces those); choose another URL"
        )
    if not overwrite:
        raise UserError(f"{url} already holds another teacher store: pass --overwrite to replace it")
    old = ZarrBackend(location(url), "r")
    return [f.key for f in store_files(old, cast(dict, old.read_attrs()))]  # a teacher store, checked above


def _remote_sizes(remote: RemoteFiles) -> dict[str, int]:
    """key -> size of every file under the URL (one listing; empty when nothing is there)."""
    try:
        found = remote.fs.find(remote.root, detail=True)
    except FileNotFoundError:
        return {}
    prefix = remote.root.rstrip("/") + "/"
    return {
        path[len(prefix):]: int(info.get("size") or 0)
        for path, info in found.items()
        if path.startswith(prefix) and info.get("type", "file") == "file"
    }  # fmt: skip


def _intact(remote: RemoteFiles, key: str, data: bytes, expected_crc: int | None) -> bool:
    """Is the remote file `key` (of the right size) already what we would upload?"""
    there = remote.read(key)
    if there is None:
        return False
    return crc32c(there) == expected_crc if expected_crc is not None else there == data


def _upload(remote: RemoteFiles, key: str, data: bytes) -> None:
    path = remote.path(key)
    parent = path.rsplit("/", 1)[0]
    with contextlib.suppress(OSError, NotImplementedError):
        remote.fs.makedirs(parent, exist_ok=True)  # object stores have no folders: a no-op there
    try:
        remote.fs.pipe_file(path, data)
    except PermissionError as error:
        raise UserError(
            f"{path}: not allowed to write there ({error}); log in (HF_TOKEN, AWS or gcloud credentials)"
        ) from None


def _check_copy(local, remote: RemoteFiles, files, url: str) -> None:
    sizes = _remote_sizes(remote)
    for file in files:
        data = local.files.read(file.key)
        if sizes.get(file.key) != len(data):
            raise UserError(
                f"{url}: after uploading, {file.key} holds {sizes.get(file.key)} bytes instead of {len(data)}; "
                "run the same push again"
            )
        if len(data) <= SMALL and file.array is None and remote.read(file.key) != data:
            raise UserError(f"{url}: after uploading, {file.key} differs from the local file; run the same push again")


def _push_hdf5(store: Path, url: str, overwrite: bool, progress: bool) -> tuple[int, int]:
    remote = RemoteFiles(url)
    card = card_path(store)
    pairs = [(store, remote, url)]
    if card.is_file():
        pairs.append((card, RemoteFiles(url + "." + CARD_NAME), url + "." + CARD_NAME))
    uploaded = kept = 0
    with progress_bar(len(pairs), f"push {store.name}", progress) as bar:
        for path, target, target_url in pairs:
            data = path.read_bytes()
            there = target.read("")
            if there == data:
                kept += 1
            elif there is not None and path == store and not _is_hdf5_store(target):
                raise UserError(
                    f"{target_url} exists and is not a teacher store written by actor-mimic: it is never "
                    "replaced (--overwrite only replaces those); choose another URL"
                )
            elif there is not None and not overwrite:
                raise UserError(f"{target_url} already exists: pass --overwrite to replace it")
            else:
                _upload_file(target, data)
                uploaded += 1
            if target.size("") != len(data):
                raise UserError(f"{target_url}: after uploading, its size differs from {path}; run the same push again")
            bar.update()
    return uploaded, kept


def _upload_file(remote: RemoteFiles, data: bytes) -> None:
    parent = remote.root.rsplit("/", 1)[0]
    with contextlib.suppress(OSError, NotImplementedError):
        remote.fs.makedirs(parent, exist_ok=True)
    remote.fs.pipe_file(remote.root, data)


def _is_hdf5_store(remote: RemoteFiles) -> bool:
    """Is the remote file an HDF5 teacher store? (read through fsspec: only its header)"""
    import json

    import h5py

    try:
        with remote.fs.open(remote.root, "rb") as handle, h5py.File(handle, "r") as file:
            attrs = json.loads(file.attrs.get("actor_mimic", "null"))
    except (OSError, ValueError, TypeError):
        return False
    return isinstance(attrs, dict) and attrs.get("schema") == SCHEMA

"""The store a collection writes: checked before anything starts, replaced only when complete.

`check_out` applies the output rules of `actor_mimic.common.outputs` to `--out` before the
expert is even loaded: an existing path must be a teacher store, and is then only resumed
(`--resume`) or replaced (`--overwrite`); anything else (a file that is not a store, a folder
with other files, `.`, an empty path) is refused whatever the flags.

A store is written in place, not renamed into place like other outputs, because an
interrupted collection must stay resumable under its own name. So `--overwrite` works like
this (`replacing_store`):

1. the old store is renamed to its *aside* name, `NAME.previous.SUFFIX` (`pong.zarr` ->
   `pong.previous.zarr`), and the new one is created under NAME, recording that name as
   `replaces` in its attributes;
2. when the new store is complete (this run, or a later `--resume` of it), the aside store
   is deleted;
3. if this run fails before storing a step, the new store is removed and the old one renamed
   back: nothing changed; if it stops later (Ctrl-C, an error), both stay, and the message
   names the aside store.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import cast

from actor_mimic.collect.config import CollectConfig
from actor_mimic.common.outputs import Output, check_output, make_parents, remove, remove_created, shown
from actor_mimic.errors import UserError
from actor_mimic.store import backend_by_name

REPLACES_KEY = "replaces"


def backend_name(config: CollectConfig) -> str:
    if config.backend is not None:
        return config.backend
    return backend_by_name(cast("str | Path", config.out))  # recording: check() requires --out


def is_teacher_store(path: Path) -> bool:
    """True if `path` is a teacher store (its attribute document names the schema)."""
    from actor_mimic.store import SCHEMA

    return _attrs(path).get("schema") == SCHEMA


def _holds_something(path: Path) -> bool:
    """A file, a link, or a folder that is not empty: something replacing would lose."""
    return path.is_file() or path.is_symlink() or (path.is_dir() and any(path.iterdir()))


def aside_path(out: Path) -> Path:
    """Where `--overwrite` keeps the old store until the new one is complete."""
    return out.with_name(f"{out.stem}.previous{out.suffix}")


def check_out(config: CollectConfig) -> Path:
    """`--out` checked against the output rules and the flags; touches nothing."""
    path = Path(config.out) if config.out not in (None, "") else None
    backend = backend_name(config) if path is not None else "zarr"
    what = Output("teacher store", folder=(backend == "zarr"), is_ours=is_teacher_store)
    if config.resume and path is not None and _holds_something(path):
        if path.is_symlink() or not is_teacher_store(path):
            raise UserError(f"--out {shown(path)} exists and is not a teacher store: there is nothing to resume; "
                            "choose another --out")  # fmt: skip
        return path
    hint = "pass --resume to continue it or --overwrite to replace it"
    path = check_output(config.out, what, replace=config.overwrite, exists_hint=hint)
    if config.overwrite and _holds_something(existing_store(path)):
        aside = aside_path(existing_store(path))
        if aside.exists() or aside.is_symlink():
            raise UserError(
                f"{shown(aside)} exists: it holds the store an earlier --overwrite of {shown(path)} set "
                "aside; move it back, delete it, or --resume the new store first"
            )
    return path


def existing_store(out: Path) -> Path:
    """What `--out` holds now: the store itself or, for an HDF5 store whose collection has not
    completed, its Zarr collection in progress (`NAME.h5.partial`, see store/reader.py)."""
    from actor_mimic.store import stored_path

    return stored_path(out)


def will_replace(config: CollectConfig) -> bool:
    """True when this run replaces an existing store (call after `check_out`)."""
    return bool(
        config.record and config.overwrite and _holds_something(existing_store(Path(cast("str | Path", config.out))))
    )


@contextlib.contextmanager
def replacing_store(config: CollectConfig):
    """Around the collection: set an overwritten store aside, then delete it once the new
    store is complete, or put it back if nothing was stored (see the module docstring).
    An interruption (`CollectionInterrupted`) gets `previous_store`: the aside path or None."""
    from actor_mimic.collect.interrupt import CollectionInterrupted

    out = Path(cast("str | Path", config.out))  # recording: check() requires --out
    existing = existing_store(out)
    aside = aside_path(existing) if will_replace(config) else None
    started_complete = aside is None and _complete(out)
    created = make_parents(out.parent)
    if aside is not None:
        existing.rename(aside)
    elif out.is_dir() and not any(out.iterdir()):
        out.rmdir()  # an empty folder: StoreWriter creates the store itself
    new_store = not out.exists()  # this run creates it (else: it resumes it)
    try:
        yield aside
    except CollectionInterrupted as stopped:
        stopped.previous_store = aside
        raise
    except BaseException as error:
        if new_store and _stored_nothing(out):
            remove(out)
            if aside is not None:
                aside.rename(existing)
            remove_created(created)
        elif aside is not None and isinstance(error, UserError):
            raise UserError(f"{error}; the store it replaces is kept at {shown(aside)}") from None
        raise
    if not started_complete and _complete(out):
        _discard_replaced(out)


def _discard_replaced(out: Path) -> None:
    """Delete the store that `out` replaces, now that `out` is complete."""
    name = _attrs(out).get(REPLACES_KEY)
    if not isinstance(name, str) or Path(name).name != name:
        return
    previous = out.with_name(name)
    if previous.exists() and is_teacher_store(previous):
        remove(previous)


def _attrs(path: Path) -> dict:
    """The attribute document of the store at `path`, or {} if it is not a readable store."""
    from actor_mimic.store import open_backend

    if not path.exists():
        return {}
    try:
        backend = open_backend(path, "r")
        try:
            attrs = backend.read_attrs()
        finally:
            backend.close()
    except Exception:  # noqa: BLE001 - an unreadable store is treated as holding nothing
        return {}
    return attrs if isinstance(attrs, dict) else {}


def _complete(path: Path) -> bool:
    return _attrs(path).get("complete") is True


def _stored_nothing(path: Path) -> bool:
    """True if `path` (a store this run created) holds no committed step, or is not even a
    readable store (its creation failed half-way)."""
    return _attrs(path).get("num_steps", 0) == 0

"""Opening the store of a collection: create it, replace it, or resume it after checks.

Nothing is created or destroyed before every check has passed: an existing store is only
replaced with `overwrite`, and only resumed when its expert, game and settings match.
"""

from __future__ import annotations

from pathlib import Path

from actor_mimic.collect.config import CollectConfig
from actor_mimic.collect.metadata import check_resume
from actor_mimic.common.store import StoreWriter, open_store
from actor_mimic.errors import UserError


def backend_name(config: CollectConfig) -> str:
    if config.backend is not None:
        return config.backend
    return "hdf5" if Path(config.out).suffix in (".h5", ".hdf5") else "zarr"


def check_out(config: CollectConfig) -> None:
    """Refuse an existing store unless told what to do with it (before any work starts)."""
    path = Path(config.out)
    if path.exists() and not (config.resume or config.overwrite):
        raise UserError(f"{path} already exists: pass --resume to continue it or --overwrite to replace it")


def stored_attrs(path: Path) -> dict:
    backend, info = open_store(path, allow_incomplete=True)
    backend.close()
    return info.attrs


def open_writer(config: CollectConfig, metadata: dict, num_actions: int, hidden_size: int, screen_size: int):
    """(writer, cut_episodes): a StoreWriter positioned at the end of the committed data, and
    the indices of the episodes in it that were cut short by a budget or an interruption."""
    path = Path(config.out)
    if config.resume and path.exists():
        stored = stored_attrs(path)
        wanted = {
            **metadata,
            "value_dtype": config.value_dtype,
            "chunk_len": config.chunk_len,
            "compression": config.compression,
        }
        check_resume(stored, wanted, path)
        committed_episodes = int(stored["num_episodes"])
        writer = StoreWriter.resume(path)
        # Indices past the commit belong to episodes that a killed writer never committed.
        cut = [e for e in stored.get("cut_episodes", []) if e < committed_episodes]
        # StoreWriter.resume turns committed rows after the last committed episode (an
        # episode whose end a kill lost) into one truncated episode: that one was cut too.
        cut.extend(range(committed_episodes, writer.num_episodes))
        writer.attrs["cut_episodes"] = cut
        return writer, cut
    writer = StoreWriter.create(
        path,
        metadata=metadata,
        num_actions=num_actions,
        hidden_size=hidden_size,
        screen_size=screen_size,
        value_dtype=config.value_dtype,
        chunk_len=config.chunk_len,
        compression=config.compression,
        backend=backend_name(config),
        overwrite=config.overwrite,
    )
    return writer, writer.attrs["cut_episodes"]

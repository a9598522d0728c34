"""Opening the store of a collection: create it, or resume it after checks.

The output was checked before anything started (`output.check_out`), and an overwritten store
set aside (`output.replacing_store`): here the store is either new or resumed, and only
resumed when its expert, game and settings match and it passes StoreWriter.resume's checks
(schema, counts, the last chunks' checksums).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from actor_mimic.collect.config import CollectConfig
from actor_mimic.collect.metadata import check_resume
from actor_mimic.collect.output import backend_name
from actor_mimic.errors import UserError
from actor_mimic.store import StoreWriter, open_attrs, stored_path


def stored_attrs(path: Path) -> dict:
    backend, attrs = open_attrs(path)
    backend.close()
    return attrs


def open_writer(config: CollectConfig, metadata: dict, num_actions: int, hidden_size: int, screen_size: int):
    """A StoreWriter with one lane per env: a new store, or the store at `config.out` checked
    and positioned at its commit (`--resume`); None when that store is already complete."""
    path = Path(cast("str | Path", config.out))  # recording: check() requires --out
    if config.resume and stored_path(path).exists():
        stored = stored_attrs(path)
        wanted = {
            **metadata,
            "q_dtype": config.q_dtype,
            "hidden_dtype": config.hidden_dtype,
            "chunk_len": config.chunk_len,
            "compression": config.compression,
        }
        check_resume(stored, wanted, path)
        if config.hidden_window is not None and stored.get("hidden_window") != config.hidden_window:
            raise UserError(
                f"{path} was collected with an activation window of {stored.get('hidden_window')} steps, this run "
                f"asks for {config.hidden_window}: resume without --hidden-window, or with the store's"
            )
        if stored["complete"] and stored_path(path) == path:
            return None
        return StoreWriter.resume(path)
    try:
        return StoreWriter.create(
            path,
            metadata=metadata,
            num_actions=num_actions,
            hidden_size=hidden_size,
            screen_size=screen_size,
            q_dtype=config.q_dtype,
            hidden_dtype=config.hidden_dtype,
            chunk_len=config.chunk_len,
            compression=config.compression,
            hidden_window=config.hidden_window,
            backend=backend_name(config),
            lanes=config.num_envs,
        )
    except PermissionError as error:
        raise UserError(f"cannot create {path}: {error.strerror}; choose an --out you can write to") from None


class BackgroundWriter:
    """Runs a StoreWriter's writes on one worker thread.

    Compressing and writing a chunk takes ~8% of a collection's time when done inline; on the
    worker thread it overlaps the env steps and the expert's forward pass (the codecs release
    the GIL). One worker keeps the StoreWriter single-threaded and the writes in order; at
    most `max_pending` wait, so memory stays bounded. An error in the worker is raised in the
    caller at the next `submit` or at `drain`, and the work submitted after it is skipped (a
    lane's next chunk must not take the place of one that failed).

    The caller must `drain()` before touching `writer` (its attributes or counts) itself.
    """

    def __init__(self, writer, max_pending: int = 4):
        from concurrent.futures import ThreadPoolExecutor

        self.writer = writer
        self.max_pending = max_pending
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="amn-store-writer")
        self._pending: list = []
        self._failed = False  # a job raised: the jobs after it do nothing

    def submit(self, function, *args) -> None:
        """Run `function(*args)` on the worker, after everything submitted before."""
        # Jobs finish in order; each is removed before its error, if any, is raised.
        while self._pending and (self._pending[0].done() or len(self._pending) >= self.max_pending):
            self._pending.pop(0).result()
        self._pending.append(self._executor.submit(self._run, function, args))

    def _run(self, function, args) -> None:
        if self._failed:
            return
        try:
            function(*args)
        except BaseException:
            self._failed = True
            raise

    def drain(self) -> None:
        """Wait until everything submitted is done (errors are raised here)."""
        while self._pending:
            self._pending.pop(0).result()

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True)

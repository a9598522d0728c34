"""`collect_shard`: the one function every executor runs, once per shard of a plan.

    result = collect_shard(task)          # a ShardTask in, a ShardResult out; never raises

In order, holding the shard's lock (its work folder's `.amn.lock`, so a shard is never
written by two processes, e.g. a rerun and a job of an earlier run still closing its store):

1. `amn collect --resume` of the shard's store: started if missing, continued exactly where
   an interrupted run stopped (at most a chunk per lane replayed), nothing done if complete;
2. the store checked whole (`amn dataset verify`: schema, every chunk's CRC-32C, every row),
   or, when the plan's `out` is a URL, pushed (`amn dataset push` verifies the store before
   uploading and checks the copy after; an interrupted push continues);
3. its summary (`amn dataset info`'s record) returned.

Whatever goes wrong comes back as a result, not an exception: the build reports a failed
shard with its error and the other shards go on. Executors (executors.py) only decide where
this runs; locally it runs as `python -m actor_mimic.pipelines.shard_job SHARD_FOLDER`, which
reads `task.json` there and writes `result.json` (a shard can be rerun by hand that way).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from actor_mimic.errors import UserError, one_line

TASK_FILE = "task.json"
RESULT_FILE = "result.json"
LOG_FILE = "collect.log"
STATUSES = ("done", "failed", "interrupted")
PARENT_VARIABLE = "AMN_SHARD_PARENT"  # the local executor's process id, in its children


@dataclass
class ShardTask:
    """One shard of one collection: what `collect_shard` needs, as plain JSON-able data."""

    name: str  # the collection's name in the plan
    shard: int
    shards: int
    settings: dict  # its `amn collect` settings by key (GamePlan.settings)
    store: str  # where the store is collected (a local path)
    url: str | None  # where it is pushed (the plan's out is a URL), else None
    folder: str  # the shard's work folder: task, result, log, lock

    @property
    def label(self) -> str:
        return f"{self.name} {self.shard}/{self.shards}"

    def write(self) -> Path:
        """Write task.json in the shard's folder (created); returns the folder."""
        from actor_mimic.common.outputs import write_text

        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_text(folder / TASK_FILE, json.dumps(asdict(self), indent=1))
        return folder

    @classmethod
    def read(cls, folder: str | Path) -> ShardTask:
        return cls(**json.loads((Path(folder) / TASK_FILE).read_text()))


@dataclass
class ShardResult:
    """What became of one shard. status: "done" (complete and verified, or pushed),
    "failed" (error says why), "interrupted" (stopped by a signal; a rerun resumes it)."""

    name: str
    shard: int
    shards: int
    status: str
    error: str | None = None
    summary: dict | None = None  # `amn dataset info`'s record of the store, when done
    verified: bool = False  # every chunk's checksum and every row checked
    pushed: bool = False
    seconds: float = 0.0
    steps_collected: int = 0  # by this run (a resumed store held the rest already)

    @property
    def label(self) -> str:
        return f"{self.name} {self.shard}/{self.shards}"

    @classmethod
    def of(cls, task: ShardTask, status: str, error: str | None = None, **fields) -> ShardResult:
        return cls(task.name, task.shard, task.shards, status, error, **fields)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> ShardResult:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("status") not in STATUSES:
            raise ValueError("not a shard result")
        return cls(**data)


def collect_shard(task: ShardTask) -> ShardResult:
    """Collect, check (or push) and summarise one shard; see the module docstring."""
    from actor_mimic.collect import CollectionInterrupted, collect
    from actor_mimic.common.run_lock import waiting_lock
    from actor_mimic.pipelines.plan import GamePlan

    started = time.monotonic()
    steps_before = committed_steps(task.store)
    try:
        Path(task.folder).mkdir(parents=True, exist_ok=True)
        with waiting_lock(task.folder):
            config = GamePlan(task.name, task.shards, task.settings).collect_config(task.shard, Path(task.store))
            path = collect(config)
            assert path is not None  # a plan's shards always record
            verified = pushed = False
            if task.url is None:
                _verify(path)
                verified = True
            else:
                from actor_mimic.datasets.sharing.push import push

                push(path, task.url, progress=False)  # verifies the store first, checks the copy after
                verified = pushed = True
            from actor_mimic.datasets.inspection import summarize

            summary = summarize(path)
        result = ShardResult.of(task, "done", summary=summary, verified=verified, pushed=pushed)
    except CollectionInterrupted as stopped:
        error = f"stopped by signal {stopped.signal_number} after {stopped.num_steps} steps; a rerun resumes it"
        result = ShardResult.of(task, "interrupted", error)
    except UserError as error:
        result = ShardResult.of(task, "failed", one_line(error))
    except Exception as error:  # noqa: BLE001 - reported with the shard; the other shards go on
        traceback.print_exc()  # into the shard's log
        result = ShardResult.of(task, "failed", f"{type(error).__name__}: {one_line(error)}")
    result.seconds = time.monotonic() - started
    result.steps_collected = max(0, committed_steps(task.store) - steps_before)
    _write_result(task, result)
    return result


def _verify(path) -> None:
    from actor_mimic.datasets.inspection import verify_store

    problems = verify_store(path)
    if problems:
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise UserError(f"{path} failed verification: {problems[0]}{more}; `amn dataset verify` lists them")


def committed_steps(store: str | Path) -> int:
    """Steps committed in the store so far (0: none, or not readable yet)."""
    from actor_mimic.store import open_attrs

    try:
        backend, attrs = open_attrs(store, check_arrays=False)
    except (UserError, OSError, ValueError):
        return 0
    backend.close()
    return int(attrs.get("num_steps", 0))


def _write_result(task: ShardTask, result: ShardResult) -> None:
    from actor_mimic.common.outputs import write_text

    try:
        write_text(Path(task.folder) / RESULT_FILE, result.to_json())
    except (UserError, OSError) as error:  # the result still goes back through the engine
        print(f"cannot write the shard's result file: {error}", file=sys.stderr)


def read_result(folder: str | Path) -> ShardResult | None:
    """The result a shard's job wrote in its folder, or None (none, or unreadable)."""
    try:
        return ShardResult.from_json((Path(folder) / RESULT_FILE).read_text())
    except (OSError, ValueError, TypeError):
        return None


def main(argv: list[str]) -> int:
    """`python -m actor_mimic.pipelines.shard_job SHARD_FOLDER`: run the task there; exit
    0 when done, 1 when failed, 3 when interrupted."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    stop_with_parent()
    result = collect_shard(ShardTask.read(argv[0]))
    print(f"{result.label}: {result.status}{': ' + result.error if result.error else ''}", file=sys.stderr)
    return {"done": 0, "failed": 1, "interrupted": 3}[result.status]


def stop_with_parent() -> None:
    """Under the local executor, on Linux: SIGTERM this process when the build that started
    it dies (collect then closes the store with its whole chunks), so a killed build leaves
    no shard running unwatched, writing a store that a rerun would resume at the same time."""
    parent = os.environ.get(PARENT_VARIABLE)
    if parent is None or not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != int(parent):  # the build died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

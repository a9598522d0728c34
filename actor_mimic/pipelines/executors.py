"""Where the shards of a plan run: thin adapters over `collect_shard` (shard_job.py).

Every executor does three things: `submit(tasks)`, `wait(timeout)` (the results of the shards
that ended meanwhile), and `stop()` (ask the running shards to stop cleanly; they come back
"interrupted", and a rerun resumes them). The scheduling itself is the engine's:

local     processes on this machine, `workers` at once, each `python -m
          actor_mimic.pipelines.shard_job FOLDER` in its own session (so a Ctrl-C in the
          terminal reaches the build, which stops each shard once; on Linux a shard is
          stopped with SIGTERM if the build dies, so none runs on unwatched). A shard whose process dies without
          a result (killed, out of memory) is reported failed; the others go on.
submitit  a Slurm job array (submitit's `map_array`; `cluster: local` runs the same jobs as
          local processes, which the tests use). Its jobs are requeued on preemption and
          timeout (submitit's checkpointing: the shard simply runs again and resumes its
          store). `parameters` go to `AutoExecutor.update_parameters` as given:
          slurm_partition, timeout_min, cpus_per_task, mem_gb, slurm_array_parallelism, ...
dask      the Dask scheduler at `address` (a cluster of `dask worker --nthreads 1` workers,
          or dask-jobqueue's), or, without an address, a local cluster of `workers`
          processes. Dask cannot stop a task that runs: `stop()` cancels the queued ones.

submitit and Dask pass the task and the result between processes by pickling them (their own
files and sockets, written by this build), as these engines do; nothing read from a dataset
or a checkpoint is ever unpickled.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from actor_mimic.errors import UserError, one_line
from actor_mimic.pipelines.plan import ExecutorSettings
from actor_mimic.pipelines.shard_job import (
    LOG_FILE,
    PARENT_VARIABLE,
    ShardResult,
    ShardTask,
    collect_shard,
    read_result,
)

POLL_SECONDS = 0.1


def make_executor(settings: ExecutorSettings, work_dir: Path):
    """The executor the settings name; UserError when its engine is not installed."""
    if settings.kind == "local":
        return LocalExecutor(settings.workers)
    if settings.kind == "submitit":
        return SubmititExecutor(work_dir / "submitit", settings.cluster, settings.parameters)
    return DaskExecutor(settings.address, settings.workers, settings.parameters)


def _engine(module: str, extra: str):
    """Import an optional engine, or say how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(
            f"the {extra} executor needs {module.split('.')[0]}: pip install 'actor-mimic[{extra}]'"
        ) from None


# --------------------------------------------------------------------------------------------
class LocalExecutor:
    """`workers` shard processes at once on this machine."""

    def __init__(self, workers: int):
        self.workers = workers
        self.queued: collections.deque[ShardTask] = collections.deque()
        self.running: dict[subprocess.Popen, ShardTask] = {}
        self.unstarted: list[ShardResult] = []  # queued shards a stop left, reported by the next wait

    @property
    def pending(self) -> int:
        return len(self.queued) + len(self.running) + len(self.unstarted)

    def submit(self, tasks: list[ShardTask]) -> None:
        for task in tasks:
            task.write()
        self.queued.extend(tasks)
        self._start()

    def _start(self) -> None:
        while self.queued and len(self.running) < self.workers:
            task = self.queued.popleft()
            folder = Path(task.folder)
            with open(folder / LOG_FILE, "a") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "actor_mimic.pipelines.shard_job", str(folder)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, env=_child_environment(),
                )  # fmt: skip
            self.running[process] = task

    def wait(self, timeout: float) -> list[ShardResult]:
        deadline = time.monotonic() + timeout
        while True:
            ended = [process for process in self.running if process.poll() is not None]
            if ended or not self.running or time.monotonic() >= deadline:
                break
            time.sleep(POLL_SECONDS)
        results = [self._result(process, self.running.pop(process)) for process in ended]
        results += self.unstarted
        self.unstarted = []
        self._start()
        return results

    @staticmethod
    def _result(process: subprocess.Popen, task: ShardTask) -> ShardResult:
        result = read_result(task.folder)
        if result is not None and (result.status != "done" or process.returncode == 0):
            return result
        code = process.returncode
        how = f"signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exit status {code}"
        log = Path(task.folder) / LOG_FILE
        return ShardResult.of(task, "failed", f"its process ended with {how} before reporting; see {log}")

    def stop(self) -> None:
        self.unstarted += [_interrupted(task, "not started: the build was stopped") for task in self.queued]
        self.queued.clear()
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # collect closes the store with its chunks

    def close(self) -> None:
        self.stop()
        for process in self.running:
            process.wait()


def _child_environment() -> dict:
    """This process's environment, with this checkout importable by the child, and this
    process named as the parent the child must not outlive (shard_job.stop_with_parent)."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH", "")
    pythonpath = root + (os.pathsep + path if path else "")
    return {**os.environ, "PYTHONPATH": pythonpath, PARENT_VARIABLE: str(os.getpid())}


def _interrupted(task: ShardTask, why: str) -> ShardResult:
    return ShardResult.of(task, "interrupted", why)


# --------------------------------------------------------------------------------------------
class _RequeuedShard:
    """`collect_shard` as a submitit Checkpointable: on preemption or timeout, submitit
    requeues the job with the same task, which resumes the store (nothing else to save)."""

    def __call__(self, task: ShardTask) -> ShardResult:
        return collect_shard(task)

    def checkpoint(self, task: ShardTask):
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, task)


class SubmititExecutor:
    """The shards as one Slurm job array through submitit (or its local processes)."""

    def __init__(self, folder: Path, cluster: str, parameters: dict):
        submitit = _engine("submitit", "submitit")
        self.executor = submitit.AutoExecutor(folder=folder / "%j", cluster=cluster)
        try:
            self.executor.update_parameters(name="amn-collect", **parameters)
        except (ValueError, TypeError, NameError) as error:
            raise UserError(f"executor parameters: {one_line(error)}") from None
        self.jobs: dict = {}  # submitit Job -> ShardTask

    @property
    def pending(self) -> int:
        return len(self.jobs)

    def submit(self, tasks: list[ShardTask]) -> None:
        for task in tasks:
            task.write()
        jobs = self.executor.map_array(_RequeuedShard(), tasks)
        self.jobs.update(zip(jobs, tasks))

    def wait(self, timeout: float) -> list[ShardResult]:
        deadline = time.monotonic() + timeout
        while True:
            ended = [job for job in self.jobs if job.done()]
            if ended or not self.jobs or time.monotonic() >= deadline:
                break
            time.sleep(min(1.0, timeout))
        return [self._result(job, self.jobs.pop(job)) for job in ended]

    @staticmethod
    def _result(job, task: ShardTask) -> ShardResult:
        try:
            return job.result()
        except Exception as error:  # noqa: BLE001 - the job failed outside collect_shard
            lines = [line for line in str(error).splitlines() if line.strip()]
            return ShardResult.of(task, "failed", f"job {job.job_id}: {one_line(lines[-1] if lines else error)}")

    def stop(self) -> None:
        for job in self.jobs:
            job.cancel(check=False)  # Slurm's scancel sends SIGTERM: collect closes the store

    def close(self) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
class DaskExecutor:
    """The shards as Dask tasks, on the scheduler at `address` or a local cluster."""

    def __init__(self, address: str | None, workers: int, parameters: dict):
        distributed = _engine("distributed", "dask")
        self.distributed = distributed
        try:
            if address is None:
                self.cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, dashboard_address=None, **parameters
                )
                self.client = distributed.Client(self.cluster)
            else:
                self.cluster = None
                self.client = distributed.Client(address, **parameters)
        except (OSError, TimeoutError, ValueError, TypeError) as error:
            raise UserError(f"cannot reach the Dask scheduler {address or '(local)'}: {one_line(error)}") from None
        self.futures: dict = {}  # dask Future -> ShardTask

    @property
    def pending(self) -> int:
        return len(self.futures)

    def submit(self, tasks: list[ShardTask]) -> None:
        for task in tasks:
            task.write()
        keys = [f"amn-collect-{Path(task.folder).name}-{time.time_ns()}" for task in tasks]
        futures = self.client.map(collect_shard, tasks, key=keys, pure=False)
        self.futures.update(zip(futures, tasks))

    def wait(self, timeout: float) -> list[ShardResult]:
        if not self.futures:
            return []
        try:
            self.distributed.wait(list(self.futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        ended = [future for future in self.futures if future.done()]
        return [self._result(future, self.futures.pop(future)) for future in ended]

    @staticmethod
    def _result(future, task: ShardTask) -> ShardResult:
        if future.status == "finished":
            return future.result()
        if future.status == "cancelled":
            return _interrupted(task, "cancelled: the build was stopped")
        return ShardResult.of(task, "failed", f"Dask task {future.status}: {one_line(future.exception())}")

    def stop(self) -> None:
        self.client.cancel(list(self.futures))  # queued tasks; running ones finish (Dask cannot stop them)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

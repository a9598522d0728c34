"""`amn dataset build PLAN.yaml`: collect a whole teacher dataset, every shard of every game.

    amn dataset build plan.yaml                         # local processes (the plan's executor)
    amn dataset build plan.yaml --workers 4             # 4 shards at once on this machine
    amn dataset build plan.yaml --executor submitit     # a Slurm job array (submitit)
    amn dataset build plan.yaml --executor dask --address tcp://scheduler:8786
    amn dataset build plan.yaml --dry-run               # what would run, and what is finished

The plan (pipelines/plan.py) names the games, their experts, steps, shards and settings, and
where the stores go. Each shard is one `collect_shard` (shard_job.py): `amn collect --resume`
into its own store, then `amn dataset verify` (or `amn dataset push` for a URL). Executors
(executors.py) run them; this command submits them, shows progress (shards done, steps,
steps/s and the time left, from the stores' committed steps), records each finished store in
the dataset's `dataset.json`, and ends with a summary per collection and the dataset's card
(`README.md` beside the stores, listing them; dataset_card.py).

Running it again skips the stores `dataset.json` lists as finished (still there, complete) and
resumes the others where they stopped: a killed build, a preempted job or a failed shard loses
at most a chunk per lane. A failed shard is reported with its error and the others go on.
Exit status: 0 when every store is finished, 1 when some are not (the summary says which), 2
for a mistake in the plan, 128 + N after signal N (Ctrl-C: the shards close their stores).

Why `amn dataset build` and not `amn collect --plan`: the command makes a dataset, not a
store. It collects, verifies, pushes and writes the dataset's record and card, so it spans
two stages (collect, datasets) and lives above them, as the other pipelines do.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from actor_mimic.common.arguments import ArgumentParser
from actor_mimic.errors import UserError, one_line
from actor_mimic.pipelines.dataset_card import (
    CARD_NAME,
    RECORD_NAME,
    add_store,
    collections,
    dataset_card,
    empty_record,
    kept_license,
    read_record,
    summary_table,
)
from actor_mimic.pipelines.plan import EXECUTORS, SUBMITIT_CLUSTERS, Plan, checked_executor, load_plan
from actor_mimic.pipelines.shard_job import ShardResult, ShardTask

PROGRESS_SECONDS = 2.0  # how often the stores' committed steps are read for the progress bar


def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="amn dataset build", description=__doc__.splitlines()[0])
    parser.add_argument("plan", metavar="PLAN.yaml", help="the collection plan (see `amn dataset build --help`)")
    parser.add_argument("--executor", choices=EXECUTORS, help="where the shards run (default: the plan's, or local)")
    parser.add_argument("--workers", type=int, help="local: shards at once; dask without --address: worker processes")
    parser.add_argument("--cluster", choices=SUBMITIT_CLUSTERS, help="submitit: slurm (default) or local processes")
    parser.add_argument("--address", help="dask: the scheduler's address (tcp://host:8786)")
    parser.add_argument("--dry-run", action="store_true", help="list the shards and what a build would do; run nothing")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    args = parser.parse_args(argv)
    plan = load_plan(args.plan)
    for name in ("executor", "workers", "cluster", "address"):
        value = getattr(args, name)
        if value is not None:
            setattr(plan.executor, "kind" if name == "executor" else name, value)
    checked_executor(plan.executor, "the command line")
    return build(plan, progress=args.progress, dry_run=args.dry_run)


def build(plan: Plan, progress: bool = True, dry_run: bool = False) -> int:
    """Run the plan (see the module docstring); the exit status."""
    from actor_mimic.common.outputs import check_folder

    if not plan.remote:
        check_folder(plan.out, "out", "dataset folder")
    check_folder(plan.work_dir, "work_dir", "work folder")
    record_path = (plan.work_dir if plan.remote else Path(plan.out)) / RECORD_NAME
    record = read_record(record_path) or empty_record(plan)
    shards = plan.shards()
    finished = [(game, shard) for game, shard in shards if _finished(plan, record, game, shard)]
    todo = [pair for pair in shards if pair not in finished]
    if dry_run:
        return _show_plan(plan, shards, finished)

    from actor_mimic.common.run_lock import RunLock

    lock = RunLock(plan.work_dir, doing="built")  # one build of this plan at a time
    try:
        tasks = [_task(plan, game, shard) for game, shard in todo]
        results, signal_number = _run(plan, tasks, record, record_path, len(finished), progress)
    finally:
        lock.release()
    return _finish(plan, record, record_path, results, signal_number)


def _finished(plan: Plan, record: dict, game, shard: int) -> bool:
    """A store the record lists as finished, still at its place, complete, as recorded."""
    entry = record["stores"].get(game.store_name(shard))
    if entry is None or not entry.get("verified"):
        return False
    from actor_mimic.store import open_attrs

    try:
        backend, attrs = open_attrs(plan.final_location(game, shard), check_arrays=False)
    except (UserError, OSError, ValueError):
        return False
    backend.close()
    return bool(attrs.get("complete")) and attrs.get("num_steps") == entry.get("committed_steps")


def _task(plan: Plan, game, shard: int) -> ShardTask:
    return ShardTask(
        name=game.name, shard=shard, shards=game.shards, settings=game.settings,
        store=str(plan.collected_at(game, shard)),
        url=str(plan.final_location(game, shard)) if plan.remote else None,
        folder=str(plan.shard_folder(game, shard)),
    )  # fmt: skip


def _show_plan(plan: Plan, shards: list, finished: list) -> int:
    print(f"plan {plan.path}: {len(shards)} stores into {plan.out} ({plan.executor.kind} executor)")
    for game, shard in shards:
        store = plan.collected_at(game, shard)
        if (game, shard) in finished:
            state = "finished"
        else:
            state = "resume" if _committed(store) else "start"
        print(f"  {game.store_name(shard):<32} {state}")
    return 0


def _run(plan, tasks: list[ShardTask], record, record_path, finished: int, show_progress: bool):
    """Submit the tasks and gather their results: (results, the signal that stopped it or None)."""
    from actor_mimic.collect.interrupt import stop_on_signals
    from actor_mimic.pipelines.executors import make_executor

    results: list[ShardResult] = []
    if not tasks:
        return results, None
    progress = BuildProgress(plan, tasks, finished, show_progress)
    executor = make_executor(plan.executor, plan.work_dir)
    stopping = False
    try:
        with stop_on_signals() as stop:
            executor.submit(tasks)
            while executor.pending:
                for result in executor.wait(timeout=PROGRESS_SECONDS):
                    results.append(result)
                    progress.shard_ended(result)
                    if result.status == "done":
                        add_store(record, _store_of(plan, result), result)
                        _write_record(record, record_path)
                if stop and not stopping:
                    stopping = True
                    progress.say(f"stopping (signal {stop.signal_number}): the running shards close their "
                                 "stores; a second Ctrl-C leaves at once")  # fmt: skip
                    executor.stop()
                progress.update()
    finally:
        progress.close()
        executor.close()
    return results, stop.signal_number


def _store_of(plan: Plan, result: ShardResult) -> str:
    game = next(game for game in plan.games if game.name == result.name)
    return game.store_name(result.shard)


def _write_record(record: dict, path: Path) -> None:
    from actor_mimic.common.outputs import write_text

    write_text(path, json.dumps(record, indent=1) + "\n")


def _committed(store: Path) -> int:
    from actor_mimic.pipelines.shard_job import committed_steps

    return committed_steps(store)


class BuildProgress:
    """A progress bar over the steps of the shards to collect: committed steps read from their
    stores, so it shows steps/s and the time left whatever runs them; shards done and failed."""

    def __init__(self, plan, tasks: list[ShardTask], finished: int, show: bool):
        from tqdm import tqdm

        self.tasks = tasks
        self.total_shards = finished + len(tasks)
        self.done, self.failed = finished, 0
        self.ended: set[str] = set()
        self.targets = {task.store: _target(task) for task in tasks}
        known = all(target is not None for target in self.targets.values())
        self.steps = {task.store: _committed(Path(task.store)) for task in tasks}
        self.started = time.monotonic()
        self.bar = tqdm(
            total=sum(self.targets.values()) if known else None,  # type: ignore[arg-type]  # known: all ints
            initial=sum(self.steps.values()), unit="step", disable=not show, dynamic_ncols=True, file=sys.stderr,
        )  # fmt: skip
        self.last_read = time.monotonic()
        self._postfix()

    def update(self) -> None:
        if time.monotonic() - self.last_read < PROGRESS_SECONDS:
            return
        self.last_read = time.monotonic()
        for task in self.tasks:
            if task.store not in self.ended:
                self._advance(task.store, _committed(Path(task.store)))

    def _advance(self, store: str, steps: int) -> None:
        if steps > self.steps[store]:
            self.bar.update(steps - self.steps[store])
            self.steps[store] = steps

    def shard_ended(self, result: ShardResult) -> None:
        task = next(task for task in self.tasks if (task.name, task.shard) == (result.name, result.shard))
        self.ended.add(task.store)
        if result.status == "done":
            self.done += 1
            self._advance(task.store, int((result.summary or {}).get("committed_steps", 0)))
            line = f"{result.label}: done in {result.seconds:.0f} s ({result.steps_collected:,} steps collected)"
        else:
            self.failed += result.status == "failed"
            line = f"{result.label}: {result.status}: {result.error}"
        self.say(line)
        self._postfix()

    def say(self, line: str) -> None:
        if self.bar.disable:
            print(line, file=sys.stderr)
        else:
            self.bar.write(line, file=sys.stderr)

    def _postfix(self) -> None:
        self.bar.set_postfix_str(f"shards {self.done}/{self.total_shards} done, {self.failed} failed")

    def close(self) -> None:
        self.bar.close()


def _target(task: ShardTask) -> int | None:
    """The steps the shard's store will hold; None when its target is episodes."""
    from actor_mimic.collect import split_target

    steps = task.settings.get("steps")
    return None if steps is None else split_target(int(steps), task.shard, task.shards)


def _finish(plan: Plan, record: dict, record_path: Path, results: list[ShardResult], signal_number) -> int:
    """Write the record and the card, print the summary; the exit status."""
    _write_record(record, record_path)
    card = _write_card(plan, record)
    rows = collections(record, plan)
    print(summary_table(rows))
    planned = sum(row["planned"] for row in rows)
    finished = sum(row["stores"] for row in rows)
    unfinished = [result for result in results if result.status != "done"]
    for result in unfinished:
        print(f"  {result.label} {result.status}: {result.error}")
    where = plan.out if plan.remote else record_path.parent
    print(f"{finished} of {planned} stores finished in {where}; card: {card}")
    if signal_number is not None:
        return 128 + signal_number
    if finished < planned:
        print(f"rerun `amn dataset build {plan.path}` to finish the others (finished stores are skipped)")
        return 1
    return 0


def _write_card(plan: Plan, record: dict) -> str:
    """README.md and dataset.json beside the stores (uploaded for a URL); returns where the
    card is. A README.md the build did not write is left as it is."""
    from actor_mimic.common.outputs import write_text
    from actor_mimic.store import is_generated_card

    if not plan.remote:
        path = Path(plan.out) / CARD_NAME
        if path.exists() and not is_generated_card(path):
            return f"not written: {path} was not written by actor-mimic and is kept"
        license_id = kept_license(path.read_text()) if path.exists() else None
        write_text(path, dataset_card(record, plan, license_id))
        return str(path)
    from actor_mimic.store import open_url

    local = plan.work_dir / CARD_NAME
    write_text(local, dataset_card(record, plan))
    fs, root = open_url(str(plan.out))
    try:
        fs.pipe_file(f"{root}/{CARD_NAME}", local.read_bytes())
        fs.pipe_file(f"{root}/{RECORD_NAME}", json.dumps(record, indent=1).encode() + b"\n")
    except (OSError, ValueError) as error:
        return f"not uploaded ({one_line(error)}); it is at {local}"
    return f"{plan.out}/{CARD_NAME}"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))

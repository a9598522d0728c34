"""A run's logs: CSV files (the record) and TensorBoard scalars (for watching).

    episodes.csv     step, env, return, length, wall_seconds     one row per finished episode
    evaluations.csv  step, mean, std, min, max, episodes, eval_steps
    training.csv     step, updates, epsilon, loss, mean_q, steps_per_second

`step` is the agent step at which the row was written. After a resume, rows written after the
checkpoint being resumed (work the kill threw away) are dropped, so every file tells the story
of the run that continues.
"""

from __future__ import annotations

import csv
from pathlib import Path

from actor_mimic.common.outputs import atomic_output

# Every name a run writes in its folder (logs, the learner checkpoint, the exported expert).
RUN_FILES = ("episodes.csv", "evaluations.csv", "training.csv", "tensorboard", "checkpoint",
             "checkpoint.old", "expert.safetensors", "expert.json")  # fmt: skip

COLUMNS = {
    "episodes": ("step", "env", "return", "length", "wall_seconds"),
    "evaluations": ("step", "mean", "std", "min", "max", "episodes", "eval_steps"),
    "training": ("step", "updates", "epsilon", "loss", "mean_q", "steps_per_second"),
}


def read_csv(path: str | Path) -> list[dict]:
    """Rows of a log file as dicts of floats (an absent file has no rows)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def training_curve(run_dir: str | Path, bin_steps: int = 10_000) -> list[list[float]]:
    """The run's learning curve, small enough to travel in a checkpoint's metadata:
    [[last agent step of the bin, mean return, episodes], ...] of the training episodes
    (exploring policy, all environments) that ended in each bin of `bin_steps` agent steps."""
    bins: dict[int, list[float]] = {}
    for row in read_csv(Path(run_dir) / "episodes.csv"):
        bins.setdefault(int(row["step"] - 1) // bin_steps, []).append(row["return"])
    return [[(index + 1) * bin_steps, round(sum(r) / len(r), 3), len(r)] for index, r in sorted(bins.items())]


class RunLogger:
    """Appends rows to the CSV logs of `run_dir` and mirrors them to TensorBoard."""

    def __init__(self, run_dir: str | Path, resume_step: int | None = None, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.files = {}
        for name, columns in COLUMNS.items():
            path = self.run_dir / f"{name}.csv"
            if resume_step is None or not path.exists():
                with open(path, "w", newline="") as handle:
                    csv.writer(handle).writerow(columns)
            else:
                _drop_rows_after(path, resume_step)
            self.files[name] = open(path, "a", newline="")  # noqa: SIM115 - the log stays open for the run, closed in close()
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step hides the events a killed run wrote after its last checkpoint.
            self.writer = SummaryWriter(str(self.run_dir / "tensorboard"), purge_step=resume_step)

    def log(self, name: str, **row) -> None:
        values = [row[column] for column in COLUMNS[name]]
        csv.writer(self.files[name]).writerow(values)
        if self.writer is not None:
            step = int(row["step"])
            for column, value in row.items():
                if column not in ("step", "env"):
                    self.writer.add_scalar(f"{name}/{column}", float(value), step)

    def flush(self) -> None:
        for handle in self.files.values():
            handle.flush()
        if self.writer is not None:
            self.writer.flush()

    def close(self) -> None:
        self.flush()
        for handle in self.files.values():
            handle.close()
        if self.writer is not None:
            self.writer.close()


def _drop_rows_after(path: Path, step: int) -> None:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    kept = [rows[0]] + [row for row in rows[1:] if row and float(row[0]) <= step]
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as handle:
        csv.writer(handle).writerows(kept)

"""The transfer experiment: random-init against AMN-init DQNs, same seeds, same budget.

Each variant ("random", and one per AMN, e.g. "amn-policy", "amn-feature") trains one DQN per
seed in `<out_dir>/<variant>/seed<k>/` with the same `DQNConfig` (only `seed` differs across
seeds, never across variants). Runs are resumable: a finished run is skipped, a started one
resumed. A finished run writes `finished.json`; with its CSV logs it is all a later session
needs to skip the run, so an experiment can be carried across machines by keeping those small
files (the checkpoints are large and need not travel). Then, over every run in `<out_dir>`
(also those that other commands trained there, e.g. a command finishing one seed):

    curves.csv   variant, seed, step, score      every periodic evaluation of every run
    curves.png   mean score over seeds against agent steps, one line per variant
    table.csv / table.md   the paper's transfer form: per variant, the mean test score over
                 the evaluations within each block of training steps (the paper: 1M-step
                 blocks, each the mean of 4 test epochs following 4 x 250k training steps).

An evaluation taken after `s` training steps belongs to block b when b*B < s <= (b+1)*B, `s`
being the step it was scheduled at: the multiple of --eval-every it follows. (The learner
steps num_envs environments at a time, so it evaluates up to num_envs - 1 steps past that;
by its logged step, the evaluation that closes a block would fall into the next one, and the
last one out of the table.)
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import read_metadata
from actor_mimic.common.outputs import atomic_output, write_text
from actor_mimic.common.run_lock import waiting_lock
from actor_mimic.errors import UserError
from actor_mimic.transfer import run_state
from actor_mimic.transfer.config import DQNConfig
from actor_mimic.transfer.initialisation import amn_variant, check_preprocessing, fresh_network, network_from_amn
from actor_mimic.transfer.learner import DQNLearner
from actor_mimic.transfer.logs import read_csv

FINISHED = "finished.json"


@dataclass
class TransferExperiment:
    atari: AtariConfig
    config: DQNConfig  # shared by every run; `seed` is replaced per seed
    amns: dict[str, str]  # variant label -> AMN checkpoint path
    seeds: list[int]
    out_dir: Path
    block_size: int = 1_000_000
    fresh_head: bool = False
    include_random: bool = True

    @property
    def variants(self) -> list[str]:
        return (["random"] if self.include_random else []) + list(self.amns)


OUTPUT_FILES = ("curves.csv", "curves.png", "table.csv", "table.md")


def label_amns(paths: list[str]) -> dict[str, str]:
    """`NAME=PATH` keeps NAME; a bare PATH is labelled from its provenance: "amn-policy",
    "amn-feature" (or "amn-unknown"), numbered when two would share a label. A label names a
    folder of the experiment, so it must be a plain name (letters, digits, `.`, `_`, `-`)."""
    labels: dict[str, str] = {}
    for item in paths:
        name, sep, path = item.partition("=")
        if not sep:
            name, path = f"amn-{amn_variant(read_metadata(item))}", item
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name) or name in (".", ".."):
            raise UserError(
                f"--amn label {name!r} must be a plain name (letters, digits, '.', '_', '-'): it names a folder"
            )
        if name == "random":
            raise UserError("'random' names the random-init baseline; label the AMN differently")
        base, count = name, 2
        while name in labels:
            name, count = f"{base}-{count}", count + 1
        labels[name] = path
    return labels


def check_amn(path: str, atari: AtariConfig, source: str) -> None:
    """An AMN checkpoint that can initialise a DQN for `atari.game` (metadata only)."""
    metadata = read_metadata(path)
    if metadata.kind != "amn":
        raise UserError(f"{source}: an AMN checkpoint (kind 'amn') is needed, this one is an {metadata.kind!r}")
    check_preprocessing(metadata, atari, source)


def is_experiment_file(path: Path) -> bool:
    """True if `path` is one of the result files `run_experiment` writes."""
    try:
        head = path.read_bytes()[:64]
    except OSError:
        return False
    if path.name == "curves.png":
        return head.startswith(b"\x89PNG")
    if path.name == "curves.csv":
        return head.startswith(b"variant,seed,step,score")
    if path.name == "table.csv":
        return head.startswith(b"variant,block,")
    return path.name == "table.md" and head.startswith(b"| ")


class StopRequest:
    """A stop asked for from outside, e.g. by SIGTERM (call it as the signal handler): the
    running DQN saves a checkpoint at its next step and the experiment ends as when its
    wall-clock limit runs out, so the same command continues it."""

    def __init__(self) -> None:
        self.requested = False
        self.learner: DQNLearner | None = None  # the run training now, if any

    def __call__(self, signum: int | None = None, frame: object = None) -> None:
        self.requested = True
        if self.learner is not None:
            self.learner.stop_requested = True


def run_dir(experiment: TransferExperiment, variant: str, seed: int) -> Path:
    return experiment.out_dir / variant / f"seed{seed}"


def train_one(experiment: TransferExperiment, variant: str, seed: int, progress: bool = False,
              minutes_left: float = 0.0, stop: StopRequest | None = None) -> bool:  # fmt: skip
    """Train (or resume, or skip if finished) one variant with one seed; True once it reached
    its budget. `minutes_left` (0: no limit) bounds this session of the run; `stop`, when
    requested, ends it early with a checkpoint."""
    directory = run_dir(experiment, variant, seed)
    config = dataclasses.replace(experiment.config, seed=seed, max_wall_minutes=minutes_left)
    if finished_steps(directory) >= config.total_steps:
        return True
    saved = run_state.checkpoint_dir(directory)
    if saved is not None:
        learner = DQNLearner.resume(directory, progress=progress, total_steps=config.total_steps,
                                    session={"max_wall_minutes": minutes_left})  # fmt: skip
    else:
        if variant == "random":
            init = fresh_network(experiment.atari, seed=seed)
        else:
            init = network_from_amn(experiment.amns[variant], experiment.atari, experiment.fresh_head, seed)
        init.provenance["variant"] = variant
        learner = DQNLearner(experiment.atari, config, init, directory, progress=progress)
    if stop is not None:
        stop.learner = learner
        learner.stop_requested = stop.requested
    try:
        done = learner.step >= config.total_steps or learner.run()
        if done:
            record = {"variant": variant, "seed": seed, "agent_steps": learner.step,
                      "wall_hours": round(learner.wall_seconds / 3600, 3), "provenance": learner.provenance,
                      "dqn_config": learner.config.to_dict()}  # fmt: skip
            write_text(directory / FINISHED, json.dumps(record, indent=1))
        return done
    finally:
        if stop is not None:
            stop.learner = None
        learner.close()


def finished_steps(directory: Path) -> int:
    """Agent steps of a finished run in `directory` (0 if it has not finished). The record is
    small and kept with the CSV logs, so a finished run is known without its checkpoint."""
    record = directory / FINISHED
    return int(json.loads(record.read_text())["agent_steps"]) if record.exists() else 0


def evaluation_curves(out_dir: Path, variants: Sequence[str] = ()) -> list[dict]:
    """Rows {variant, seed, step, score}: every evaluation of every run in an experiment folder
    (`<variant>/seed<k>/evaluations.csv`), whichever command trained it, so that a command
    that finishes some of the runs does not drop the others from the experiment's tables and
    plot. Variants in order: random init (the baseline), `variants`, then the others."""
    found: dict[str, list[int]] = {}
    for path in sorted(out_dir.glob("*/seed*/evaluations.csv")):
        number = path.parent.name.removeprefix("seed")
        if number.isdigit():
            found.setdefault(path.parent.parent.name, []).append(int(number))
    mine = [variant for variant in variants if variant in found]
    order = sorted(mine + sorted(set(found) - set(mine)), key=lambda variant: variant != "random")  # stable
    rows = []
    for variant in order:
        for seed in sorted(found[variant]):
            for row in read_csv(out_dir / variant / f"seed{seed}" / "evaluations.csv"):
                rows.append({"variant": variant, "seed": seed, "step": int(row["step"]), "score": row["mean"]})
    return rows


def transfer_table(curves: list[dict], variants: list[str], block_size: int, total_steps: int,
                   eval_every: int | None = None) -> list[dict]:  # fmt: skip
    """Rows {variant, block, first_step, last_step, mean, evaluations}: the mean score over all
    evaluations (all seeds) with first_step < step <= last_step, each evaluation at the step it
    was scheduled at (its step rounded down to a multiple of `eval_every`, if given; see the
    module docstring). `mean` is NaN for an empty block."""
    table = []
    num_blocks = -(-total_steps // block_size)
    for variant in variants:
        steps = np.array([r["step"] for r in curves if r["variant"] == variant], dtype=np.int64)
        if eval_every:
            steps = steps // eval_every * eval_every
        scores = np.array([r["score"] for r in curves if r["variant"] == variant], dtype=np.float64)
        for block in range(num_blocks):
            inside = (steps > block * block_size) & (steps <= (block + 1) * block_size)
            table.append({
                "variant": variant, "block": block + 1, "first_step": block * block_size,
                "last_step": (block + 1) * block_size, "evaluations": int(inside.sum()),
                "mean": float(scores[inside].mean()) if inside.any() else float("nan"),
            })  # fmt: skip
    return table


def write_csv(path: Path, rows: list[dict]) -> None:
    with atomic_output(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _steps_label(steps: int) -> str:
    if steps == 0:
        return "0"
    if steps % 1_000_000 == 0:
        return f"{steps // 1_000_000}M"
    return f"{steps // 1000}k" if steps % 1000 == 0 else str(steps)


def table_markdown(table: list[dict], variants: list[str], game: str) -> str:
    """One row per variant, one column per block, like the paper's transfer tables."""
    blocks = sorted({(r["first_step"], r["last_step"]) for r in table})
    header = [game] + [f"{_steps_label(a)}-{_steps_label(b)}" for a, b in blocks]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for variant in variants:
        cells = [f"{r['mean']:.2f}" if r["evaluations"] else "-" for r in table if r["variant"] == variant]
        lines.append("| " + " | ".join([variant] + cells) + " |")
    return "\n".join(lines) + "\n"


def plot_curves(path: Path, curves: list[dict], variants: list[str], game: str) -> None:
    """Mean score over seeds against agent steps, one line per variant, with the range over
    seeds shaded. The k-th evaluations of all seeds are grouped (their steps differ by a few
    agent steps: environments that are resetting do not count)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for variant in variants:
        runs: dict[int, list[dict]] = {}
        for row in curves:
            if row["variant"] == variant:
                runs.setdefault(row["seed"], []).append(row)
        if not runs:
            continue
        length = max(len(rows) for rows in runs.values())
        steps, means, lows, highs = [], [], [], []
        for k in range(length):
            group = [rows[k] for rows in runs.values() if len(rows) > k]
            scores = [r["score"] for r in group]
            steps.append(np.mean([r["step"] for r in group]))
            means.append(np.mean(scores))
            lows.append(min(scores))
            highs.append(max(scores))
        (line,) = axes.plot(steps, means, marker="o", label=f"{variant} ({len(runs)} seeds)")
        if len(runs) > 1:
            axes.fill_between(steps, lows, highs, color=line.get_color(), alpha=0.2)
    axes.set_xlabel("agent steps")
    axes.set_ylabel("mean test score (epsilon 0.05)")
    axes.set_title(f"transfer to {game}: mean over seeds, range shaded")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100, format="png")
    plt.close(figure)


def run_experiment(experiment: TransferExperiment, progress: bool = False,
                   stop: StopRequest | None = None) -> tuple[list[dict], bool]:  # fmt: skip
    """Train every variant and seed, then write curves, plot and table of what has been
    evaluated. Returns (table, complete): `complete` is False when the session's wall-clock
    budget (`config.max_wall_minutes`, over all runs) ran out first, or `stop` was requested;
    the same call resumes.

    Runs go seed by seed (every variant of seed 0, then of seed 1, ...), so a stopped
    experiment has compared the variants on the same seeds."""
    experiment.out_dir.mkdir(parents=True, exist_ok=True)
    budget, start = experiment.config.max_wall_minutes, time.monotonic()
    complete = True
    for seed in experiment.seeds:
        for variant in experiment.variants:
            minutes_left = budget - (time.monotonic() - start) / 60 if budget > 0 else 0.0
            if (budget > 0 and minutes_left <= 0) or (stop is not None and stop.requested):
                complete = False
                break
            if progress:
                print(f"== {variant}, seed {seed}", flush=True)
            if not train_one(experiment, variant, seed, progress, minutes_left, stop):
                complete = False
                break
        if not complete:
            break
    curves = evaluation_curves(experiment.out_dir, experiment.variants)
    if not curves:
        if complete:
            raise UserError("no run evaluated anything: give --eval-every below --steps")
        return [], complete
    variants = list(dict.fromkeys(row["variant"] for row in curves))
    config = experiment.config
    table = transfer_table(curves, variants, experiment.block_size, config.total_steps, config.eval_every)
    markdown = table_markdown(table, variants, experiment.atari.game)
    with waiting_lock(experiment.out_dir):  # another process training other seeds may be writing them
        write_csv(experiment.out_dir / "curves.csv", curves)
        write_csv(experiment.out_dir / "table.csv", table)
        write_text(experiment.out_dir / "table.md", markdown)
        with atomic_output(experiment.out_dir / "curves.png") as temporary:
            plot_curves(temporary, curves, variants, experiment.atari.game)
    return table, complete

"""The transfer tables of results/README.md: one experiment folder (`amn transfer --out-dir`) per
target game, `<variant>/seed<k>/evaluations.csv` and `finished.json` in it.

Seeds differ a lot on one game, so a variant is compared with random initialisation on the
seeds both have; a run still training weighs only on the early blocks and the curve's start,
so each variant's finished runs are used once it has some.
"""

from __future__ import annotations

import math
from pathlib import Path

GOAL_PERCENT = 60  # issue 22: an AMN-initialised DQN at random init's final score in <= 60% of its steps,
GOAL_SEEDS = 3  # over 3 seeds


def mean_and_se(values: list[float]) -> tuple[float, float]:
    """The mean of per-seed values and its standard error over seeds (NaN for one seed)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))


def mean_score(curves: list[dict], seed: int) -> float:
    """The mean of `seed`'s evaluations in `curves` (rows of one variant)."""
    scores = [r["score"] for r in curves if r["seed"] == seed]
    return sum(scores) / len(scores)


def last_score(curves: list[dict], seed: int) -> float:
    """The score of `seed`'s last evaluation in `curves` (rows of one variant)."""
    return [r for r in curves if r["seed"] == seed][-1]["score"]


def steps_to_reach(curves: list[dict], variant: str, target: float) -> int | None:
    """First mean-over-seeds evaluation step at which `variant` scores >= target."""
    runs: dict[str, list[dict]] = {}
    for row in curves:
        if row["variant"] == variant:
            runs.setdefault(row["seed"], []).append(row)
    length = min((len(r) for r in runs.values()), default=0)
    for k in range(length):
        group = [r[k] for r in runs.values()]
        if sum(float(g["score"]) for g in group) / len(group) >= target:
            return round(sum(int(g["step"]) for g in group) / len(group))
    return None


def finished_seeds(transfer: Path, variant: str) -> set[int]:
    return {int(p.parent.name.removeprefix("seed")) for p in transfer.glob(f"{variant}/seed*/finished.json")}


def finished_curves(transfer: Path, curves: list[dict]) -> list[dict]:
    """The rows of `curves` of each variant's finished runs (all its rows if none has
    finished): a run still training would weigh only on the early blocks and the curve's start."""
    finished = {variant: finished_seeds(transfer, variant) for variant in {r["variant"] for r in curves}}
    return [r for r in curves if not finished[r["variant"]] or r["seed"] in finished[r["variant"]]]


def transfer_summary(transfer: Path, curves: list[dict]) -> list[dict]:
    """Per variant, on the seeds it shares with the finished random-init runs (those it has
    finished too, if any): the random-init DQN's final score, and the steps the variant
    needed to reach it (as % of the random-init DQN's steps). Seeds differ a lot on one game,
    so only the same seeds are compared."""
    random_final = {}  # seed -> (final score, its step) of a finished random-init run
    for seed in finished_seeds(transfer, "random"):
        last = [r for r in curves if r["variant"] == "random" and r["seed"] == seed][-1]
        random_final[seed] = (last["score"], last["step"])
    rows = []
    for variant in dict.fromkeys(r["variant"] for r in curves):
        seeds = sorted({r["seed"] for r in curves if r["variant"] == variant} & set(random_final))
        if not seeds:
            continue
        finished_runs = finished_seeds(transfer, variant)
        seeds = [seed for seed in seeds if seed in finished_runs] or seeds  # unfinished: how far they got
        mine = [r for r in curves if r["variant"] == variant and r["seed"] in seeds]
        target = sum(random_final[s][0] for s in seeds) / len(seeds)
        final_step = sum(random_final[s][1] for s in seeds) / len(seeds)
        step = steps_to_reach(mine, variant, target)
        reached = min(max(r["step"] for r in mine if r["seed"] == s) for s in seeds)
        finished = finished_runs >= set(seeds)
        final, final_se = mean_and_se([last_score(mine, s) for s in seeds]) if finished else (math.nan, math.nan)
        # The mean of every evaluation (the area under the curve over the steps): one lucky
        # evaluation moves it far less than the first step past a target.
        random_curves = [r for r in curves if r["variant"] == "random" and r["seed"] in seeds]
        over_training = sum(mean_score(mine, s) for s in seeds) / len(seeds) if finished else math.nan
        random_over_training = sum(mean_score(random_curves, s) for s in seeds) / len(seeds)
        percent = 100 * step / final_step if step is not None else float("nan")
        rows.append({"variant": variant, "seeds": " ".join(map(str, seeds)), "steps_trained": reached,
                     "random_final_score": target, "final_score": final, "final_score_se": final_se,
                     "steps_to_reach_it": step, "percent_of_random_steps": percent,
                     "mean_score_over_training": over_training,
                     "random_mean_score_over_training": random_over_training})  # fmt: skip
    return rows


def transfer_runs(transfer: Path, curves: list[dict]) -> str:
    """One sentence: each variant's finished seeds, and how far each unfinished run got (its
    last evaluation), so that a table of fewer seeds than planned says so."""
    parts = []
    for variant in dict.fromkeys(r["variant"] for r in curves):
        done = finished_seeds(transfer, variant)
        said = [f"seed{'s' if len(done) > 1 else ''} {' '.join(map(str, sorted(done)))} finished"] if done else []
        for seed in sorted({r["seed"] for r in curves if r["variant"] == variant} - done):
            last = max(r["step"] for r in curves if r["variant"] == variant and r["seed"] == seed)
            said.append(f"seed {seed} not finished (last evaluation at {last:,} steps)")
        parts.append(f"{variant}: {', '.join(said)}")
    return "Runs: " + "; ".join(parts) + "."


def transfer_goal(summary: list[dict]) -> str:
    """Whether an AMN-initialised variant met the goal on this target, from `transfer_summary`'s
    rows: random init's final score in <= GOAL_PERCENT% of its steps, over GOAL_SEEDS finished
    seeds (or why it cannot be told yet)."""
    goal = (f"**Goal** (an AMN-initialised DQN reaches the random-init final score in <= {GOAL_PERCENT}% of "
            f"its steps, over {GOAL_SEEDS} seeds): ")  # fmt: skip
    measured = [r for r in summary if r["variant"] != "random" and not math.isnan(r["final_score"])
                and len(r["seeds"].split()) >= GOAL_SEEDS]  # fmt: skip
    met = [r for r in measured if r["percent_of_random_steps"] <= GOAL_PERCENT]
    if met:
        return goal + "met by " + ", ".join(f"{r['variant']} ({r['percent_of_random_steps']:.0f}%)" for r in met) + "."
    if measured:
        how = [f"{r['variant']} never reached it" if r["steps_to_reach_it"] is None
               else f"{r['variant']} needed {r['percent_of_random_steps']:.0f}%" for r in measured]  # fmt: skip
        return goal + "not met (" + "; ".join(how) + ")."
    random_seeds = next((len(r["seeds"].split()) for r in summary if r["variant"] == "random"), 0)
    return goal + (f"not measurable yet: it needs {GOAL_SEEDS} finished seeds of random init ({random_seeds} so far) "
                   "and of an AMN arm on the same seeds.")  # fmt: skip

"""The diagnosis tables of results/README.md, from `amn diagnose play` folders kept in git:
`<diagnosis>/<game>/<policy>/` with summary.json, by_score.csv and store_lookup.json (the
small files of one game's folder of a `play --stores` run; docs/diagnosis.md).

Each game's table compares its policies in one score range, the stage where the AMN stalls
(RANGES): the share of steps spent in it, the lives lost there and elsewhere, and how much of
the teacher store lies in it and past it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from actor_mimic.errors import UserError

RANGES = {"crazy_climber": (15_000.0, 20_000.0)}  # game -> the score range its AMN stalls in


def score_bins(path: Path) -> list[dict]:
    """by_score.csv's bins: low, high, steps, lives_lost (the others as read)."""
    with open(path, newline="") as handle:
        bins = list(csv.DictReader(handle))
    return [{**b, "low": float(b["low"]), "high": float(b["high"]), "steps": int(b["steps"]),
             "lives_lost": int(b["lives_lost"])} for b in bins]  # fmt: skip


def inside(bins: list[dict], low: float, high: float, where: Path) -> list[bool]:
    """Which of the bins lie in [low, high); a bin across either edge cannot be split."""
    for b in bins:
        if b["low"] < low < b["high"] or b["low"] < high < b["high"]:
            raise UserError(f"{where}: the score bin {b['low']:,.0f}-{b['high']:,.0f} crosses the range "
                             f"{low:,.0f}-{high:,.0f}; diagnose again with --bins that split there")  # fmt: skip
    return [low <= b["low"] and b["high"] <= high for b in bins]


def score_range(game: str) -> tuple[float, float]:
    if game not in RANGES:
        raise UserError(f"no score range for {game} in RANGES (results/report_diagnosis.py): add the one to compare")
    return RANGES[game]


def per_thousand(lives: int, steps: int) -> float:
    return 1000 * lives / steps if steps else float("nan")


def diagnosis_table(diagnosis: Path) -> list[dict]:
    """Per game and policy: the returns, on-policy agreement and KL with the expert (none for
    the expert itself), the lives lost, and in the game's score range: the share of steps,
    the lives lost and their rate per 1,000 steps there and elsewhere."""
    rows = []
    for path in sorted(diagnosis.glob("*/*/summary.json")):
        game, policy, summary = path.parent.parent.name, path.parent.name, json.loads(path.read_text())
        low, high = score_range(game)
        bins = score_bins(path.parent / "by_score.csv")
        mine = inside(bins, low, high, path.parent / "by_score.csv")
        steps_in = sum(b["steps"] for b, is_in in zip(bins, mine) if is_in)
        lives_in = sum(b["lives_lost"] for b, is_in in zip(bins, mine) if is_in)
        steps_out, lives_out = summary["steps"] - steps_in, summary["lives_lost"] - lives_in
        rows.append({
            "game": game, "policy": policy, "episodes": summary["episodes"],
            "returns": " ".join(f"{r:,.0f}" for r in summary["returns"]), "mean_return": summary["mean_return"],
            "agreement": summary["agreement"], "kl": summary["kl"], "lives_lost": summary["lives_lost"],
            "score_range": f"{low:,.0f}-{high:,.0f}", "percent_of_steps_in_range": 100 * steps_in / summary["steps"],
            "lives_lost_in_range": lives_in, "lives_per_1000_steps_in_range": per_thousand(lives_in, steps_in),
            "lives_per_1000_steps_elsewhere": per_thousand(lives_out, steps_out),
            "episodes_past_range": sum(r >= high for r in summary["returns"]),
        })  # fmt: skip
    return rows


def store_table(diagnosis: Path) -> list[dict]:
    """Per game, the teacher store the diagnoses looked their states up in (store_lookup.json
    of its first policy): its episodes' returns and its steps in the score range and past it."""
    rows = []
    for game in sorted({p.parent.parent.name for p in diagnosis.glob("*/*/store_lookup.json")}):
        path = sorted(diagnosis.glob(f"{game}/*/store_lookup.json"))[0]
        lookup, (low, high) = json.loads(path.read_text()), score_range(game)
        bins = lookup["by_score"]
        if not bins[-1]["high"] >= high:
            raise UserError(f"{path}: its score bins end at {bins[-1]['high']:,.0f}, below the range's end")
        mine = inside(bins, low, high, path)
        steps_in = sum(b["store_steps"] for b, is_in in zip(bins, mine) if is_in)
        steps_past = sum(b["store_steps"] for b in bins if b["low"] >= high) + lookup["store_steps_above_last_bin"]
        returns = lookup["store_episode_returns"]
        rows.append({
            "game": game, "store_steps": lookup["store_steps"], "episodes": lookup["store_episodes"],
            "score_range": f"{low:,.0f}-{high:,.0f}",
            "episodes_ending_in_range": sum(low <= r < high for r in returns),
            "episodes_past_range": sum(r >= high for r in returns),
            "steps_in_range": steps_in, "percent_in_range": 100 * steps_in / lookup["store_steps"],
            "steps_past_range": steps_past, "percent_past_range": 100 * steps_past / lookup["store_steps"],
            "highest_score": lookup["store_max_score"],
        })  # fmt: skip
    return rows

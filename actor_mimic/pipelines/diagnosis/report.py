"""What a diagnosis says about one game: the summary, the binned tables and the files.

    summary.json     the game's numbers: agreement, KL, teacher's cost, score, lives lost
                     (and the score at each), the settings, the files written
    steps.npz        every agent step (play.py `GamePlay.steps`) with both policies'
                     probabilities, greedy actions, agreement and KL
    deaths.npz       the states before each lost life: stacks uint8 (D, N, K, H, W), their
                     rows in steps.npz, a mask of the valid ones (an episode younger than N)
    deaths.csv       one row per lost life: episode, step, score, lives, and the agreement
                     and KL over the states before it
    by_step.csv      agreement, KL, teacher's cost and lives lost per bin of episode steps
    by_score.csv     the same per bin of score (the episode's return so far)

Bins have round widths (1, 2 or 5 times a power of ten) chosen so that about `bins` of them
cover the values seen; a bin holds low <= value < high. Every mean is over the states in the
bin (empty: blank in the CSV, null in JSON).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from actor_mimic.common.atari import ALE_ACTION_NAMES
from actor_mimic.pipelines.diagnosis.labels import Comparison, log_policy
from actor_mimic.pipelines.diagnosis.play import GamePlay

SUMMARY = "summary.json"
MARK = "amn diagnose play"  # in every summary.json: what wrote the folder
BIN_COLUMNS = ("bin", "low", "high", "steps", "agreement", "kl", "teacher_cost", "lives_lost", "episodes")
DEATH_COLUMNS = ("death", "episode", "env", "step", "episode_step", "score", "lives_before", "lives_after",
                 "frames", "agreement_before", "kl_before", "fatal_action", "teacher_action")  # fmt: skip


def action_names(action_set: list[int]) -> list[str]:
    return [ALE_ACTION_NAMES[a] for a in action_set]


def nice_width(span: float, bins: int) -> float:
    """The smallest of 1, 2, 5 x 10^k at least span / bins (1 for an empty span)."""
    if span <= 0:
        return 1.0
    raw = span / bins
    power = 10.0 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw * (1 - 1e-12):
            return factor * power
    return 10 * power


def bin_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """float64 (B+1,): round-width edges covering `values`, low <= v < high in each bin; whole
    numbers (steps, most games' scores) get whole widths."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return np.array([0.0, 1.0])
    low, high = float(values.min()), float(values.max())
    width = nice_width(high - low, bins)
    if np.all(values == np.round(values)):
        width = max(1.0, math.ceil(width))
    start = math.floor(low / width) * width
    count = max(1, math.floor((high - start) / width) + 1)
    return np.round(start + width * np.arange(count + 1, dtype=np.float64), 9)  # 0.6, not 0.6000000000000001


def _mean(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    return float(values.mean()) if len(values) else None


def binned(values: np.ndarray, edges: np.ndarray, steps: dict, comparison: Comparison | None) -> list[dict]:
    """One row per bin of `values` (T,): counts and means of the states whose value falls in it."""
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        inside = index == b
        rows.append({
            "bin": b, "low": float(edges[b]), "high": float(edges[b + 1]), "steps": int(inside.sum()),
            "agreement": _mean(comparison.agree[inside].astype(np.float64)) if comparison else None,
            "kl": _mean(comparison.kl[inside]) if comparison else None,
            "teacher_cost": _mean(comparison.teacher_cost[inside]) if comparison else None,
            "lives_lost": int(steps["life_lost"][inside].sum()),
            "episodes": len(np.unique(steps["episodes"][inside])),
        })  # fmt: skip
    return rows


def death_rows(play: GamePlay, comparison: Comparison | None) -> list[dict]:
    names = action_names(play.action_set)
    rows = []
    for number, death in enumerate(play.deaths):
        rows.append({
            "death": number, "episode": death.episode, "env": death.env, "step": death.index,
            "episode_step": death.episode_step, "score": death.score, "lives_before": death.lives_before,
            "lives_after": death.lives_after, "frames": len(death.rows),
            "agreement_before": _mean(comparison.agree[death.rows].astype(np.float64)) if comparison else None,
            "kl_before": _mean(comparison.kl[death.rows]) if comparison else None,
            "fatal_action": names[int(play.steps["actions"][death.index])],
            "teacher_action": names[int(comparison.teacher_greedy[death.index])] if comparison else None,
        })  # fmt: skip
    return rows


def summarise(play: GamePlay, comparison: Comparison | None) -> dict:
    """The game's numbers (see the module docstring)."""
    steps = play.steps
    complete = [e for e in play.episodes if e["complete"]]
    returns = [e["return"] for e in complete]
    final = [d.score for d in play.deaths if d.lives_after == 0]
    return {
        "game": play.game,
        "actions": action_names(play.action_set),
        "steps": len(steps["actions"]),
        "episodes": len(complete),
        "episodes_cut": len(play.episodes) - len(complete),
        "mean_return": float(np.mean(returns)) if returns else None,
        "returns": returns,
        "agreement": _mean(comparison.agree.astype(np.float64)) if comparison else None,
        "kl": _mean(comparison.kl) if comparison else None,
        "teacher_cost": _mean(comparison.teacher_cost) if comparison else None,
        "off_greedy": _mean((steps["actions"] != np.argmax(steps["student_outputs"], axis=1)).astype(np.float64)),
        "lives_lost": len(play.deaths),
        "scores_at_lost_lives": [d.score for d in play.deaths],
        "scores_at_last_life": final,
        "student_action_share": _shares(np.argmax(steps["student_outputs"], axis=1), play.action_set),
        "teacher_action_share": _shares(comparison.teacher_greedy, play.action_set) if comparison else None,
    }


def _shares(greedy: np.ndarray, action_set: list[int]) -> dict:
    counts = np.bincount(greedy, minlength=len(action_set))
    return {name: float(c / max(1, len(greedy))) for name, c in zip(action_names(action_set), counts)}


def csv_text(rows: list[dict], columns) -> str:
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return table.getvalue()


def step_arrays(play: GamePlay, comparison: Comparison | None, student_tau: float) -> dict[str, np.ndarray]:
    """steps.npz's arrays: the recorded steps, the action set, the student's policy and, with a
    teacher, the comparison."""
    arrays = dict(play.steps) | {"action_set": np.asarray(play.action_set, dtype=np.int64)}
    arrays["student_greedy"] = np.argmax(play.steps["student_outputs"], axis=1).astype(np.int64)
    arrays["student_probs"] = np.exp(log_policy(play.steps["student_outputs"], student_tau)).astype(np.float32)
    if comparison is not None:
        arrays |= {"teacher_probs": comparison.teacher_probs,
                   "teacher_greedy": comparison.teacher_greedy, "agree": comparison.agree, "kl": comparison.kl,
                   "teacher_cost": comparison.teacher_cost}  # fmt: skip
    return arrays


def death_arrays(play: GamePlay, before_death: int, stack_shape: tuple[int, int, int]) -> dict[str, np.ndarray]:
    """deaths.npz's arrays; windows shorter than `before_death` are right-aligned (the fatal
    state is always last) and padded at the front, where `valid` is False."""
    count = len(play.deaths)
    stacks = np.zeros((count, before_death, *stack_shape), dtype=np.uint8)
    rows = np.full((count, before_death), -1, dtype=np.int64)
    for d, death in enumerate(play.deaths):
        n = len(death.rows)
        stacks[d, before_death - n :] = death.stacks
        rows[d, before_death - n :] = death.rows
    valid = rows >= 0
    scores = np.where(valid, play.steps["scores"][np.maximum(rows, 0)], np.nan)
    return {"stacks": stacks, "rows": rows, "valid": valid, "scores": scores,
            "death_scores": np.array([d.score for d in play.deaths], dtype=np.float64)}  # fmt: skip


def write_game(folder: Path, play: GamePlay, arrays: dict[str, np.ndarray], summary: dict, by_step: list[dict],
               by_score: list[dict], deaths: list[dict], before_death: int,
               stack_shape: tuple[int, int, int]) -> None:  # fmt: skip
    """Every file of the module docstring into `folder` (a new folder, renamed into place by
    the caller)."""
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "steps.npz", **arrays)  # type: ignore[arg-type]  # numpy's stub
    np.savez_compressed(folder / "deaths.npz", **death_arrays(play, before_death, stack_shape))  # type: ignore[arg-type]
    (folder / "by_step.csv").write_text(csv_text(by_step, BIN_COLUMNS))
    (folder / "by_score.csv").write_text(csv_text(by_score, BIN_COLUMNS))
    (folder / "deaths.csv").write_text(csv_text(deaths, DEATH_COLUMNS))
    document = {"diagnosis": MARK, **summary, "by_step": by_step, "by_score": by_score, "deaths": deaths}
    (folder / SUMMARY).write_text(json.dumps(document, indent=1) + "\n")


def is_game_folder(path: Path) -> bool:
    """True if `path` is a game folder a diagnosis wrote (its summary.json says so)."""
    try:
        return json.loads((path / SUMMARY).read_text()).get("diagnosis") == MARK
    except (OSError, ValueError, AttributeError):
        return False

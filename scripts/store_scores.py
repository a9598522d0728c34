"""How much of a game's teacher data lies in each stage of its episodes, by score.

    python scripts/store_scores.py runs/results/stores/crazy_climber.zarr [MORE.zarr ...] --edges 15000 20000

A student can only imitate the stages its teacher store holds. Each stored step's score is its
episode's return before it (what `amn diagnose play` bins its steps by), so the rows printed,
per store and for all of them together, say how many stored steps and episodes lie below,
between and past the score edges: e.g. how much of Crazy Climber's data is past the expert's
wall at 16,000 (results/README.md). An episode the collection's budget cut is stored as
truncated: its steps count with their scores, its return among the episodes ending in its range.
"""

from __future__ import annotations

import argparse
import itertools
import sys

import numpy as np

from actor_mimic.errors import UserError
from actor_mimic.store import open_store, read_field


def step_scores(path: str) -> tuple[str, np.ndarray, list[float]]:
    """(game, the score before every stored step, the returns of the episodes that ended)."""
    scores = []
    with open_store(path) as (backend, info):
        for lane in info.lanes:
            rewards = read_field(backend, info.attrs, lane.prefix, "rewards", 0, lane.num_steps).astype(np.float64)
            for start, length in zip(lane.episode_starts, lane.episode_lengths):
                within = rewards[start : start + length]
                scores.append(np.concatenate([[0.0], np.cumsum(within)[:-1]]))
        return info.game, np.concatenate(scores) if scores else np.zeros(0), [float(r) for r in info.episode_returns]


def rows(name: str, scores: np.ndarray, returns: list[float], edges: list[float]) -> list[str]:
    bounds = [-np.inf, *edges, np.inf]
    out = []
    for low, high in itertools.pairwise(bounds):
        steps = int(((scores >= low) & (scores < high)).sum())
        ended = sum(low <= r < high for r in returns)
        label = f"{'' if low == -np.inf else f'{low:,.0f}'}-{'' if high == np.inf else f'{high:,.0f}'}"
        out.append(f"{name:<40} {label:>15} {steps:>9,} {100 * steps / max(len(scores), 1):>6.1f}% {ended:>6}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stores", nargs="+", help="teacher stores of one game")
    parser.add_argument("--edges", type=float, nargs="+", required=True, help="score edges, ascending")
    args = parser.parse_args()
    if args.edges != sorted(args.edges):
        raise UserError(f"--edges must ascend, got {args.edges}")
    found = [step_scores(path) for path in args.stores]
    games = {game for game, _, _ in found}
    if len(games) > 1:
        raise UserError(f"the stores hold different games ({', '.join(sorted(games))}): give one game's stores")
    print(f"{'store':<40} {'score range':>15} {'steps':>9} {'share':>7} {'episodes ending there':>6}")
    for path, (_, scores, returns) in zip(args.stores, found):
        name = path.rstrip("/")
        print("\n".join(rows(name if len(name) <= 40 else "..." + name[-37:], scores, returns, args.edges)))
    if len(found) > 1:
        everything = np.concatenate([scores for _, scores, _ in found])
        print("\n".join(rows("all together", everything, [r for _, _, rs in found for r in rs], args.edges)))


if __name__ == "__main__":
    try:
        main()
    except UserError as error:
        print(f"store_scores.py: error: {error}", file=sys.stderr)
        sys.exit(2)

"""Collection speed: what recording costs, and how close collection gets to the bare env.

Three rollouts of the same game and number of envs, measured side by side in one run
(interleaved and repeated; the ratios are medians of each repeat's ratios, so load from other
processes drifting between repeats does not decide them). Speeds count agent steps of the
stepping loop only (env creation and the first reset excluded in all three):

    env only     ale-py's vector env stepped with random actions (the ceiling)
    rollout      `collect(..., record=False)`: expert forward pass + epsilon-greedy, no store
    collect      `collect(...)` writing a Zarr teacher store (frames, Q-values, activations)

Target: recording costs at most 10% (collect vs rollout). The expert is randomly initialised
(its forward pass costs the same as a trained one's) and plays with epsilon 1: a greedy
untrained expert never serves the ball in Breakout, and its near-constant frames would make
the store's compression unrealistically cheap. The expert still labels every step.

    python benchmarks/bench_collect.py [--game breakout] [--steps 3000] [--num-envs 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.atari import AtariConfig, make_vector_env
from actor_mimic.common.checkpoint import random_init_expert


def env_only(config: AtariConfig, steps: int, num_envs: int) -> float:
    """Agent steps per second of the bare vector env with random actions (resets excluded
    from the count, as collect excludes them)."""
    venv = make_vector_env(config, num_envs)
    rng = np.random.default_rng(0)
    num_actions = venv.single_action_space.n
    venv.reset(seed=0)
    start = time.perf_counter()
    for _ in range(steps // num_envs):
        venv.step(rng.integers(0, num_actions, num_envs).astype(np.int32))
    elapsed = time.perf_counter() - start
    venv.close()
    return (steps // num_envs) * num_envs / elapsed


class RolloutTimes(logging.Handler):
    """Collects the (steps, seconds) that `collect` logs for its rollout, setup excluded."""

    def __init__(self):
        super().__init__()
        self.last: tuple[int, float] | None = None

    def emit(self, record):
        if hasattr(record, "steps"):
            self.last = (record.steps, record.seconds)


def collection(expert, steps: int, num_envs: int, out: Path | None, times: RolloutTimes) -> float:
    """Steps per second of collect's rollout loop (env creation and reset excluded, like
    `env_only`; the final flush and close of the store included)."""
    collect(CollectConfig(expert=expert, out=out, steps=steps, num_envs=num_envs, epsilon=1.0, record=out is not None, overwrite=True))
    recorded, seconds = times.last
    return recorded / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="breakout")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = AtariConfig(args.game)
    expert = random_init_expert(config)
    times = RolloutTimes()
    logger = logging.getLogger("actor_mimic.collect.collector")
    logger.addHandler(times)
    logger.setLevel(logging.INFO)
    results: dict[str, list[float]] = {"env only": [], "rollout": [], "collect": []}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.zarr"
        collection(expert, 200, args.num_envs, None, times)  # warm up imports and the network
        runs = {
            "env only": lambda: env_only(config, args.steps, args.num_envs),
            "rollout": lambda: collection(expert, args.steps, args.num_envs, None, times),
            "collect": lambda: collection(expert, args.steps, args.num_envs, out, times),
        }
        for repeat in range(args.repeats):
            order = list(runs) if repeat % 2 == 0 else list(reversed(runs))  # cancel drifts in load
            for name in order:
                results[name].append(runs[name]())
    best = {name: max(values) for name, values in results.items()}
    # Ratios of the runs made next to each other in each repeat, then their median: robust
    # to the load of other processes drifting between repeats.
    paired = {
        pair: float(np.median([a / b for a, b in zip(results[pair[0]], results[pair[1]])]))
        for pair in (("collect", "rollout"), ("collect", "env only"), ("rollout", "env only"))
    }
    print(f"{args.game}, {args.num_envs} envs, {args.steps} steps x {args.repeats} repeats, interleaved")
    for name, values in results.items():
        print(f"  {name:9s} best {best[name]:6.0f} steps/s   (all: {', '.join(f'{v:.0f}' for v in values)})")
    print("median of per-repeat ratios:")
    cost = 1 - paired[("collect", "rollout")]
    print(f"  recording cost (1 - collect/rollout): {100 * cost:5.1f}%   target <= 10%")
    print(f"  collect / env only:                   {paired[('collect', 'env only')]:5.2f}")
    print(f"  rollout / env only:                   {paired[('rollout', 'env only')]:5.2f}")


if __name__ == "__main__":
    main()

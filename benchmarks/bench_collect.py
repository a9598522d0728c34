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


def env_only(config: AtariConfig, steps: int, num_envs: int) -> tuple[float, float]:
    """Agent steps per second of the bare vector env with random actions (resets excluded
    from the count, as collect excludes them)."""
    venv = make_vector_env(config, num_envs)
    rng = np.random.default_rng(0)
    num_actions = venv.single_action_space.n
    venv.reset(seed=0)
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(steps // num_envs):
        venv.step(rng.integers(0, num_actions, num_envs).astype(np.int32))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    venv.close()
    done = (steps // num_envs) * num_envs
    return done / elapsed, 1000 * cpu / done


class RolloutTimes(logging.Handler):
    """Collects the (steps, seconds) that `collect` logs for its rollout, setup excluded."""

    def __init__(self):
        super().__init__()
        self.last: tuple[int, float, float] | None = None

    def emit(self, record):
        if hasattr(record, "steps"):
            self.last = (record.steps, record.seconds, record.cpu_seconds)


def collection(expert, steps: int, num_envs: int, out: Path | None, times: RolloutTimes) -> tuple[float, float]:
    """(steps per second, CPU milliseconds per step) of collect's rollout loop (env creation
    and reset excluded, like `env_only`; the final flush and close of the store included)."""
    config = CollectConfig(expert=expert, out=out, steps=steps, num_envs=num_envs, epsilon=1.0, overwrite=True)
    config.record = out is not None
    collect(config)
    recorded, seconds, cpu_seconds = times.last
    return recorded / seconds, 1000 * cpu_seconds / recorded


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
    speeds: dict[str, list[float]] = {"env only": [], "rollout": [], "collect": []}
    cpu_per_step: dict[str, list[float]] = {name: [] for name in speeds}
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
                speed, cpu = runs[name]()
                speeds[name].append(speed)
                cpu_per_step[name].append(cpu)

    def paired(table: dict, a: str, b: str) -> float:
        """Median over repeats of a/b, each ratio from runs made next to each other: robust to
        the load of other processes drifting between repeats."""
        return float(np.median([x / y for x, y in zip(table[a], table[b])]))

    print(f"{args.game}, {args.num_envs} envs, {args.steps} steps x {args.repeats} repeats, interleaved")
    print(f"  {'':9s} {'steps/s (each repeat)':>36s}   CPU ms/step (all threads, median)")
    for name in speeds:
        runs_text = ", ".join(f"{v:.0f}" for v in speeds[name])
        print(f"  {name:9s} {runs_text:>36s}   {np.median(cpu_per_step[name]):.2f}")
    print("medians of per-repeat ratios:")
    wall_cost = 1 - paired(speeds, "collect", "rollout")
    cpu_cost = paired(cpu_per_step, "collect", "rollout") - 1
    print(f"  recording cost, wall clock (1 - collect/rollout steps/s): {100 * wall_cost:5.1f}%   target <= 10%")
    print(f"  recording cost, CPU time (collect/rollout CPU per step - 1): {100 * cpu_cost:5.1f}%")
    print(f"  collect / env only (steps/s): {paired(speeds, 'collect', 'env only'):5.2f}")
    print(f"  rollout / env only (steps/s): {paired(speeds, 'rollout', 'env only'):5.2f}")


if __name__ == "__main__":
    main()

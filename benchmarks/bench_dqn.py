"""DQN learner throughput: acting alone against acting + learning, and where the time goes.

Runs, side by side in one process on the same game, environments and network:

    env only      the C++ vector env stepped with random actions
    acting        env + the network choosing every action (epsilon 0, so every step is a forward)
    learning      env + acting + one update per 4 agent steps, for the paper's settings
                  (RMSProp, 1-step, no Double DQN) and the cheap-expert settings (Adam,
                  Double DQN, 3-step returns)

and prints agent steps/s, the learning/acting ratio, the share of time spent in the
environment, in acting, in sampling the replay memory and in gradient steps, and the
wall-clock hours per million agent steps (what to plan expert budgets with).

    .venv/bin/python benchmarks/bench_dqn.py --game breakout --steps 600

Timings depend on what else the machine runs: read ratios, not absolutes, on a shared box.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np
import torch

from actor_mimic.common.atari import AtariConfig, make_vector_env
from actor_mimic.transfer.config import preset
from actor_mimic.transfer.initialisation import fresh_network
from actor_mimic.transfer.learner import DQNLearner


class Timer:
    """Accumulates seconds per named phase."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


def bench_env_only(atari: AtariConfig, num_envs: int, steps: int) -> float:
    env = make_vector_env(atari, num_envs, num_threads=1)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    start = time.perf_counter()
    for _ in range(steps // num_envs):
        env.step(rng.integers(0, env.single_action_space.n, size=num_envs))
    elapsed = time.perf_counter() - start
    env.close()
    return (steps // num_envs) * num_envs / elapsed


def bench_learner(atari: AtariConfig, preset_name: str, num_envs: int, steps: int, learn: bool) -> dict:
    """Steps/s and the time per phase of a learner over `steps` agent steps (after a warm-up
    that fills the replay memory past learning_starts)."""
    warmup = 400
    config = preset(preset_name, total_steps=10**9, num_envs=num_envs, replay_capacity=20_000,
                    learning_starts=warmup, eval_every=10**9, checkpoint_every_minutes=10**6)  # fmt: skip
    with tempfile.TemporaryDirectory() as run_dir:
        learner = DQNLearner(atari, config, fresh_network(atari), run_dir, tensorboard=False)
        actor, learning, replay = learner.actor, learner.learning, learner.replay
        actor.reset(config.seed, replay)
        while learner.step < warmup:
            learner.env_step(learner.act(actor.frames, 1.0))
        learning.updates = learning.updates_due(learner.step, replay)  # start timing with no backlog of updates
        timer = Timer()
        sample = replay.sample

        def timed_sample(*args, **kwargs):
            t = time.perf_counter()
            batch = sample(*args, **kwargs)
            timer.add("  of which replay sampling", time.perf_counter() - t)
            return batch

        replay.sample = timed_sample
        first_step, start = learner.step, time.perf_counter()
        while learner.step < first_step + steps:
            t0 = time.perf_counter()
            actions = learner.act(actor.frames, 0.0)
            t1 = time.perf_counter()
            learner.env_step(actions)
            t2 = time.perf_counter()
            if learn:
                learner.learn()
            t3 = time.perf_counter()
            timer.add("acting (forward)", t1 - t0)
            timer.add("environment + replay write", t2 - t1)
            timer.add("updates (incl. sampling)", t3 - t2)
        elapsed = time.perf_counter() - start
        played = learner.step - first_step
        learner.close()
    seconds = timer.seconds
    if learn:
        seconds["  of which gradient steps"] = seconds["updates (incl. sampling)"] - seconds.get(
            "  of which replay sampling", 0.0
        )
    return {"steps_per_second": played / elapsed, "elapsed": elapsed, "seconds": seconds,
            "updates": played // config.train_every if learn else 0}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--game", default="breakout")
    parser.add_argument("--num-envs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=600, help="agent steps per learning measurement")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    atari = AtariConfig(args.game)

    env_only = bench_env_only(atari, args.num_envs, 5 * args.steps)
    acting = bench_learner(atari, "cheap", args.num_envs, 3 * args.steps, learn=False)
    learning = {name: bench_learner(atari, name, args.num_envs, args.steps, learn=True) for name in ("paper", "cheap")}

    print(f"game {atari.game}, {args.num_envs} envs, 1 env thread, 1 torch thread, batch 32, 1 update / 4 steps")
    print(f"{'env only':<28}{env_only:>10.0f} agent steps/s")
    print(f"{'acting (greedy forward)':<28}{acting['steps_per_second']:>10.0f} agent steps/s")
    for name, result in learning.items():
        ratio = result["steps_per_second"] / acting["steps_per_second"]
        hours = 1e6 / result["steps_per_second"] / 3600
        print(f"{'learning, ' + name + ' settings':<28}{result['steps_per_second']:>10.1f} agent steps/s  "
              f"= {ratio:.3f} x acting, {result['steps_per_second'] / 4:.1f} updates/s, "
              f"{hours:.1f} h per 1M agent steps")  # fmt: skip
    for name, result in [("acting", acting)] + [(f"learning ({n})", r) for n, r in learning.items()]:
        total = result["elapsed"]
        order = ("environment + replay write", "acting (forward)", "updates (incl. sampling)",
                 "  of which replay sampling", "  of which gradient steps")  # fmt: skip
        parts = ", ".join(f"{k.strip()} {100 * result['seconds'][k] / total:.0f}%" for k in order
                          if k in result["seconds"])  # fmt: skip
        print(f"time in {name}: {parts}")
    if args.json:
        print(json.dumps({"env_only": env_only, "acting": acting, "learning": learning}, indent=1))


if __name__ == "__main__":
    main()

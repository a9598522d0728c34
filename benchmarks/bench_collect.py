"""Collection speed: each stage alone beside the whole, and what recording costs.

Five measurements of the same game and number of envs, side by side in one run (interleaved
and repeated; ratios are medians of each repeat's ratios, so load from other processes
drifting between repeats does not decide them). Speeds count agent steps of the stepping
loop only (env creation and the first reset excluded everywhere):

    env only        ale-py's vector env stepped with random actions, autoresetting (the ceiling
                    of stepping alone)
    env + resets    the collector's emulators alone (collect/envs.py): one env per lane, random
                    actions, each episode reset with its own seed, as a collection must (a seeded
                    reset reloads the ROM: ~90 ms of CPU, hidden on a background thread)
    expert forward  the expert labelling batches of num_envs observations, one thread
    rollout         `collect(..., record=False)`: all of the above together, no store
    collect         `collect(...)` writing a Zarr teacher store (frames, Q-values, activations)

Targets: collect >= 0.7x env only; recording costs at most 10% (collect vs rollout). The CPU
time per step of each stage (all threads) says how close to the limit the whole can get: on
C cores, collect cannot run faster than C / (CPU per step of env + resets, forward and
recording). The expert is randomly initialised (its forward pass costs the same as a trained
one's) and plays with epsilon 1: a greedy untrained expert never serves the ball in Breakout,
and its near-constant frames would make the store's compression unrealistically cheap (its
episodes are short, ~200 steps: resets weigh more than with a trained expert). The expert
still labels every step.

The default budget gives each lane one whole chunk (8 x 1024 steps): the store's per-chunk
costs weigh per step as in a long collection.

    python benchmarks/bench_collect.py [--game breakout] [--steps 8192] [--num-envs 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.collect.envs import LaneEnvs
from actor_mimic.common.atari import AtariConfig, make_vector_env
from actor_mimic.common.checkpoint import random_init_expert


def timed(function) -> tuple[float, float]:
    """(wall seconds, CPU seconds of every thread of the process) of `function()`."""
    start, start_cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - start, time.process_time() - start_cpu


def env_only(config: AtariConfig, steps: int, num_envs: int) -> tuple[float, float]:
    """(steps/s, CPU ms/step) of the bare vector env with random actions, autoresetting."""
    venv = make_vector_env(config, num_envs)
    rng = np.random.default_rng(0)
    num_actions = venv.single_action_space.n
    venv.reset(seed=0)
    rounds = steps // num_envs

    def play():
        for _ in range(rounds):
            venv.step(rng.integers(0, num_actions, num_envs).astype(np.int32))

    seconds, cpu = timed(play)
    venv.close()
    return rounds * num_envs / seconds, 1000 * cpu / (rounds * num_envs)


def env_with_resets(config: AtariConfig, steps: int, num_envs: int) -> tuple[float, float]:
    """(steps/s, CPU ms/step) of the collector's emulators with random actions: every lane
    steps when ready, an ended episode's lane is reset with a new seed in the background."""
    envs = LaneEnvs(config, num_envs)
    rng = np.random.default_rng(0)
    num_actions = envs.envs[0].single_action_space.n
    envs.reset(range(num_envs), range(num_envs))
    episodes, done = num_envs, 0

    def play():
        nonlocal episodes, done
        while done < steps:
            lanes = [lane for lane in range(num_envs) if envs.ready(lane)]
            if not lanes:
                envs.wait_for_a_reset()
                continue
            _, terminated, truncated = envs.step(lanes, rng.integers(0, num_actions, len(lanes)))
            done += len(lanes)
            for lane in np.asarray(lanes)[terminated | truncated]:
                envs.start_reset(int(lane), episodes)
                episodes += 1

    seconds, cpu = timed(play)
    envs.close()
    return done / seconds, 1000 * cpu / done


def expert_forward(expert, steps: int, num_envs: int, frames: np.ndarray) -> tuple[float, float]:
    """(samples/s, CPU ms/sample) of the expert labelling batches of num_envs real observations."""
    batches = steps // num_envs

    def label():
        with torch.inference_mode():
            for i in range(batches):
                start = (i * num_envs) % (len(frames) - num_envs)
                expert.network(torch.from_numpy(frames[start : start + num_envs]), hidden_layer="fc")

    seconds, cpu = timed(label)
    return batches * num_envs / seconds, 1000 * cpu / (batches * num_envs)


class RolloutTimes(logging.Handler):
    """Collects what `collect` logs of its rollout: steps, seconds and CPU seconds of the loop
    (setup excluded, every row written included), and of closing the store."""

    def __init__(self):
        super().__init__()
        self.last: dict | None = None
        self.closing: list[float] = []  # CPU seconds of each recorded run's closing

    def emit(self, record):
        if hasattr(record, "steps"):
            self.last = record.__dict__


def collection(expert, steps: int, num_envs: int, out: Path | None, times: RolloutTimes) -> tuple[float, float]:
    """(steps per second, CPU milliseconds per step) of collect's rollout loop (env creation
    and reset excluded, like `env_only`; writing every row included). Closing a store (its
    last commit and its card: a fixed cost per run) is counted apart, in `times.closing`."""
    config = CollectConfig(expert=expert, out=out, steps=steps, num_envs=num_envs, epsilon=1.0, overwrite=True)
    config.record = out is not None
    collect(config)
    last = times.last
    if out is not None:
        times.closing.append(last["close_cpu_seconds"])
    return last["steps"] / last["seconds"], 1000 * last["cpu_seconds"] / last["steps"]


def observations(config: AtariConfig, count: int) -> np.ndarray:
    """uint8 (count, 4, 84, 84): stacks of a random game, for the forward pass to label."""
    venv = make_vector_env(config, 1)
    venv.reset(seed=0)
    stacks = [venv.step(np.array([i % 4], dtype=np.int32))[0][0] for i in range(count)]
    venv.close()
    return np.stack(stacks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="breakout")
    parser.add_argument("--steps", type=int, default=8192)
    parser.add_argument("--num-envs", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = AtariConfig(args.game)
    expert = random_init_expert(config)
    frames = observations(config, 256)
    times = RolloutTimes()
    logger = logging.getLogger("actor_mimic.collect.collector")
    logger.addHandler(times)
    logger.setLevel(logging.INFO)
    runs = {
        "env only": lambda: env_only(config, args.steps, args.num_envs),
        "env + resets": lambda: env_with_resets(config, args.steps, args.num_envs),
        "expert forward": lambda: expert_forward(expert, args.steps, args.num_envs, frames),
        "rollout": lambda: collection(expert, args.steps, args.num_envs, None, times),
        "collect": lambda: collection(expert, args.steps, args.num_envs, out, times),
    }
    speeds: dict[str, list[float]] = {name: [] for name in runs}
    cpu_per_step: dict[str, list[float]] = {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.zarr"
        collection(expert, 200, args.num_envs, None, times)  # warm up imports and the network
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

    cpu = {name: float(np.median(values)) for name, values in cpu_per_step.items()}
    cores = os.cpu_count() or 1
    print(f"{args.game}, {args.num_envs} envs, {args.steps} steps x {args.repeats} repeats, interleaved, {cores} cores")
    print(f"  {'':14s} {'steps/s (each repeat)':>36s}   CPU ms/step (all threads, median)")
    for name in runs:
        runs_text = ", ".join(f"{v:.0f}" for v in speeds[name])
        print(f"  {name:14s} {runs_text:>36s}   {cpu[name]:.3f}")
    print("medians of per-repeat ratios:")
    wall_cost = 1 - paired(speeds, "collect", "rollout")
    cpu_cost = paired(cpu_per_step, "collect", "rollout") - 1
    print(f"  recording cost, wall clock (1 - collect/rollout steps/s):     {100 * wall_cost:5.1f}%   target <= 10%")
    print(f"  recording cost, CPU time (collect/rollout CPU per step - 1):  {100 * cpu_cost:5.1f}%")
    print(f"  collect / env only (steps/s):        {paired(speeds, 'collect', 'env only'):5.2f}   target >= 0.7")
    print(f"  collect / env + resets (steps/s):    {paired(speeds, 'collect', 'env + resets'):5.2f}")
    print(f"  rollout / env only (steps/s):        {paired(speeds, 'rollout', 'env only'):5.2f}")
    print(f"closing a store (last commit, card), once per run: {np.median(times.closing):.2f} s of CPU")
    # The stages' CPU adds up: with every core busy, speeds go as 1 / CPU per step.
    stages = cpu["env + resets"] + cpu["expert forward"] + max(cpu["collect"] - cpu["rollout"], 0.0)
    print(
        f"CPU per step of the stages: env + resets {cpu['env + resets']:.3f} + forward {cpu['expert forward']:.3f} "
        f"+ recording {max(cpu['collect'] - cpu['rollout'], 0.0):.3f} = {stages:.3f} ms (collect itself "
        f"{cpu['collect']:.3f}); env only {cpu['env only']:.3f} ms: with {cores} cores all busy, "
        f"collect / env only <= {cpu['env only'] / stages:.2f}"
    )


if __name__ == "__main__":
    main()

"""Why `amn evaluate` plays with one torch thread: agent steps per second at 1 and 2 threads,
alone and beside a busy process (what a shared machine, or a training run, looks like).

    python benchmarks/bench_evaluate.py [--steps 3000] [--num-envs 2] [--rounds 2]

Plays the shipped Crazy Climber expert (`evaluate`, the function behind `amn evaluate`) in
alternating rounds, in child processes so each starts with its own thread pool. The busy
process is one pure-Python loop (one core). Read the ratios: the machine is shared.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from pathlib import Path

EXPERT = Path(__file__).resolve().parents[1] / "experts" / "crazy_climber.safetensors"


def play(threads: int, steps: int, num_envs: int, queue) -> None:
    import torch

    from actor_mimic.common.checkpoint import load_checkpoint
    from actor_mimic.common.evaluation import evaluate

    torch.set_num_threads(threads)
    expert = load_checkpoint(EXPERT)
    config = expert.metadata.atari_config("crazy_climber")
    outputs = list(range(expert.metadata.num_actions))
    start = time.perf_counter()
    result = evaluate(expert.network, config, outputs, steps=steps, num_envs=num_envs, progress=False)
    queue.put(result.steps / (time.perf_counter() - start))


def busy_loop() -> None:
    while True:
        pass


def steps_per_second(threads: int, steps: int, num_envs: int) -> float:
    queue = multiprocessing.get_context("spawn").SimpleQueue()
    child = multiprocessing.get_context("spawn").Process(target=play, args=(threads, steps, num_envs, queue))
    child.start()
    child.join()
    return queue.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--num-envs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[tuple[str, int], list[float]] = {}
    for _ in range(args.rounds):
        for busy in (False, True):
            neighbour = multiprocessing.get_context("spawn").Process(target=busy_loop) if busy else None
            if neighbour is not None:
                neighbour.start()
            try:
                for threads in (1, 2):
                    rate = steps_per_second(threads, args.steps, args.num_envs)
                    results.setdefault(("busy" if busy else "alone", threads), []).append(rate)
            finally:
                if neighbour is not None:
                    neighbour.terminate()
                    neighbour.join()
    print(f"agent steps/s, Crazy Climber expert, {args.num_envs} environments, median of {args.rounds} rounds")
    for where in ("alone", "busy"):
        one, two = (statistics.median(results[(where, t)]) for t in (1, 2))
        label = "alone" if where == "alone" else "beside a busy process"
        print(f"  {label:<24} 1 thread {one:8.0f}   2 threads {two:8.0f}   1 thread / 2 threads {one / two:5.2f}")


if __name__ == "__main__":
    main()

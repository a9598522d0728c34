"""Per-core rates for planning a run past one machine (docs/scaling.md uses these figures).

    python benchmarks/bench_scaling.py                          # a few minutes
    python benchmarks/bench_scaling.py --collect-steps 32768 --fit-samples 1280 --threads 1 2

Measured in one run, on whatever this machine is doing (say if it was loaded):

1. collection: `amn collect` with the shipped Breakout expert (8 envs, one torch thread, each
   lane's emulator on its own thread), steps/s of wall clock and steps per CPU-second (every thread of the process
   counted: the per-core rate), and bytes on disk per transition of the store it wrote;
2. the loader over that store, batches of 256, with 0, 1 and 2 worker processes: samples/s
   (worker start-up excluded, and shown apart), and the resident memory of each worker at the
   start, middle and end of the epoch (flat: each worker holds a bounded group of blocks);
3. the training step alone (forward, backward, Adam, on batches already in memory) of the
   8-game AMN (nature_dqn) and the transfer AMN (multitask_amn), batch 64, with 1 torch
   thread (`--threads 1 2` adds more): samples/s per thread;
4. FLOPs per sample of that step, counted by torch.utils.flop_counter (convolutions and
   matrix products, forward and backward, the feature map f_i included).
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.datasets import TeacherDataset, make_loader
from actor_mimic.distill.module import ActorMimic
from actor_mimic.distill.tasks import GameStores, describe_tasks
from actor_mimic.store import bytes_on_disk, open_store

ROOT = Path(__file__).resolve().parents[1]
BATCH = 256
FIT_BATCH = 64  # the paper's 8 states per game, 8 games


class RolloutTimes(logging.Handler):
    """The (steps, seconds, cpu_seconds) that `collect` logs for its rollout, setup excluded."""

    def __init__(self):
        super().__init__()
        self.last: tuple[int, float, float] | None = None

    def emit(self, record):
        if hasattr(record, "steps"):
            self.last = (record.steps, record.seconds, record.cpu_seconds)


def measure_collection(out: Path, steps: int) -> dict:
    times = RolloutTimes()
    log = logging.getLogger("actor_mimic.collect.collector")
    log.addHandler(times)
    log.setLevel(logging.INFO)
    config = CollectConfig(expert=str(ROOT / "experts" / "breakout.safetensors"), out=out, steps=steps,
                           num_envs=8, torch_threads=1)  # fmt: skip
    collect(config)
    log.removeHandler(times)
    assert times.last is not None
    recorded, seconds, cpu_seconds = times.last
    return {"steps_per_s": recorded / seconds, "steps_per_cpu_s": recorded / cpu_seconds,
            "bytes_per_step": bytes_on_disk(out) / recorded}  # fmt: skip


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def worker_pids() -> list[int]:
    """The loader's worker processes: this process's children started by multiprocessing's
    spawn (its resource tracker, also a child, left out), from /proc."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and "spawn_main" in command and "resource_tracker" not in command:
            workers.append(int(entry.name))
    return sorted(workers)


def measure_loader(store: Path, workers: int) -> dict:
    dataset = TeacherDataset(str(store))
    loader = make_loader(dataset, batch_size=BATCH, seed=0, num_workers=workers)
    started = time.perf_counter()
    batches = iter(loader)
    first = next(batches)
    startup = time.perf_counter() - started
    count, samples, memory = len(loader), len(first["frames"]), []
    timed = time.perf_counter()
    for index, batch in enumerate(batches, 1):
        samples += len(batch["frames"])
        if workers and index in (1, count // 2, count - 1):
            memory.append([rss_mib(pid) for pid in worker_pids()])
    seconds = time.perf_counter() - timed
    served = samples - len(first["frames"])
    return {"samples_per_s": served / seconds, "startup_s": startup, "worker_rss_mib": memory}


def amn(store: Path, architecture: str) -> ActorMimic:
    with open_store(store) as (_, info):
        game = info.game
    return ActorMimic(describe_tasks([GameStores(game, [str(store)])]), architecture=architecture)


def fit_batch(store: Path) -> dict:
    loader = make_loader(TeacherDataset(str(store)), batch_size=FIT_BATCH, seed=0)
    return next(iter(loader))


def train_step(model: ActorMimic, optimiser, batch: dict) -> None:
    loss = model.per_sample_terms(batch)["loss"].mean()
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()


def measure_fit(store: Path, architecture: str, threads: int, steps: int) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = amn(store, architecture)
    optimiser = model.configure_optimizers()
    batch = fit_batch(store)
    train_step(model, optimiser, batch)  # warm-up
    started = time.perf_counter()
    for _ in range(steps):
        train_step(model, optimiser, batch)
    return steps * FIT_BATCH / (time.perf_counter() - started)


def count_flops(store: Path, architecture: str) -> tuple[float, float]:
    """(FLOPs per sample of forward+backward, parameters) of the training step's network."""
    from torch.utils.flop_counter import FlopCounterMode

    model = amn(store, architecture)
    batch = fit_batch(store)
    counter = FlopCounterMode(display=False)
    with counter:
        model.per_sample_terms(batch)["loss"].mean().backward()
    parameters = sum(p.numel() for p in model.amn.parameters())
    return counter.get_total_flops() / FIT_BATCH, parameters


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--collect-steps", type=int, default=16384, help="steps of the collection measured")
    parser.add_argument(
        "--fit-samples",
        type=int,
        default=640,
        help="samples of the 8-game AMN's timed steps "
        "(the transfer AMN, ~20x the FLOPs, runs a 20th of them, at least 2 steps)",
    )
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="torch thread counts of the fit")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="loader worker counts")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "breakout.zarr"
        collection = measure_collection(store, args.collect_steps)
        print(f"collection (8 envs, 1 torch thread), {args.collect_steps} steps of the shipped expert:")
        print(f"  {collection['steps_per_s']:.0f} steps/s wall, {collection['steps_per_cpu_s']:.0f} steps per "
              f"CPU-second, {collection['bytes_per_step']:.0f} B/transition on disk")  # fmt: skip

        print(f"loader over that store, batch {BATCH}:")
        for workers in args.workers:
            loader = measure_loader(store, workers)
            memory = "; ".join(
                f"worker {w}: " + " -> ".join(f"{sample[w]:.0f}" for sample in loader["worker_rss_mib"])
                for w in range(workers)
                if all(len(sample) > w for sample in loader["worker_rss_mib"])
            )
            rate, startup = loader["samples_per_s"], loader["startup_s"]
            memory = f"; RSS MiB at start -> middle -> end: {memory}" if memory else ""
            print(f"  {workers} workers: {rate:,.0f} samples/s (start-up {startup:.1f} s){memory}")

        print(f"training step alone (forward, backward, Adam), batch {FIT_BATCH}:")
        base = None
        for architecture in ("nature_dqn", "multitask_amn"):
            flops, parameters = count_flops(store, architecture)
            base = base or flops
            steps = max(2, round(args.fit_samples * base / flops / FIT_BATCH))
            rates = {threads: measure_fit(store, architecture, threads, steps) for threads in args.threads}
            shown = ", ".join(f"{threads} thread(s): {rate:.1f} samples/s ({rate / threads:.1f} per thread)"
                              for threads, rate in rates.items())  # fmt: skip
            print(
                f"  {architecture}: {parameters / 1e6:.2f}M parameters, {flops / 1e9:.3f} GFLOP per sample "
                f"(forward+backward); {shown}; {steps} steps timed"
            )
    print(
        f"(single runs; the machine's load average at the end: {statistics.fmean(os.getloadavg()):.1f} "
        f"on {os.cpu_count()} cores)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

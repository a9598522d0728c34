"""How fast `amn distill` trains, and whether Lightning or the loader costs anything.

    python benchmarks/bench_distill.py                      # collects two small stores first
    python benchmarks/bench_distill.py --steps 100 --batch-size 64 --repeats 3

Two figures, each measured side by side in one run (the machine is shared, so absolute rates
drift; ratios of interleaved runs are what to read):

1. Lightning overhead: samples/s of `Trainer.fit` against a bare PyTorch loop, over the same
   stores, the same `ActorMimic` module (its `per_sample_terms`), the same loader and batch
   size, the same optimiser. Lightning runs as the product does (its metrics logged, written
   to a CSV logger every 10 steps), without validation or checkpoints (the bare loop has
   neither). Only steps
   after `--warmup` steps are timed, so worker start-up is excluded from both. Target >= 0.95.
2. The loader is not the bottleneck: loader samples/s alone (iterating batches) against the
   training step alone (forward, backward, Adam on batches already in memory). Their ratio
   should be well above 1.

Stores: by default two games (Pong, Breakout) collected with untrained experts into a temporary
folder (`--steps-per-game` each); `--stores A.zarr B.zarr` uses existing ones instead.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import random_init_expert
from actor_mimic.datasets import make_loader
from actor_mimic.distill.data import TeacherDataModule
from actor_mimic.distill.module import ActorMimic
from actor_mimic.distill.tasks import GameStores
from actor_mimic.store import open_store


def make_stores(folder: Path, steps: int) -> list[str]:
    paths = []
    for seed, game in enumerate(("pong", "breakout")):
        expert = random_init_expert(AtariConfig(game), seed=seed)
        out = folder / f"{game}.zarr"
        collect(CollectConfig(expert=expert, out=out, steps=steps, num_envs=8, seed=seed, epsilon=1.0))
        paths.append(str(out))
    return paths


def data_module(stores: list[str], batch_size: int, workers: int) -> TeacherDataModule:
    games = []
    for path in stores:
        with open_store(path) as (_, info):
            pass
        games.append(GameStores(info.game, [path]))
    data = TeacherDataModule(games=games, batch_size=batch_size, val_fraction=0.0, num_workers=workers)
    data.setup("fit")
    return data


class StepClock(pl.Callback):
    """Time from the start of step `warmup` to the end of the last step."""

    def __init__(self, warmup: int):
        self.warmup, self.start, self.end, self.samples = warmup, None, None, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if trainer.global_step == self.warmup:
            self.start = time.perf_counter()
        if self.start is not None:
            self.samples += len(batch["frames"])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.end = time.perf_counter()


def lightning_rate(data: TeacherDataModule, steps: int, warmup: int, folder: Path) -> float:
    torch.manual_seed(0)
    model = ActorMimic(tasks=data.tasks)
    clock = StepClock(warmup)
    trainer = pl.Trainer(
        max_steps=warmup + steps, max_epochs=-1, accelerator="cpu", logger=pl.loggers.CSVLogger(folder),
        log_every_n_steps=10, callbacks=[clock], limit_val_batches=0, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    with warnings.catch_warnings():  # "no val_dataloader", "persistent_workers": both intended
        warnings.simplefilter("ignore")
        trainer.fit(model, train_dataloaders=data.train_dataloader())
    return clock.samples / (clock.end - clock.start)


def bare_rate(data: TeacherDataModule, steps: int, warmup: int) -> float:
    torch.manual_seed(0)
    model = ActorMimic(tasks=data.tasks)
    optimiser = model.configure_optimizers()
    samples, start, end, step = 0, None, None, 0
    while step < warmup + steps:
        for batch in data.train_dataloader():
            if step == warmup:
                start = time.perf_counter()
            if start is not None:
                samples += len(batch["frames"])
            loss = model.per_sample_terms(batch)["loss"].mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            step += 1
            end = time.perf_counter()
            if step == warmup + steps:
                # Stop the clock here: leaving the loop drops the loader's iterator, whose
                # worker shutdown (seconds with spawned workers) is not training.
                break
    return samples / (end - start)


def loader_rate(data: TeacherDataModule, batches: int) -> float:
    loader = data.train_dataloader()
    iterator = iter(loader)
    next(iterator)  # workers started, first blocks read
    samples, start = 0, time.perf_counter()
    for _, batch in zip(range(batches), iterator):
        samples += len(batch["frames"])
    return samples / (time.perf_counter() - start)


def train_step_rate(data: TeacherDataModule, steps: int) -> float:
    torch.manual_seed(0)
    model = ActorMimic(tasks=data.tasks)
    optimiser = model.configure_optimizers()
    batches = [b for _, b in zip(range(8), make_loader(data.train_mixture, batch_size=data.hparams.batch_size))]
    samples, start = 0, None
    for step in range(steps + 2):
        if step == 2:
            samples, start = 0, time.perf_counter()
        batch = batches[step % len(batches)]
        loss = model.per_sample_terms(batch)["loss"].mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        samples += len(batch["frames"])
    return samples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", help="existing stores, one per game (default: collect two)")
    parser.add_argument("--steps-per-game", type=int, default=8192, help="steps to collect per game")
    parser.add_argument("--batch-size", type=int, default=64, help="64: the paper's 8 states x 8 games")
    parser.add_argument("--steps", type=int, default=60, help="timed optimiser steps per run")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved bare/Lightning pairs")
    parser.add_argument("--workers", type=int, default=2, help="loader worker processes (the default)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: shared 2-core machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stores = args.stores or make_stores(folder, args.steps_per_game)
        data = data_module(stores, args.batch_size, args.workers)
        print(f"stores: {', '.join(stores)}; batch {args.batch_size}, {args.workers} workers, {args.threads} thread(s)")

        ratios = []
        for repeat in range(args.repeats):
            # Alternate which runs first, so a drift in the machine's load favours neither.
            if repeat % 2:
                lightning = lightning_rate(data, args.steps, args.warmup, folder / f"logs{repeat}")
                bare = bare_rate(data, args.steps, args.warmup)
            else:
                bare = bare_rate(data, args.steps, args.warmup)
                lightning = lightning_rate(data, args.steps, args.warmup, folder / f"logs{repeat}")
            ratios.append(lightning / bare)
            print(
                f"  run {repeat}: bare loop {bare:8.1f} samples/s   Lightning {lightning:8.1f} samples/s   "
                f"ratio {lightning / bare:.3f}"
            )
        print(f"Lightning / bare loop: {statistics.median(ratios):.3f} (median of {len(ratios)}; target >= 0.95)")

        loader = loader_rate(data, batches=max(50, args.steps))
        step = train_step_rate(data, args.steps)
        print(f"loader alone:        {loader:10.1f} samples/s ({args.workers} workers)")
        print(f"training step alone: {step:10.1f} samples/s")
        print(f"loader / training step: {loader / step:.1f} (well above 1: the loader is not the bottleneck)")


if __name__ == "__main__":
    main()

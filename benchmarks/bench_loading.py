"""How fast `make_loader` serves training batches, against the same work done in RAM.

    python benchmarks/bench_loading.py [--steps 200000] [--cache DIR] [--backend zarr|hdf5]

Builds (once, then reuses from --cache) a teacher store of --steps transitions: a real
Breakout rollout of --source-steps steps, collected with `amn collect`'s Python API (a
randomly initialised expert labels; uniform random play so episodes are short), written
again and again by StoreWriter until the store holds --steps steps. Repeating a real
rollout keeps real frames and real activations, so compression is what it would be.

Then, in one run and alternating rounds:
  loader    make_loader(dataset, batch_size=256): chunk reads + decompression + stacking +
            Q-value scattering + activations, one process (num_workers=0), a whole epoch;
            with and without its read-ahead thread, without activations (policy only), and
            with the GIL handed between its two threads every 0.5 ms (sys.setswitchinterval;
            Python's default is 5 ms: a process-wide setting the library leaves alone)
  in RAM    every array already decompressed in memory; the same stacking and scattering
            code (gather_stacks, write_values) on uniformly random batches of 256
  map-style DataLoader(dataset, shuffle=True, batch_size=256): reading by index, what random
            access to the compressed store costs (it warns, pointing to make_loader)
and prints samples/s and the loader/in-RAM ratio (loader with and without its read-ahead
thread). First of all it streams one epoch with a small shuffle buffer and prints the
process RSS at every tenth of it: memory must stay flat while the store is many times
larger than the buffer.

The machine is shared: run it when the cores are quiet, and read the ratios rather than the
absolute figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import random_init_expert
from actor_mimic.common.outputs import remove
from actor_mimic.datasets import TeacherDataset, make_loader
from actor_mimic.datasets.batch import GameLayout, empty_batch, write_values
from actor_mimic.datasets.block_stacks import episode_start_of_steps, gather_stacks
from actor_mimic.datasets.teacher import RandomAccessWarning
from actor_mimic.store import StoreWriter, open_store, read_episodes, window_for

BATCH = 256


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def build_store(
    cache: Path, steps: int, source_steps: int, backend: str, compression: str, hidden_dtype: str,
    hidden_window: int | None = None,
) -> Path:  # fmt: skip
    suffix = ".zarr" if backend == "zarr" else ".h5"
    window = hidden_window or window_for(1024, 512 * np.dtype(hidden_dtype).itemsize)  # amn collect's default
    path = cache / f"breakout-{steps}-{compression.replace(':', '')}-hidden-{hidden_dtype}-window{window}{suffix}"
    if path.exists():
        try:
            with open_store(path) as (_, info):
                pass
            if info.num_steps >= steps:
                print(f"reusing {path} ({info.num_steps} steps)")
                return path
        except Exception:
            pass
    source = cache / f"breakout-source-{source_steps}-float32.zarr"
    if not source.exists():
        print(f"collecting {source_steps} real Breakout steps into {source} ...", flush=True)
        expert = random_init_expert(AtariConfig("breakout", noop_max=0), seed=0)
        collect(CollectConfig(expert=expert, out=source, steps=source_steps, epsilon=1.0, num_envs=8, seed=0,
                              hidden_dtype="float32"))  # fmt: skip
    with open_store(source) as (handle, info):
        episodes = list(read_episodes(handle, info))
    print(f"writing {path}: the {len(episodes)} source episodes repeated up to {steps} steps ...", flush=True)
    kept = ("game", "atari", "preprocessing", "action_set", "expert", "behaviour", "seed", "versions")
    metadata = {k: v for k, v in info.attrs.items() if k in kept}
    if path.exists():  # a stale or smaller copy in the benchmark's own cache
        remove(path)
    writer = StoreWriter.create(
        path, metadata=metadata, num_actions=int(info.attrs["num_actions"]),
        hidden_size=int(info.attrs["hidden_size"]), chunk_len=int(info.attrs["chunk_len"]),
        backend=backend, compression=compression, hidden_dtype=hidden_dtype, hidden_window=window,
    )  # fmt: skip
    while writer.total_steps < steps:
        for episode in episodes:
            writer.append_episode({**episode, "hidden": episode["hidden"].astype(hidden_dtype)})
            if writer.total_steps >= steps:
                break
    writer.close(complete=True, repeated_from=str(source.name))
    return path


class Clock:
    """Wall time, this process's CPU time (all its threads) and this thread's. On a shared
    machine the wall clock also counts time spent waiting for a core; CPU time counts the
    work only. With read-ahead, the work of this thread is what the trainer waits for when a
    second core is free (the reading thread's runs beside it)."""

    def __enter__(self):
        self.wall, self.cpu, self.thread = time.perf_counter(), time.process_time(), time.thread_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        self.thread = time.thread_time() - self.thread


def loader_epoch(ds: TeacherDataset, seed: int, **options) -> tuple[Clock, int]:
    loader = make_loader(ds, batch_size=BATCH, seed=seed, **options)
    served = 0
    with Clock() as clock:
        for batch in loader:
            served += len(batch["index"])
    return clock, served


class InMemory:
    """The store decompressed into RAM, batched with the loader's own stacking/scatter code."""

    def __init__(self, ds: TeacherDataset):
        shard = ds.shards[0]
        n = shard.num_steps
        self.frames = shard.read("frames", 0, n)
        self.q_values = shard.read("q_values", 0, n).astype(np.float32)
        self.hidden = shard.read("hidden", 0, n).astype(np.float32)
        self.actions = shard.read("actions", 0, n)
        self.starts, self.lengths = shard.episode_starts, shard.episode_lengths
        self.layout = GameLayout(0, ds.action_set)
        self.frame_shape, self.hidden_size = ds.frame_shape, ds.hidden_size
        self.nbytes = sum(a.nbytes for a in (self.frames, self.q_values, self.hidden, self.actions))

    def epoch(self, samples: int, seed: int) -> Clock:
        rng = np.random.default_rng(seed)
        with Clock() as clock:
            self._batches(samples // BATCH, rng)
        clock.samples = (samples // BATCH) * BATCH
        return clock

    def _batches(self, count: int, rng) -> None:
        for _ in range(count):
            steps = rng.integers(0, len(self.frames), BATCH)
            batch = empty_batch(BATCH, self.frame_shape, self.hidden_size)
            episode_starts = episode_start_of_steps(self.starts, self.lengths, steps)
            gather_stacks(self.frames, 0, steps, episode_starts, self.frame_shape[0], out=batch["frames"])
            write_values(batch, 0, self.layout, self.q_values[steps], self.hidden[steps], self.actions[steps])
            batch["index"][:] = steps
            {key: torch.from_numpy(value) for key, value in batch.items()}


def map_style(ds: TeacherDataset, batches: int) -> float:
    """A PyTorch user's first move: DataLoader(dataset, shuffle=True, batch_size=256), which
    reads by index (TeacherDataset.__getitems__; it warns, pointing to make_loader)."""
    loader = iter(DataLoader(ds, batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0)))
    begin = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RandomAccessWarning)
        for _ in range(batches):
            next(loader)
    return batches * BATCH / (time.perf_counter() - begin)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200_000, help="transitions in the benchmark store")
    parser.add_argument("--source-steps", type=int, default=20_000, help="real steps collected and repeated")
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "actor-mimic-bench", help="where stores are kept"
    )
    parser.add_argument("--backend", choices=("zarr", "hdf5"), default="zarr")
    parser.add_argument("--compression", default="zstd", help="of the benchmark store (amn collect's default: zstd)")
    parser.add_argument("--hidden-dtype", default="float16", help="of the stored activations (amn collect's default)")
    parser.add_argument("--hidden-window", type=int, help="activation window of the store (default: amn collect's)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of loader and in-RAM")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for an extra loader run")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.cache.mkdir(parents=True, exist_ok=True)
    path = build_store(
        args.cache, args.steps, args.source_steps, args.backend, args.compression, args.hidden_dtype, args.hidden_window
    )
    ds = TeacherDataset(path)
    print(f"store: {path} ({len(ds)} steps, {ds.num_episodes} episodes, {args.backend}, {args.compression})")

    # Memory first, before the baseline's in-RAM copy exists.
    print("\nRSS while streaming one epoch (shuffle_buffer 8192 steps, 4096-step blocks):")
    loader = make_loader(ds, batch_size=BATCH, seed=7, shuffle_buffer=8192)
    total, served, marks = len(loader), 0, []
    before = rss_mib()
    for index, batch in enumerate(loader):
        served += len(batch["index"])
        if index % max(1, total // 10) == 0 or index == total - 1:
            marks.append((served, rss_mib()))
    for served, rss in marks:
        print(f"  after {served:>8,} samples: RSS {rss:7.0f} MiB")
    during = [rss for _, rss in marks]
    print(f"  before the epoch {before:.0f} MiB; during it min {min(during):.0f}, max {max(during):.0f} MiB; "
          f"the store holds {ds_raw_mib(ds):.0f} MiB decompressed")  # fmt: skip

    print("\ndecompressing the whole store into RAM for the baseline ...", flush=True)
    memory = InMemory(ds)
    print(f"  {memory.nbytes / 2**20:.0f} MiB in RAM")
    names = ("loader", "loader, no read-ahead", "in RAM", "loader, no activations", "loader, switch 0.5 ms")
    wall, cpu = {name: [] for name in names}, {name: [] for name in names}
    main_thread = []  # the read-ahead loader's samples per second of this thread's CPU
    for round_index in range(args.rounds):  # alternate, so all three see the same machine load
        for name in names:
            if name == "in RAM":
                clock = memory.epoch(len(ds), seed=round_index)
                count = clock.samples
            else:
                options = {"read_ahead": name != "loader, no read-ahead", "with_hidden": name != names[3]}
                interval = sys.getswitchinterval()
                if name == names[4]:  # the GIL handed between the two threads 10x as often
                    sys.setswitchinterval(0.0005)
                try:
                    clock, served = loader_epoch(ds, seed=round_index, **options)
                finally:
                    sys.setswitchinterval(interval)
                count = served
            wall[name].append(count / clock.wall)
            cpu[name].append(count / clock.cpu)
            if name == "loader":
                main_thread.append(count / clock.thread)
        print(f"  round {round_index}: " + ", ".join(f"{n} {wall[n][-1]:,.0f}/s" for n in names), flush=True)
    del memory
    item_rate = map_style(ds, batches=2)
    wall = {name: statistics.median(values) for name, values in wall.items()}
    cpu = {name: statistics.median(values) for name, values in cpu.items()}
    print(f"\nbatch {BATCH}, frames + Q-values + activations, one process, median of {args.rounds} rounds")
    print("samples per second of wall time / per second of CPU time (all threads):")
    print(f"  loader (chunk reads, read-ahead thread)  {wall['loader']:>9,.0f}  {cpu['loader']:>9,.0f}")
    print(f"  loader (chunk reads, no read-ahead)      {wall[names[1]]:>9,.0f}  {cpu[names[1]]:>9,.0f}")
    print(f"  in-RAM numpy baseline                    {wall['in RAM']:>9,.0f}  {cpu['in RAM']:>9,.0f}")
    print(f"  loader without activations (policy only) {wall[names[3]]:>9,.0f}  {cpu[names[3]]:>9,.0f}")
    print(f"  loader, sys.setswitchinterval(0.0005)    {wall[names[4]]:>9,.0f}  {cpu[names[4]]:>9,.0f}")
    print(f"  DataLoader(dataset, shuffle=True) (warns) {item_rate:>8,.0f}")
    print(f"  loader / in-RAM                          {wall['loader'] / wall['in RAM']:>9.2f}  "
          f"{cpu['loader'] / cpu['in RAM']:>9.2f}")  # fmt: skip
    print(f"  loader without read-ahead / in-RAM       {wall[names[1]] / wall['in RAM']:>9.2f}  "
          f"{cpu[names[1]] / cpu['in RAM']:>9.2f}")  # fmt: skip
    print(f"  loader, switch interval 0.5 ms / in-RAM  {wall[names[4]] / wall['in RAM']:>9.2f}  "
          f"{cpu[names[4]] / cpu['in RAM']:>9.2f}")  # fmt: skip
    trainer = statistics.median(main_thread)
    print(f"  loader with read-ahead, the trainer's thread alone: {trainer:,.0f} samples per CPU second, "
          f"{trainer / cpu['in RAM']:.2f}x the in-RAM baseline's: what it serves when the reading thread has a "
          "core of its own")  # fmt: skip
    if args.workers:
        iterator = iter(make_loader(ds, batch_size=BATCH, seed=0, num_workers=args.workers))
        next(iterator)  # worker start-up (spawn: a fresh interpreter each) is not counted
        with Clock() as clock:
            served = sum(len(batch["index"]) for batch in iterator)
        print(f"  loader, {args.workers} worker processes (after start-up) {served / clock.wall:>9,.0f}")
    return 0


def ds_raw_mib(ds: TeacherDataset) -> float:
    shard = ds.shards[0]
    per_step = np.prod(ds.frame_shape[1:]) + 4 * (len(ds.action_set) + ds.hidden_size) + 2
    return shard.num_steps * per_step / 2**20


if __name__ == "__main__":
    sys.exit(main())

"""The same teacher transitions served by this toolkit and by its peers, side by side.

    python benchmarks/bench_peers.py [--steps 20000] [--rounds 1] [--cache DIR] [--source STORE]

The data: a real Breakout rollout of --steps steps of the shipped expert
(experts/breakout.safetensors), collected once with `amn collect`'s defaults into --cache and
reused (or --source: a complete store already collected from that expert, e.g. bench_size.py's,
copied in). Every reader serves it as shuffled minibatches of 256 transitions: the frame stack
(uint8 4x84x84), the expert's Q-values (float32, its 4 actions) and its 512 activations
(float32), plus the action taken; one epoch (--steps samples) each, timed:

  actor-mimic zarr   make_loader(TeacherDataset(store)): the store as `amn collect` wrote it,
                     every chunk checked against its CRC-32C as it is read (batches also hold the
                     18-action Q-values and mask, the game id and the index)
  actor-mimic hdf5   the same, after `amn dataset convert` to HDF5
  minari             `amn dataset export-minari` output, read with Minari's API
                     (minari.load_dataset, iterate_episodes): Minari serves whole episodes, not
                     steps, so episodes are read in a random order and their steps drawn from a
                     16,384-step shuffle buffer (the loader's default); Q-values and activations
                     come from the episodes' infos
  torchrl            ReplayBuffer(LazyMemmapStorage(...), SamplerWithoutReplacement(),
                     batch_size=256), the storage its offline datasets use, written once with
                     `extend` and `dumps`, reopened with `loads` (zero copy): stacked frames
  h5py               one HDF5 file of the batch's arrays written with h5py's defaults
                     (contiguous, uncompressed), read by sorted random indices

Each reader runs in a process of its own, so its peak RSS is its own. Set-up: the time to make
a reader's files from the collected store (none for the store itself), plus opening them.
Files are read from the page cache when they fit in RAM (the first epoch of a dataset on a
local disk may be slower). The machine is shared: read the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

EXPERT = Path(__file__).resolve().parents[1] / "experts" / "breakout.safetensors"
BATCH = 256
SHUFFLE_BUFFER = 16384
READERS = ("actor-mimic zarr", "actor-mimic hdf5", "minari", "torchrl", "h5py")


# ------------------------------------------------------------------ the data, once per --steps


class Cache:
    """The collected store and every reader's files, in --cache; set-up times in setup.json."""

    def __init__(self, root: Path, steps: int):
        digest = hashlib.sha256(EXPERT.read_bytes()).hexdigest()[:12]
        self.root = root / f"breakout-expert-{digest}-{steps}"
        self.steps = steps
        self.store = self.root / "store.zarr"
        self.hdf5 = self.root / "store.h5"
        self.minari = self.root / "minari"
        self.minari_id = f"atari/breakout/bench-{steps}-v0"
        self.torchrl = self.root / "torchrl"
        self.h5py = self.root / "plain.h5"
        self.setup_file = self.root / "setup.json"

    def setup_seconds(self) -> dict:
        return json.loads(self.setup_file.read_text()) if self.setup_file.exists() else {}

    def record(self, name: str, seconds: float) -> None:
        times = self.setup_seconds()
        times[name] = seconds
        self.setup_file.write_text(json.dumps(times, indent=1))

    def size(self, name: str) -> int:
        path = {
            READERS[0]: self.store, READERS[1]: self.hdf5, "minari": self.minari / self.minari_id,
            "torchrl": self.torchrl, "h5py": self.h5py,
        }[name]  # fmt: skip
        if path.is_file():
            return path.stat().st_size
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def amn(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "actor_mimic", *args], check=True)


def build(cache: Cache, source: Path | None) -> None:
    """Collect the store once (or copy `source`), then make each peer's files from it
    (skipping what exists)."""
    cache.root.mkdir(parents=True, exist_ok=True)
    done = cache.setup_seconds()
    if "collect" not in done and source is not None:
        shutil.copytree(source, cache.store, dirs_exist_ok=True)
        cache.record("collect", float("nan"))
    if "collect" not in done and source is None:
        print(f"collecting {cache.steps} steps of {EXPERT.name} into {cache.store} ...", flush=True)
        started = time.perf_counter()
        amn("collect", "--expert", str(EXPERT), "--out", str(cache.store), "--steps", str(cache.steps),
            "--seed", "0", "--no-progress", "--overwrite")  # fmt: skip
        cache.record("collect", time.perf_counter() - started)
    minari_options = (str(cache.store), cache.minari_id, "--data-path", str(cache.minari), "--overwrite")
    steps = [
        (READERS[1], lambda: amn("dataset", "convert", str(cache.store), str(cache.hdf5), "--overwrite")),
        ("minari", lambda: amn("dataset", "export-minari", *minari_options)),
        ("torchrl", lambda: build_torchrl(cache)),
        ("h5py", lambda: build_h5py(cache)),
    ]
    for name, make in steps:
        if name not in cache.setup_seconds():
            print(f"making the {name} files ...", flush=True)
            started = time.perf_counter()
            make()
            cache.record(name, time.perf_counter() - started)


def transitions(cache: Cache, piece: int = 4096):
    """The store's transitions in stored order, in pieces: dicts of observation (n, 4, 84, 84)
    uint8, q_values (n, A) float32, hidden (n, 512) float16, actions (n,) int64."""
    from actor_mimic.datasets import TeacherDataset

    dataset = TeacherDataset(cache.store)
    actions = np.asarray(dataset.action_set)
    for start in range(0, len(dataset), piece):
        batch = dataset[start : start + piece]
        yield {
            "observation": batch["frames"],
            "q_values": batch["q_values"][:, actions],
            "hidden": torch.from_numpy(batch["hidden"]).to(torch.float16).numpy(),  # exact: stored as float16
            "actions": np.searchsorted(actions, batch["actions"]),
        }


def build_torchrl(cache: Cache) -> None:
    from tensordict import TensorDict
    from torchrl.data import LazyMemmapStorage, ReplayBuffer, SamplerWithoutReplacement

    shutil.rmtree(cache.torchrl, ignore_errors=True)
    storage = LazyMemmapStorage(cache.steps, scratch_dir=cache.torchrl / "storage")
    buffer = ReplayBuffer(storage=storage, sampler=SamplerWithoutReplacement(), batch_size=BATCH)
    for piece in transitions(cache):
        data = {key: torch.from_numpy(value) for key, value in piece.items()}
        buffer.extend(TensorDict(data, batch_size=[len(piece["actions"])]))
    buffer.dumps(cache.torchrl)  # zero copy: the storage already lives there


def build_h5py(cache: Cache) -> None:
    import h5py

    with h5py.File(cache.h5py, "w") as handle:
        start = 0
        for piece in transitions(cache):
            if "observation" not in handle:  # the datasets, with h5py's defaults (contiguous, uncompressed)
                for key, value in piece.items():
                    handle.create_dataset(key, shape=(cache.steps, *value.shape[1:]), dtype=value.dtype)
            for key, value in piece.items():
                handle[key][start : start + len(value)] = value
            start += len(piece["actions"])


# ------------------------------------------------------------------ the readers (one per process)


def batch_of(observation, q_values, hidden, actions) -> dict:
    """The batch every peer serves: torch tensors, activations as float32."""
    return {
        "frames": torch.as_tensor(observation),
        "q_values": torch.as_tensor(q_values, dtype=torch.float32),
        "hidden": torch.as_tensor(hidden).to(torch.float32),
        "actions": torch.as_tensor(actions, dtype=torch.int64),
    }


def serve_actor_mimic(cache: Cache, path: Path):
    from actor_mimic.datasets import TeacherDataset, make_loader

    loader = make_loader(TeacherDataset(path), batch_size=BATCH, seed=0)
    yield  # opened
    yield from loader


def serve_minari(cache: Cache):
    os.environ["MINARI_DATASETS_PATH"] = str(cache.minari)
    import minari

    dataset = minari.load_dataset(cache.minari_id)
    rng = np.random.default_rng(0)
    yield  # opened
    episodes = dataset.iterate_episodes(rng.permutation(dataset.episode_indices))
    pending: list[tuple[dict, np.ndarray]] = []  # (episode, its rows) of the batch being made
    count = 0
    for group, owner, row in episode_groups(episodes, rng):
        position = 0
        while position < len(owner):
            take = min(BATCH - count, len(owner) - position)
            owners, rows = owner[position : position + take], row[position : position + take]
            pending += [(group[index], rows[owners == index]) for index in np.unique(owners)]
            count, position = count + take, position + take
            if count == BATCH:
                yield minari_batch(pending)
                pending, count = [], 0
    if pending:
        yield minari_batch(pending)


def episode_groups(episodes, rng):
    """Groups of whole episodes of at least SHUFFLE_BUFFER steps, each with its steps in a
    random order: (episodes, owner (N,), row (N,))."""
    while True:
        group, held = [], 0
        for episode in episodes:
            steps = len(episode.actions)  # the final observation (infos "stored" False) is not a step
            group.append({
                "observation": episode.observations, "q_values": episode.infos["q_values"],
                "hidden": episode.infos["hidden"], "actions": episode.actions,
            })  # fmt: skip
            held += steps
            if held >= SHUFFLE_BUFFER:
                break
        if not group:
            return
        sizes = [len(episode["actions"]) for episode in group]
        owner = np.repeat(np.arange(len(group)), sizes)
        row = np.concatenate([np.arange(size) for size in sizes])
        order = rng.permutation(held)
        yield group, owner[order], row[order]


def minari_batch(picks: list[tuple[dict, np.ndarray]]) -> dict:
    fields = ("observation", "q_values", "hidden", "actions")
    return batch_of(*(np.concatenate([episode[key][rows] for episode, rows in picks]) for key in fields))


def serve_torchrl(cache: Cache):
    from torchrl.data import LazyMemmapStorage, ReplayBuffer, SamplerWithoutReplacement

    buffer = ReplayBuffer(
        storage=LazyMemmapStorage(cache.steps, scratch_dir=cache.torchrl / "storage"),
        sampler=SamplerWithoutReplacement(),
        batch_size=BATCH,
    )
    buffer.loads(cache.torchrl)
    yield  # opened
    for _ in range(-(-len(buffer) // BATCH)):
        sample = buffer.sample()
        yield batch_of(sample["observation"], sample["q_values"], sample["hidden"], sample["actions"])


def serve_h5py(cache: Cache):
    import h5py

    handle = h5py.File(cache.h5py, "r")
    arrays = [handle[k] for k in ("observation", "q_values", "hidden", "actions")]
    order = np.random.default_rng(0).permutation(len(arrays[0]))
    yield  # opened
    for start in range(0, len(order), BATCH):
        rows = np.sort(order[start : start + BATCH])  # h5py reads increasing indices only
        yield batch_of(*(array[rows] for array in arrays))


def serve(name: str, cache: Cache) -> dict:
    """One reader's epoch in this process: samples/s, peak RSS, set-up."""
    torch.set_num_threads(1)
    readers = {
        READERS[0]: lambda: serve_actor_mimic(cache, cache.store),
        READERS[1]: lambda: serve_actor_mimic(cache, cache.hdf5),
        "minari": lambda: serve_minari(cache),
        "torchrl": lambda: serve_torchrl(cache),
        "h5py": lambda: serve_h5py(cache),
    }
    started = time.perf_counter()
    batches = readers[name]()
    next(batches)  # open
    opened = time.perf_counter() - started
    served, wall, cpu = 0, time.perf_counter(), time.process_time()
    for batch in batches:
        served += len(batch["actions"])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"samples": served, "wall": served / wall, "cpu": served / cpu, "open": opened, "rss": peak_rss_mib()}


def peak_rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ------------------------------------------------------------------ the table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000, help="transitions collected (the README: 200000)")
    parser.add_argument("--rounds", type=int, default=1, help="epochs per reader, alternating readers")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "actor-mimic-bench-peers")
    parser.add_argument("--readers", nargs="+", choices=READERS, default=list(READERS))
    parser.add_argument("--source", type=Path, help="a complete store of --steps steps of the expert, not collected")
    parser.add_argument("--serve", choices=READERS, help=argparse.SUPPRESS)  # one reader, in a child process
    args = parser.parse_args(argv)
    cache = Cache(args.cache, args.steps)
    if args.serve:
        print(json.dumps(serve(args.serve, cache)))
        return 0
    build(cache, args.source)
    runs: dict[str, list[dict]] = {name: [] for name in args.readers}
    for round_index in range(args.rounds):
        for name in args.readers:
            command = [sys.executable, __file__, "--serve", name, "--steps", str(args.steps)]
            command += ["--cache", str(args.cache)]
            child = subprocess.run(command, capture_output=True, text=True)
            if child.returncode:
                sys.exit(f"{name} failed:\n{child.stderr}")
            runs[name].append(json.loads(child.stdout.strip().splitlines()[-1]))
            print(f"  round {round_index}: {name:17s} {runs[name][-1]['wall']:>9,.0f} samples/s", flush=True)
    report(cache, runs)
    return 0


def report(cache: Cache, runs: dict[str, list[dict]]) -> None:
    setup = cache.setup_seconds()
    median = {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for name, rs in runs.items()}
    print(f"\n{cache.steps:,} transitions of the shipped Breakout expert, shuffled batches of {BATCH}, one process "
          f"each (median of {len(next(iter(runs.values())))} epochs); the store took {setup['collect']:.0f} s "
          "to collect (nan: copied from --source)")  # fmt: skip
    print("| reader | samples/s (wall) | samples/s (CPU) | on disk | B/transition | peak RSS | set-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, m in median.items():
        size = cache.size(name)
        build_seconds = setup.get(name, 0.0) if name != READERS[0] else 0.0
        print(f"| {name} | {m['wall']:,.0f} | {m['cpu']:,.0f} | {size / 2**20:,.1f} MiB | {size / cache.steps:,.0f} "
              f"| {m['rss']:,.0f} MiB | {build_seconds + m['open']:.1f} s |")  # fmt: skip
    ours = median.get(READERS[0])
    peers = {name: m for name, m in median.items() if not name.startswith("actor-mimic")}
    if ours and peers:
        fastest = max(peers, key=lambda name: peers[name]["wall"])
        print(f"\nactor-mimic zarr / fastest peer ({fastest}): {ours['wall'] / peers[fastest]['wall']:.2f}x the "
              f"samples/s (CPU time: {ours['cpu'] / peers[fastest]['cpu']:.2f}x) on "
              f"{cache.size(READERS[0]) / cache.size(fastest):.3f}x its disk")  # fmt: skip
    print(
        "Every reader serves the frame stacks, Q-values and activations. Minari serves whole episodes only (the "
        "steps here come from a shuffle buffer over episodes in a random order), its activations and Q-values as "
        "per-step infos; TorchRL and h5py store every stack whole (4 frames per step, uncompressed); only "
        "actor-mimic checks what it reads (a CRC-32C per chunk)."
    )


if __name__ == "__main__":
    sys.exit(main())

"""Bytes per transition on disk: a teacher store against naive storage.

Naive storage keeps, per transition, the 4 stacked uint8 frames, float32 Q-values and float32
activations, uncompressed: 4*84*84 + 4*A + 4*512 bytes (~30 KB for Breakout). A teacher store
keeps each frame once (stacks are rebuilt on read), losslessly compressed, plus compressed
labels. Target: >= 50x smaller with lossless frames.

One collection (random play: epsilon 1, so the frames move like real play; a greedy untrained
expert in Breakout never serves the ball and its frames barely change), then the same steps are
written again through `StoreWriter` with each setting, so every row compares identical data.
The expert is randomly initialised: its fc activations are half zeros and change with every
frame, which is denser than a trained expert's (many of whose units are silent), so the
activation figures here are pessimistic.

    python benchmarks/bench_size.py [--game breakout] [--steps 4096] [--num-envs 8]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import random_init_expert
from actor_mimic.common.store import StoreWriter, open_store, read_episodes
from actor_mimic.common.store_backends import bytes_on_disk

SETTINGS = [  # (activations dtype, compression, backend); Q-values stay float32 (the default)
    ("float16", "zstd", "zarr"),  # the defaults of `amn collect`
    ("float16", "zstd", "hdf5"),
    ("float16", "lz4", "zarr"),
    ("float16", "zstd:9", "zarr"),
    ("float32", "zstd", "zarr"),
    ("float32", "zstd", "hdf5"),
    ("float32", "lz4", "zarr"),
]


def read_all(path: Path) -> tuple[dict, list, object]:
    backend, info = open_store(path)
    episodes = list(read_episodes(backend, info))
    backend.close()
    arrays = {name: np.concatenate([episode[name] for episode in episodes]) for name in info.attrs["fields"]}
    return arrays, episodes, info


def rewrite(episodes: list, info, path: Path, hidden_dtype: str, compression: str, backend: str) -> None:
    """The same episodes through the real writer, with other settings."""
    metadata = {k: v for k, v in info.attrs.items() if k in ("game", "atari", "preprocessing", "action_set")}
    writer = StoreWriter.create(
        path, metadata=metadata, num_actions=info.attrs["num_actions"], hidden_size=info.attrs["hidden_size"],
        hidden_dtype=hidden_dtype, compression=compression, backend=backend,
    )  # fmt: skip
    for episode in episodes:  # into one lane
        writer.append_episode({**episode, "hidden": episode["hidden"].astype(hidden_dtype)})
    writer.close(complete=True)


def field_bytes(path: Path, backend: str, name: str) -> int:
    name = "lanes/0/" + name  # rewritten into one lane
    if backend == "zarr":
        return bytes_on_disk(path / name)
    import h5py
    import hdf5plugin  # noqa: F401

    with h5py.File(path, "r") as handle:
        return int(handle[name].id.get_storage_size())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="breakout")
    parser.add_argument("--steps", type=int, default=4096)
    parser.add_argument("--num-envs", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    expert = random_init_expert(AtariConfig(args.game))
    with tempfile.TemporaryDirectory() as tmp:
        collected = Path(tmp) / "collected.zarr"
        # Collected with float32 activations, so every variant below is rewritten from exact values.
        collect(CollectConfig(expert=expert, out=collected, steps=args.steps, num_envs=args.num_envs,
                              epsilon=1.0, hidden_dtype="float32"))  # fmt: skip
        source, episodes, info = read_all(collected)
        steps, num_actions, hidden_size = len(source["actions"]), source["q_values"].shape[1], source["hidden"].shape[1]
        naive = 4 * source["frames"][0].size + 4 * num_actions + 4 * hidden_size
        print(f"{args.game}: {steps} steps, {info.num_episodes} episodes, random play, random-init expert "
              f"({(source['hidden'] == 0).mean():.0%} of fc activations are zero)")  # fmt: skip
        print(f"naive: {naive} B/transition (4 stacked uint8 frames + float32 Q-values + float32 activations)")
        header = ("hidden", "codec", "engine", "frames", "q", "hidden", "other", "total", "vs naive")
        print("{:8s} {:7s} {:6s} {:>7s} {:>6s} {:>7s} {:>6s} {:>7s} {:>9s}".format(*header))
        stores = []
        for hidden_dtype, compression, backend in SETTINGS:
            path = Path(tmp) / f"{hidden_dtype}-{compression.replace(':', '')}.{'zarr' if backend == 'zarr' else 'h5'}"
            rewrite(episodes, info, path, hidden_dtype, compression, backend)
            stores.append((hidden_dtype, compression, backend, path))
        for hidden_dtype, compression, backend, path in stores:
            sizes = {name: field_bytes(path, backend, name) / steps for name in ("frames", "q_values", "hidden")}
            total = bytes_on_disk(path) / steps
            other = total - sum(sizes.values())
            label = compression + ("*" if path == stores[0][3] else "")
            print(f"{hidden_dtype:8s} {label:7s} {backend:6s} {sizes['frames']:7.1f} {sizes['q_values']:6.1f} "
                  f"{sizes['hidden']:7.1f} {other:6.1f} {total:7.1f} {naive / total:8.1f}x")  # fmt: skip
        print("B/transition per field; 'other' = actions, rewards, flags, lives, checksums, metadata;")
        print("* = the defaults of `amn collect` (float32 Q-values, float16 activations, zstd). Target >= 50x.")


if __name__ == "__main__":
    main()

"""Small collections whose every stored byte was recorded once, to pin the collector's output.

`reference_stores.json` holds, for each collection below, the sha256 of every array of every
lane as stored (frames, actions, ..., the deduplicated `hidden` rows, `hidden_ref`, and the
CRC-32C of every compressed chunk) and the commit (steps, episodes, cut episodes). It was
written by this module from the collector as it was before the rollout was pipelined (main at
22941ee), so tests/collect/test_reference.py checks that a faster collector still writes
today's stores, byte for byte.

Why recorded hashes rather than a reference computed in the test: what is pinned is the
output of the old code itself, which no longer exists to run; and no independent path could
stand in for it, because the expert's labels depend on the batch the collector ran them in
(CPU kernels pick their summation order by batch size). The price is that the Q-values and
activations, and the compressed bytes, are those of this machine's torch, CPU and codecs:
`ENVIRONMENT` records them, and the test compares those arrays only where they match.

    PYTHONPATH=. python -m tests.collect.reference_stores   # prints the JSON (regenerating it
    # is for a version upgrade only, from a collector known to be right)
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.checkpoint import Checkpoint, CheckpointMetadata, random_init_expert
from actor_mimic.common.networks import build_network
from actor_mimic.store import checksum_name, lane_prefix, open_store, stored_fields

REFERENCE_FILE = Path(__file__).with_name("reference_stores.json")
# The arrays that depend on the expert's float arithmetic (and the actions greedy on it).
LABEL_ARRAYS = ("q_values", "hidden", "hidden_ref")


def _amn(expert: Checkpoint) -> Checkpoint:
    """An untrained AMN over the 18 ALE actions that plays Breakout (the "student acts" regime)."""
    torch.manual_seed(11)
    metadata = CheckpointMetadata(
        kind="amn", architecture="nature_dqn", num_actions=18, games=["breakout"],
        action_sets={"breakout": [0, 1, 3, 4]}, atari=expert.metadata.atari,
    )  # fmt: skip
    return Checkpoint(build_network("nature_dqn", 18).eval(), metadata)


def reference_configs(tmp: Path) -> dict[str, CollectConfig]:
    """The pinned collections: every lane crosses episode ends, chunks and activation windows."""
    expert = random_init_expert(AtariConfig("breakout"), seed=0)  # 30 no-op starts, from the episode seeds
    return {
        # 8 envs (the default), mostly greedy on the expert's Q-values, a budget that cuts episodes.
        "steps-8-envs": CollectConfig(
            expert=expert, out=tmp / "steps.zarr", steps=2400, num_envs=8, epsilon=0.5, seed=5,
            chunk_len=64, hidden_window=128,
        ),
        # Episodes as the target, sticky actions, an odd number of envs, chunks across episodes.
        "episodes-3-envs": CollectConfig(
            expert=expert, out=tmp / "episodes.zarr", episodes=5, num_envs=3, epsilon=1.0, seed=7,
            sticky=0.25, chunk_len=100,
        ),
        # Another policy acts (an AMN over 18 actions, masked), the expert labels.
        "behaviour-4-envs": CollectConfig(
            expert=expert, behaviour=_amn(expert), behaviour_epsilon=0.3, out=tmp / "behaviour.zarr",
            steps=1200, num_envs=4, seed=2, chunk_len=32,
        ),
    }  # fmt: skip


def _sha256(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]  # 64 bits: plenty to tell two arrays apart


def store_hashes(path: Path) -> dict:
    """sha256 of every array of every lane, committed rows, and the commit."""
    backend, info = open_store(path)
    lanes = []
    for lane in range(len(info.lanes)):
        arrays = {}
        for name in stored_fields(info.attrs):
            full = lane_prefix(lane) + name
            arrays[name] = _sha256(np.asarray(backend.array(full)[:]))
            arrays[f"checksums/{name}"] = _sha256(np.asarray(backend.array(checksum_name(full))[:]))
        lanes.append(arrays)
    backend.close()
    attrs = info.attrs
    commit = {key: attrs.get(key) for key in ("lanes", "num_steps", "num_episodes", "cut_episodes", "complete")}
    return {"commit": commit, "lanes": lanes}


def environment() -> dict:
    """What the label arrays (torch, the CPU's kernels) and the compressed bytes (codecs) depend on."""
    import ale_py
    import numcodecs
    import zarr

    return {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "ale_py": ale_py.__version__,
        "zarr": zarr.__version__,
        "numcodecs": numcodecs.__version__,
    }


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        stores = {name: store_hashes(collect(config)) for name, config in reference_configs(Path(tmp)).items()}
    json.dump({"environment": environment(), "stores": stores}, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()

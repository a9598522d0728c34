"""Two CPU processes (DDP over gloo) through `amn distill fit`: each rank reads its own share.

The ranks see disjoint samples, and read disjoint chunks of the stores (every chunk of
Q-values a rank reads is recorded below the store's file reader). A fit stopped at a
checkpoint and resumed on two ranks ends with the very weights of the uninterrupted one.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from actor_mimic.common.checkpoint import read_metadata
from actor_mimic.datasets import TeacherDataset, TeacherMixture, make_loader
from actor_mimic.store import chunks_of, open_attrs
from tests.distill.ddp_probe import sample_digests

REPO = Path(__file__).resolve().parents[2]


def ddp_fit(folder: Path, stores: dict, *extra: str) -> None:
    config = folder / "ddp.yaml"
    config.write_text(
        textwrap.dedent(f"""\
        data:
          games:
            - {{game: pong, stores: ["{stores["pong"]}"]}}
            - {{game: breakout, stores: ["{stores["breakout"]}"]}}
          weighting: proportional    # every stored step once per epoch, split over the ranks
          val_fraction: 0.3          # held-out episodes: per-game metrics gathered over both ranks
          batch_size: 32
          num_workers: 0
        trainer:
          accelerator: cpu
          strategy: ddp
          devices: 2
          max_epochs: 1
          enable_progress_bar: false
          enable_model_summary: false
          default_root_dir: "{folder / "runs"}"
          callbacks:
            - class_path: tests.distill.ddp_probe.SampleDigests
              init_args: {{out_dir: "{folder / "digests"}"}}
            - class_path: tests.distill.ddp_probe.ChunkReads
              init_args: {{out_dir: "{folder / "digests"}"}}
        checkpoint:
          every_n_train_steps: 4
          save_top_k: -1
        """)
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "actor_mimic", "distill", "fit", "--config", str(config), *extra],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def uninterrupted(stores, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ddp")
    ddp_fit(folder, stores)
    return folder


def test_two_ranks_see_disjoint_shares_of_the_stores(stores, uninterrupted):
    digests_dir = uninterrupted / "digests"
    ranks = [json.loads((digests_dir / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    seen = [Counter(r["digests"]) for r in ranks]
    assert all(sum(c.values()) > 100 for c in seen)

    # Every training step of the stores, once. Identical states (e.g. the first frames of
    # episodes) may share a digest, so compare multisets: had the ranks overlapped, some digest
    # would be seen more often than the training split holds it.
    train_sets = [TeacherDataset(str(stores[g])).split_episodes(0.3, seed=0)[0] for g in ("pong", "breakout")]
    full = TeacherMixture(train_sets, weighting="proportional")
    stored = Counter(d for batch in make_loader(full, batch_size=256, shuffle=False) for d in sample_digests(batch))
    together = seen[0] + seen[1]
    assert not together - stored  # nothing seen more often than stored
    assert sum(together.values()) >= 0.8 * sum(stored.values())  # ranks are trimmed to equal batch counts

    exported = sorted((uninterrupted / "runs" / "distill").glob("version_*/amn.safetensors"))
    assert len(exported) == 1  # written once, by rank 0
    assert read_metadata(exported[0]).games == ["pong", "breakout"]
    with open(exported[0].parent / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    kl = [float(row["val/breakout/kl"]) for row in rows if row.get("val/breakout/kl")]
    assert len(kl) == 1 and math.isfinite(kl[0])


def test_each_rank_reads_only_its_share_of_the_chunks(stores, uninterrupted):
    """The ranks split the training steps, and the held-out ones, into two equal shares of
    whole blocks (datasets/blocks.py): only the block cut between the two shares has a chunk
    that both ranks read, one for training and one for validation here."""
    read = [set(json.loads((uninterrupted / "digests" / f"chunks{r}.json").read_text())) for r in (0, 1)]
    every = set()
    for store in stores.values():
        backend, attrs = open_attrs(store)
        backend.close()
        for lane, record in enumerate(attrs["lanes"]):
            every |= {f"{Path(store).name}/lanes/{lane}/q_values/c/{i}/0"
                      for i in range(chunks_of(record["steps"], attrs["chunk_len"]))}  # fmt: skip
    assert read[0] | read[1] == every  # together they read the stores once
    assert len(read[0] & read[1]) <= 2, sorted(read[0] & read[1])
    assert all(len(share) <= len(every) // 2 + 2 for share in read)


def test_a_resumed_two_rank_fit_ends_with_the_uninterrupted_weights(stores, uninterrupted, tmp_path):
    (checkpoint,) = uninterrupted.glob("runs/distill/version_0/checkpoints/*step=4.ckpt")
    ddp_fit(tmp_path, stores, "--ckpt_path", str(checkpoint))
    (expected,) = uninterrupted.glob("runs/distill/version_0/amn.safetensors")
    (resumed,) = tmp_path.glob("runs/distill/version_*/amn.safetensors")
    expected_weights, resumed_weights = load_file(str(expected)), load_file(str(resumed))
    assert resumed_weights.keys() == expected_weights.keys()
    for name, tensor in expected_weights.items():
        assert torch.equal(resumed_weights[name], tensor), name

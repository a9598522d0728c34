"""Two CPU processes (DDP over gloo) through `amn distill fit`: the ranks see disjoint samples."""

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

from actor_mimic.common.checkpoint import read_metadata
from actor_mimic.datasets import TeacherDataset, TeacherMixture, make_loader
from tests.distill.ddp_probe import sample_digests

REPO = Path(__file__).resolve().parents[2]


def test_two_ranks_see_disjoint_shares_of_the_stores(stores, tmp_path):
    digests_dir = tmp_path / "digests"
    config = tmp_path / "ddp.yaml"
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
          default_root_dir: "{tmp_path / "runs"}"
          callbacks:
            - class_path: tests.distill.ddp_probe.SampleDigests
              init_args: {{out_dir: "{digests_dir}"}}
        """)
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "actor_mimic", "distill", "fit", "--config", str(config)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]

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

    exported = sorted((tmp_path / "runs" / "distill").glob("version_*/amn.safetensors"))
    assert len(exported) == 1  # written once, by rank 0
    assert read_metadata(exported[0]).games == ["pong", "breakout"]
    with open(exported[0].parent / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    kl = [float(row["val/breakout/kl"]) for row in rows if row.get("val/breakout/kl")]
    assert len(kl) == 1 and math.isfinite(kl[0])

"""`amn collect --overwrite`: the old store is deleted only once the new one is complete.

Until then it is kept as NAME.previous.SUFFIX, which an interruption's message names; a run
that fails before storing a step puts it back untouched; `--resume` of the new store
completes it and only then deletes the old one.
"""

from __future__ import annotations

import signal

import pytest
import torch

from actor_mimic.cli import main
from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.checkpoint import random_init_expert, save_checkpoint
from tests.collect.conftest import BREAKOUT, read_store
from tests.collect.forked import run_amn
from tests.collect.test_errors import tree_snapshot
from tests.collect.test_interrupt import committed_steps


def old_store(tmp_path, expert, suffix: str):
    """A complete 30-step store (and a snapshot of its folder) that the tests replace."""
    path = tmp_path / f"s.{suffix}"
    collect(CollectConfig(expert=expert, out=path, steps=30, num_envs=2, seed=1))
    return path, tree_snapshot(tmp_path)


@pytest.mark.parametrize("suffix", ["zarr", "h5"])
def test_overwrite_replaces_the_store_and_deletes_the_old_one_after(tmp_path, expert, expert_file, suffix):
    path, _ = old_store(tmp_path, expert, suffix)
    args = ["collect", "--no-progress", "--expert", str(expert_file), "--out", str(path), "--steps", "40",
            "--num-envs", "2", "--overwrite"]  # fmt: skip
    assert main(args) == 0
    _arrays, info = read_store(path)
    assert info.num_steps == 40 and info.complete
    assert info.attrs["replaces"] == f"s.previous{path.suffix}"
    card = [f"{path.name}.README.md"] if suffix == "h5" else []  # an HDF5 store's card is its sibling
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, *card]


def test_a_run_that_stores_nothing_puts_the_old_store_back(capsys, tmp_path, expert):
    """An expert finite on the probe's zero stack but infinite on real frames: it fails at
    the first step, after the old store was set aside and the new one created."""
    path, snapshot = old_store(tmp_path, expert, "h5")
    broken = random_init_expert(BREAKOUT, seed=1)
    with torch.no_grad():
        broken.network.convs[0].weight.fill_(3e38)
        broken.network.convs[0].bias.fill_(-1.0)
    overflowing = save_checkpoint(tmp_path.parent / "overflowing.safetensors", broken.network, broken.metadata)
    args = [
        "collect",
        "--no-progress",
        "--expert",
        str(overflowing),
        "--out",
        str(path),
        "--steps",
        "40",
        "--overwrite",
    ]
    assert main(args) == 2
    assert "produced NaN or infinite" in capsys.readouterr().err
    assert tree_snapshot(tmp_path) == snapshot


def test_an_aside_store_from_an_unfinished_overwrite_is_never_replaced(capsys, tmp_path, expert, expert_file):
    path, _ = old_store(tmp_path, expert, "zarr")
    aside = path.with_name(f"s.previous{path.suffix}")
    collect(CollectConfig(expert=expert_file, out=aside, steps=20, num_envs=2))
    snapshot = tree_snapshot(tmp_path)
    args = [
        "collect",
        "--no-progress",
        "--expert",
        str(expert_file),
        "--out",
        str(path),
        "--steps",
        "40",
        "--overwrite",
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{aside} exists: it holds the store an earlier --overwrite" in err and err.count("\n") == 1
    assert tree_snapshot(tmp_path) == snapshot


def test_an_interrupted_overwrite_names_the_old_store_and_resume_completes_the_new(tmp_path, expert_file):
    path = tmp_path / "s.zarr"
    collect(CollectConfig(expert=expert_file, out=path, steps=30, num_envs=2, seed=1))
    snapshot = tree_snapshot(path)
    args = ["--expert", str(expert_file), "--out", str(path), "--steps", "600", "--num-envs", "2",
            "--chunk-len", "64", "--epsilon", "1", "--overwrite"]  # fmt: skip
    returncode, stderr = run_amn("collect", "--no-progress", *args, signal_number=signal.SIGINT,
                                 stop_when=lambda: committed_steps(path) >= 64)  # fmt: skip
    aside = tmp_path / "s.previous.zarr"
    assert returncode == 128 + signal.SIGINT, stderr
    assert f"The store it replaces is kept at {aside} until this one is complete" in stderr
    assert tree_snapshot(aside) == snapshot  # the old store, untouched
    resume_line = stderr.strip().splitlines()[-1].split()
    assert resume_line[-1] == "--resume" and "--overwrite" not in resume_line
    assert main(resume_line[1:]) == 0  # the printed command, run in this process
    assert read_store(path)[1].num_steps == 600
    assert not aside.exists()

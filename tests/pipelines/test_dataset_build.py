"""`amn dataset build`: one plan of 2 games x 2 shards, run by each executor, gives the same stores.

The uninterrupted build runs on a cluster engine's local mode (a Dask cluster in this
process). The local executor's build is killed (SIGKILL) while its shards are collecting, then
run again: the rerun finishes every store, and each equals the uninterrupted one array by
array. Dask builds the plan into a URL too (memory://, through `amn dataset push`). submitit's
local executor (the jobs of a Slurm array, as local processes) builds a game whose second
shard cannot be collected: that shard is reported with its error and the other finishes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from actor_mimic.cli import main
from actor_mimic.collect import CollectConfig, collect
from actor_mimic.pipelines.shard_job import committed_steps
from actor_mimic.store import open_attrs
from tests.collect.conftest import read_lanes

REPO = Path(__file__).resolve().parents[2]
STORES = ["breakout-0-of-2.zarr", "breakout-1-of-2.zarr", "pong-0-of-2.zarr", "pong-1-of-2.zarr"]
# 2 shards of 128 steps per game, 2 lanes of 64 steps each, chunks of 16: a kill lands mid-store.
SETTINGS = dict(steps=256, num_envs=2, chunk_len=16, epsilon=1.0)
IN_PROCESS_DASK = "{kind: dask, workers: 2, parameters: {processes: false}}"


def write_plan(folder: Path, experts: dict, out: str = "data", executor: str = "{kind: local}",
               games: tuple[str, ...] = ("breakout", "pong")) -> Path:  # fmt: skip
    entries = {"breakout": "    noop_max: 0\n", "pong": "    seed: 3\n"}
    plan = folder / "plan.yaml"
    plan.write_text(
        f"out: {out}\n"
        f"executor: {executor}\n"
        "defaults: {steps: 256, shards: 2, num_envs: 2, chunk_len: 16, epsilon: 1.0}\n"
        "games:\n" + "".join(f"  - expert: {experts[game]}\n{entries[game]}" for game in games)
    )
    return plan


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, experts) -> Path:
    """The plan's dataset folder, built in one go by a Dask cluster in this process."""
    folder = tmp_path_factory.mktemp("dask")
    plan = write_plan(folder, experts, executor=IN_PROCESS_DASK)
    assert main(["dataset", "build", str(plan), "--no-progress"]) == 0
    return folder / "data"


def shard_processes(folder: Path) -> list[int]:
    """Ids of the running shard processes of the build in `folder` (from their command lines)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if "actor_mimic.pipelines.shard_job" in command and str(folder) in command:
            found.append(int(entry.name))
    return found


def assert_same_stores(got: Path | str, expected: Path, name: str) -> None:
    got_lanes, expected_lanes = read_lanes(got, allow_incomplete=False), read_lanes(expected, allow_incomplete=False)
    assert len(got_lanes) == len(expected_lanes) == 2
    for lane, (mine, theirs) in enumerate(zip(got_lanes, expected_lanes)):
        assert mine.keys() == theirs.keys()
        for field in theirs:
            np.testing.assert_array_equal(mine[field], theirs[field], err_msg=f"{name} lane {lane} {field}")


def test_the_cluster_engine_builds_the_plan_with_its_record_and_card(uninterrupted, experts, tmp_path):
    record = json.loads((uninterrupted / "dataset.json").read_text())
    assert sorted(record["stores"]) == STORES
    for name, store in record["stores"].items():
        assert store["verified"] and store["complete"] and store["steps"] == 128, name
    card = (uninterrupted / "README.md").read_text()
    assert "| breakout | breakout | 2/2 | 256 |" in card and "| pong | pong | 2/2 | 256 |" in card
    for name in STORES:
        assert f"| {name} |" in card
    assert "stores: [breakout-0-of-2.zarr, breakout-1-of-2.zarr]" in card  # the distill config
    # A shard is exactly `amn collect --shard 1/2` with the plan's settings.
    direct = collect(CollectConfig(expert=str(experts["pong"]), out=tmp_path / "p.zarr", shard=(1, 2), seed=3,
                                   **SETTINGS))  # fmt: skip
    assert_same_stores(uninterrupted / "pong-1-of-2.zarr", direct, "pong 1/2")


def test_a_killed_local_build_finishes_exactly_when_run_again(uninterrupted, experts, tmp_path, capsys):
    plan = write_plan(tmp_path, experts)
    data = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    build = subprocess.Popen(
        [sys.executable, "-m", "actor_mimic", "dataset", "build", str(plan), "--workers", "4", "--no-progress"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while max(committed_steps(data / name) for name in STORES) < 16:
        assert build.poll() is None and time.monotonic() < deadline, build.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    build.send_signal(signal.SIGKILL)
    build.wait()
    deadline = time.monotonic() + 60
    while shard_processes(tmp_path):  # they saw their build die: each closes its store with its whole chunks
        assert time.monotonic() < deadline, "a shard's collection outlived its build"
        time.sleep(0.1)
    steps = {name: committed_steps(data / name) for name in STORES}
    assert 0 < sum(steps.values()) < 512, steps  # stopped in the middle

    capsys.readouterr()
    assert main(["dataset", "build", str(plan), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "4 of 4 stores finished" in out
    for name in STORES:
        assert_same_stores(data / name, uninterrupted / name, name)
        assert open_attrs(data / name)[1]["complete"]
    # A third run has nothing to do: every store is recorded as finished and verified.
    assert main(["dataset", "build", str(plan), "--dry-run"]) == 0
    assert capsys.readouterr().out.count(" finished") == 4


def test_dask_builds_the_plan_into_a_url(uninterrupted, experts, tmp_path):
    url = f"memory://amn-build-{os.getpid()}/dataset"
    plan = write_plan(tmp_path, experts, out=url, executor=IN_PROCESS_DASK)
    assert main(["dataset", "build", str(plan), "--no-progress"]) == 0
    for name in STORES:
        assert_same_stores(f"{url}/{name}", uninterrupted / name, name)
    from actor_mimic.store import open_url

    fs, root = open_url(url)
    record = json.loads(fs.cat_file(f"{root}/dataset.json"))
    assert sorted(record["stores"]) == STORES and all(s["pushed"] and s["verified"] for s in record["stores"].values())
    assert "| pong-1-of-2.zarr | pong | 1/2 | 128 |" in fs.cat_file(f"{root}/README.md").decode()


def test_submitit_reports_the_shard_that_fails_and_finishes_the_other(uninterrupted, experts, tmp_path, capsys):
    plan = write_plan(tmp_path, experts, executor="{kind: submitit, cluster: local}", games=("pong",))
    blocked = tmp_path / "data" / "pong-1-of-2.zarr"  # someone's folder where a store goes
    blocked.mkdir(parents=True)
    (blocked / "notes.txt").write_text("not a store\n")

    assert main(["dataset", "build", str(plan), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "pong 1/2 failed:" in out and "is not a teacher store" in out
    assert "1 of 2 stores finished" in out
    assert_same_stores(tmp_path / "data" / "pong-0-of-2.zarr", uninterrupted / "pong-0-of-2.zarr", "pong 0/2")
    record = json.loads((tmp_path / "data" / "dataset.json").read_text())
    assert list(record["stores"]) == ["pong-0-of-2.zarr"]
    assert "1 of 2 stores finished" in (tmp_path / "data" / "README.md").read_text()
    assert (blocked / "notes.txt").read_text() == "not a store\n"  # nothing of theirs touched

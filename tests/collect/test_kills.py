"""SIGKILL at any moment: the store opens, verifies, and resumes to exactly the uninterrupted one.

Per engine, one collection is killed ten times in a row, each run resuming the last: inside
writes (AMN_TEST_KILL_AT: while creating the store, in the middle of a chunk's arrays, right
before a commit, while writing the HDF5 file) and at random times from outside. After every
kill the store must open and pass `verify` (its committed part); the last resume must reach
the exact target, and the store must equal, lane by lane and array by array, the one an
uninterrupted run writes with the same settings.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from actor_mimic.collect import CollectConfig, collect
from actor_mimic.datasets.inspection import verify_store
from actor_mimic.store import open_store, partial_path
from tests.collect.conftest import read_lanes
from tests.collect.forked import run_amn

STEPS = 400  # 200 per lane: 13 chunks of 16 rows; random Breakout ends an episode every ~200 steps
# Sticky actions and no-op starts on: the replayed heads must reproduce their draws too.
SETTINGS = dict(steps=STEPS, num_envs=2, chunk_len=16, epsilon=1.0, seed=4, sticky=0.25, noop_max=30)
FLAGS = ["--steps", STEPS, "--num-envs", 2, "--chunk-len", 16, "--epsilon", 1, "--seed", 4, "--sticky", 0.25,
         "--noop-max", 30, "--no-progress"]  # fmt: skip

# Where each run of the chain is killed: "event:n" kills inside the n-th such write of the
# run; "random" kills from outside after 0.3..1.5 s (with a later write as a backstop, so
# every run dies). The HDF5 chain ends with a kill while the HDF5 file is being written.
KILLS = ["create:1", "chunk:2", "commit:3", "random", "chunk:1", "commit:2", "random", "chunk:3", "random"]
LAST_KILL = {"zarr": "commit:1", "h5": "convert:1"}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, expert_file):
    path = tmp_path_factory.mktemp("reference") / "s.zarr"
    collect(CollectConfig(expert=str(expert_file), out=path, **SETTINGS))
    return read_lanes(path, allow_incomplete=False)


@pytest.mark.parametrize("engine", ["zarr", "h5"])
def test_ten_kills_then_resume_equals_the_uninterrupted_store(tmp_path, expert_file, uninterrupted, engine):
    out = tmp_path / f"s.{engine}"
    command = ["collect", "--expert", expert_file, "--out", out, *FLAGS]
    rng = random.Random(engine)
    kills = 0
    for where in [*KILLS, LAST_KILL[engine]]:
        env = {"AMN_TEST_KILL_AT": where if where != "random" else "chunk:6"}
        status, stderr = run_amn(
            *command, "--resume", env=env, stop_after=rng.uniform(0.3, 1.5) if where == "random" else None
        )
        if status == 2 and "interrupted while being created" in stderr:
            assert "--overwrite" in stderr and "Traceback" not in stderr  # the way out, said
            status, stderr = run_amn(*command, "--overwrite", env=env)
        assert status == -9, (where, status, stderr)
        kills += 1
        if where == "create:1":
            continue  # nothing committed yet: the next run says so
        backend, info = open_store(out, allow_incomplete=True)
        backend.close()
        assert not info.complete or where == "convert:1"
        assert verify_store(out, allow_incomplete=True) == [], where
    assert kills == 10

    status, stderr = run_amn(*command, "--resume")
    assert status == 0, stderr
    if engine == "h5":
        assert out.is_file() and not partial_path(out).exists() and not list(tmp_path.glob("*.writing"))
    backend, info = open_store(out)
    backend.close()
    assert info.complete and info.num_steps == STEPS and verify_store(out) == []
    resumed = read_lanes(out, allow_incomplete=False)
    for lane, (got, expected) in enumerate(zip(resumed, uninterrupted)):
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=f"lane {lane} {name}")
    # Runs record themselves with their first commit; the last one reached the target.
    assert len(info.attrs["segments"]) >= 2 and info.attrs["segments"][-1]["stopped_by"] == "target"


def test_a_resume_whose_replay_differs_from_the_store_is_refused(tmp_path, expert_file):
    """The replayed head must reproduce the stored frames: a store edited since (its checksums
    rewritten to match) cannot be continued as if nothing happened."""
    from actor_mimic.store import open_backend, record_checksums

    out = tmp_path / "s.zarr"
    command = ["collect", "--expert", expert_file, "--out", out, *FLAGS]
    status, _ = run_amn(*command, env={"AMN_TEST_KILL_AT": "commit:4"})
    assert status == -9
    backend, info = open_store(out, allow_incomplete=True)
    lane = next(i for i, lane in enumerate(info.lanes) if lane.committed > lane.num_steps)  # one with a head
    row = info.lanes[lane].committed - 1
    backend.close()
    backend = open_backend(out, "a")
    backend.array(f"lanes/{lane}/frames")[row] = 255 - backend.array(f"lanes/{lane}/frames")[row]
    record_checksums(backend, f"lanes/{lane}/frames", row // 16, row // 16 + 1)
    backend.close()
    status, stderr = run_amn(*command, "--resume")
    head = row - info.lanes[lane].num_steps
    assert status == 2 and "Traceback" not in stderr
    assert f"replaying lane {lane}'s running episode gave another frame at its step {head}" in stderr

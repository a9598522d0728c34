"""scripts/store_scores.py on a real tiny Breakout store that `amn collect` wrote."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from actor_mimic.cli import main
from actor_mimic.store import open_store, read_field

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "store_scores.py"
sys.path.insert(0, str(SCRIPT.parent))
import store_scores  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scores") / "breakout.zarr"
    assert main(["collect", "--expert", str(ROOT / "experts" / "breakout.safetensors"), "--out", str(path),
                 "--steps", "600", "--num-envs", "2", "--seed", "0", "--no-progress"]) == 0  # fmt: skip
    return path


def test_each_step_is_scored_with_its_episodes_return_before_it(store):
    game, scores, returns = store_scores.step_scores(str(store))
    with open_store(store) as (backend, info):
        assert game == "breakout" and len(scores) == info.num_steps == 600
        assert returns == [float(r) for r in info.episode_returns]
        offset = 0
        for lane in info.lanes:
            rewards = read_field(backend, info.attrs, lane.prefix, "rewards", 0, lane.num_steps)
            for start, length, episode_return in zip(lane.episode_starts, lane.episode_lengths, lane.episode_returns):
                first, last = offset + start, offset + start + length - 1
                assert scores[first] == 0.0  # nothing scored before an episode's first step
                assert scores[last] + rewards[start + length - 1] == episode_return  # the collector's own sum
                assert np.all(np.diff(scores[first : last + 1]) >= 0)  # Breakout's rewards are >= 0
            offset += lane.num_steps


def test_the_rows_count_every_step_and_episode_once(store):
    _, scores, returns = store_scores.step_scores(str(store))
    edge = float(np.median(scores)) + 0.5
    printed = subprocess.run([sys.executable, str(SCRIPT), str(store), str(store), "--edges", str(edge)],
                             capture_output=True, text=True, check=True).stdout.splitlines()  # fmt: skip
    assert len(printed) == 1 + 2 + 2 + 2  # header, two rows per store, two for both together
    below, above = int((scores < edge).sum()), int((scores >= edge).sum())
    assert [int(line.split()[2].replace(",", "")) for line in printed[1:3]] == [below, above]
    assert [int(line.split()[-1]) for line in printed[1:3]] == [sum(r < edge for r in returns),
                                                                sum(r >= edge for r in returns)]  # fmt: skip
    assert [int(line.split()[3].replace(",", "")) for line in printed[5:7]] == [2 * below, 2 * above]


def test_edges_out_of_order_and_mixed_games_are_refused(store, tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), str(store), "--edges", "5", "2"], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 2 and done.stderr == "store_scores.py: error: --edges must ascend, got [5.0, 2.0]\n"
    boxing = tmp_path / "boxing.zarr"
    assert main(["collect", "--expert", str(ROOT / "experts" / "boxing.safetensors"), "--out", str(boxing),
                 "--steps", "40", "--num-envs", "1", "--no-progress"]) == 0  # fmt: skip
    done = subprocess.run([sys.executable, str(SCRIPT), str(store), str(boxing), "--edges", "1"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 2 and "different games (boxing, breakout)" in done.stderr

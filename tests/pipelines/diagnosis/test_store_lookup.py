"""`amn diagnose lookup`: the kept states found in a real teacher store exactly as often as a
brute-force comparison of every stored frame and stack finds them, the nearest frame as a
brute-force distance says, and the stored steps' scores as their episodes' rewards add up."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from actor_mimic.cli import main
from actor_mimic.collect import CollectConfig, collect
from actor_mimic.pipelines.diagnosis.store_lookup import index_stores, match_counts
from actor_mimic.store import open_store, read_episodes
from tests.pipelines.diagnosis.conftest import BREAKOUT


@pytest.fixture(scope="module")
def store(tmp_path_factory, checkpoints):
    """Random play (epsilon 1) of Breakout in two lanes, labelled by the expert."""
    return collect(CollectConfig(expert=str(checkpoints["expert"]), out=tmp_path_factory.mktemp("s") / "b.zarr",
                                 steps=500, num_envs=2, seed=0, chunk_len=64, epsilon=1.0))  # fmt: skip


def stored(store) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every stored step's frame (S, H, W), stack (S, 4, H, W) and score (S,), by brute force."""
    frames, stacks, scores = [], [], []
    with open_store(store) as (backend, info):
        for episode in read_episodes(backend, info):
            padded = np.concatenate([np.zeros((3, 84, 84), np.uint8), episode["frames"]])
            frames.append(episode["frames"])
            stacks.append(np.stack([padded[t : t + 4] for t in range(len(episode["frames"]))]))
            scores.append(np.concatenate([[0.0], np.cumsum(episode["rewards"].astype(np.float64))[:-1]]))
    return np.concatenate(frames), np.concatenate(stacks), np.concatenate(scores)


def test_exact_matches_nearest_frames_and_scores_agree_with_brute_force(store):
    frames, stacks, scores = stored(store)
    changed = stacks[40].copy()
    changed[-1, 30:33, 40] += 7  # three pixels off: in no stored frame
    shifted = stacks[40].copy()
    shifted[0] = stacks[200][-1]  # its newest frame is stored, its whole stack is not
    queries = np.stack([stacks[0], stacks[40], stacks[321], changed, shifted])
    states = index_stores([str(store)], "breakout", BREAKOUT.preprocessing(), queries[:, -1])

    frame_matches, stack_matches = match_counts(queries, states)
    expected_frames = [(frames == q[-1]).all(axis=(1, 2)).sum() for q in queries]
    expected_stacks = [(stacks == q).all(axis=(1, 2, 3)).sum() for q in queries]
    assert frame_matches.tolist() == expected_frames and stack_matches.tolist() == expected_stacks
    assert stack_matches[3] == 0 and frame_matches[4] >= 1 and stack_matches[4] == 0

    distances = ((frames[None].astype(np.float64) - queries[:, -1, None].astype(np.float64)) ** 2).sum(axis=(2, 3))
    np.testing.assert_array_equal(states.nearest.distance, distances.min(axis=1))  # exact, in float64
    assert states.nearest.distance[3] == 3 * 7**2  # the three changed pixels
    np.testing.assert_array_equal(np.sort(states.all_scores), np.sort(scores))


def test_lookup_of_a_diagnosis_counts_every_kept_state(diagnosis, store, capsys):
    folder = diagnosis / "breakout"
    assert main(["diagnose", "lookup", "--diagnosis", str(diagnosis), "--stores", str(store), "--nearest"]) == 0
    assert "fatal states" in capsys.readouterr().out
    deaths = dict(np.load(folder / "deaths.npz", allow_pickle=False))
    frames, stacks, scores = stored(store)
    kept = deaths["stacks"][deaths["valid"]]
    with open(folder / "store_lookup.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(kept)
    for row, stack in zip(rows, kept):
        assert int(row["frame_matches"]) == (frames == stack[-1]).all(axis=(1, 2)).sum()
        assert int(row["stack_matches"]) == (stacks == stack).all(axis=(1, 2, 3)).sum()
        nearest = ((frames.astype(np.float64) - stack[-1].astype(np.float64)) ** 2).sum(axis=(1, 2)).min()
        assert float(row["nearest_rms"]) == pytest.approx(np.sqrt(nearest / stack[-1].size), abs=1e-4)
    document = json.loads((folder / "store_lookup.json").read_text())
    assert document["store_steps"] == len(frames) and len(document["deaths"]) == len(deaths["stacks"])
    for row in document["by_score"]:
        assert row["store_steps"] == ((scores >= row["low"]) & (scores < row["high"])).sum()
    assert document["store_steps_above_last_bin"] + sum(r["store_steps"] for r in document["by_score"]) == len(frames)

    # A second lookup replaces its files only with --overwrite.
    assert main(["diagnose", "lookup", "--diagnosis", str(diagnosis), "--stores", str(store)]) == 2
    assert "store_lookup.csv already exists: pass --overwrite" in capsys.readouterr().err

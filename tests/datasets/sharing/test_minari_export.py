"""`amn dataset export-minari`: read back with `minari.load_dataset`, every episode exact."""

from __future__ import annotations

import numpy as np
import pytest

from actor_mimic.cli import main
from actor_mimic.store import open_backend, open_store
from tests.datasets.conftest import collect_store, copy_store, edit_row, live_stacks, raw_arrays

minari = pytest.importorskip("minari")

DATASET = "atari/breakout/teacher-v0"


@pytest.fixture(scope="module")
def store(tmp_path_factory, breakout_expert):
    """Two lanes of Breakout, each ending in an episode the steps budget cut (truncated)."""
    return collect_store(tmp_path_factory.mktemp("minari") / "b.zarr", breakout_expert, 600, num_envs=2)


def load(root, monkeypatch, dataset_id=DATASET):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return minari.load_dataset(dataset_id)


def test_export_reads_back_exactly_with_minari(capsys, tmp_path, store, monkeypatch):
    root = tmp_path / "datasets"
    assert main(["dataset", "export-minari", str(store), DATASET, "--data-path", str(root)]) == 0
    assert capsys.readouterr().out == f"wrote Minari dataset {DATASET} at {root / DATASET}\n"
    dataset = load(root, monkeypatch)
    backend, info = open_store(store)
    backend.close()
    assert (dataset.total_episodes, dataset.total_steps) == (info.num_episodes, info.num_steps)
    assert info.num_episodes >= 3 and len(info.attrs["cut_episodes"]) == 2

    arrays, live = raw_arrays(store), live_stacks(store)  # served steps, lane after lane
    lengths = np.concatenate([lane.episode_lengths for lane in info.lanes])
    episodes = list(dataset.iterate_episodes())
    assert [len(e.actions) for e in episodes] == lengths.tolist()
    start = 0
    for episode, length in zip(episodes, lengths):
        steps = slice(start, start + length)
        observations, infos = episode.observations, episode.infos
        assert observations.dtype == np.uint8 and observations.shape == (length + 1, 4, 84, 84)
        assert np.array_equal(observations[:-1], live[steps])  # what the game showed the agent
        assert np.array_equal(observations[-1], observations[-2])  # the final one is not stored
        assert np.array_equal(episode.actions, arrays["actions"][steps])
        assert episode.rewards.dtype == np.float32 and np.array_equal(episode.rewards, arrays["rewards"][steps])
        assert np.array_equal(episode.terminations, arrays["terminated"][steps])
        assert np.array_equal(episode.truncations, arrays["truncated"][steps])
        assert episode.terminations[-1] or episode.truncations[-1]
        for name in ("q_values", "hidden", "lives"):
            assert infos[name].dtype == arrays[name].dtype
            assert infos[name][:-1].tobytes() == arrays[name][steps].tobytes(), name
        assert infos["stored"].tolist() == [True] * length + [False]
        start += length
    assert start == info.num_steps

    metadata = dataset.storage.metadata
    assert metadata["algorithm_name"] == "actor-mimic teacher"
    assert metadata["actor_mimic"]["expert_sha256"] == info.attrs["expert"]["weights_sha256"]
    assert metadata["actor_mimic"]["action_set"] == [0, 1, 3, 4]
    assert "ALE/Breakout-v5" in metadata["description"]
    assert dataset.spec.env_spec.id == "ALE/Breakout-v5"
    assert dataset.spec.env_spec.kwargs["frameskip"] == 1  # the frame skip is AtariPreprocessing's
    assert [w.kwargs.get("frame_skip") for w in dataset.spec.env_spec.additional_wrappers][0] == 4


def test_unfinished_episodes_are_dropped(tmp_path, store, monkeypatch):
    """An interrupted lane ends in rows of an episode that was still running: not exported."""
    path = copy_store(store, tmp_path / "unfinished.zarr")
    backend = open_backend(path, "a")
    attrs = backend.read_attrs()
    last = attrs["lanes"][1]["steps"] - 1
    backend.close()
    edit_row(path, "lanes/1/truncated", last, False)  # lane 1's last episode never ended
    backend = open_backend(path, "a")
    attrs["lanes"][1].update(episodes=attrs["lanes"][1]["episodes"] - 1, complete=False)
    attrs.update(num_episodes=attrs["num_episodes"] - 1, complete=False, cut_episodes=attrs["cut_episodes"][:1])
    backend.write_attrs(attrs)
    backend.close()
    root = tmp_path / "datasets"
    assert main(["dataset", "export-minari", str(path), DATASET, "--data-path", str(root)]) == 2
    assert main(["dataset", "export-minari", str(path), DATASET, "--data-path", str(root), "--allow-incomplete"]) == 0
    backend, info = open_store(path, allow_incomplete=True)
    backend.close()
    dataset = load(root, monkeypatch)
    assert info.num_steps < attrs["num_steps"]  # the running episode's rows are committed
    assert (dataset.total_episodes, dataset.total_steps) == (info.num_episodes, info.num_steps)


def test_an_existing_dataset_is_replaced_only_if_ours(capsys, tmp_path, store, monkeypatch):
    root = tmp_path / "datasets"
    command = ["dataset", "export-minari", str(store), DATASET, "--data-path", str(root)]
    assert main(command) == 0
    assert main(command) == 2
    assert "already exists: pass --overwrite" in capsys.readouterr().err
    assert main([*command, "--overwrite", "--author", "A. Person"]) == 0
    assert load(root, monkeypatch).storage.metadata["author"] == {"A. Person"}
    foreign = root / "theirs-v0"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("someone's dataset\n")
    assert main(["dataset", "export-minari", str(store), "theirs-v0", "--data-path", str(root), "--overwrite"]) == 2
    assert "is not a Minari dataset written by actor-mimic" in capsys.readouterr().err
    assert main(["dataset", "export-minari", str(store), "not an id!", "--data-path", str(root)]) == 2
    assert "is not a Minari dataset id" in capsys.readouterr().err
    assert sorted(p.name for p in root.iterdir()) == ["atari", "theirs-v0"]

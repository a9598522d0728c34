"""Dataset cards: written by every collection, printed and rewritten by `amn dataset card`."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from ale_py import roms

from actor_mimic.cli import main
from actor_mimic.collect import CollectConfig, collect
from actor_mimic.common.checkpoint import load_checkpoint
from actor_mimic.store.backends import bytes_on_disk
from actor_mimic.store.card import (
    card_path,
    front_matter,
    read_card,
    refresh_card,
    render_card,
    write_card,
)
from actor_mimic.store.card_markdown import table_rows
from actor_mimic.store.writer import SCHEMA_VERSION, open_store

SHIPPED_EXPERT = Path(__file__).resolve().parents[2] / "experts" / "breakout.safetensors"
FRONT = {
    "pretty_name": "Breakout teacher dataset (actor-mimic)",
    "license": "other",
    "tags": [
        "actor-mimic",
        "atari",
        "arcade-learning-environment",
        "policy-distillation",
        "teacher-dataset",
        "breakout",
    ],
    "task_categories": ["reinforcement-learning"],
    "size_categories": ["n<1K"],
    "viewer": False,
}


def collect_small(path: Path, **options) -> Path:
    settings = {"steps": 200, "num_envs": 2, "chunk_len": 64, "seed": 1, **options}
    return collect(CollectConfig(expert=SHIPPED_EXPERT, out=path, **settings))


@pytest.fixture(scope="module")
def zarr_store(tmp_path_factory) -> Path:
    return collect_small(tmp_path_factory.mktemp("card") / "breakout.zarr")


@pytest.fixture(scope="module")
def hdf5_store(tmp_path_factory) -> Path:
    return collect_small(tmp_path_factory.mktemp("card") / "breakout.h5")


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_collection_writes_the_card_with_the_stores_facts(zarr_store):
    card = (zarr_store / "README.md").read_text()
    assert card.startswith("---\n") and front_matter(card) == FRONT
    backend, info = open_store(zarr_store)
    backend.close()
    rows = table_rows(card)
    cut = len(info.attrs["cut_episodes"])
    assert rows["steps"] == "200" and info.num_steps == 200
    assert rows["episodes"] == f"{info.num_episodes} ({cut} cut short by the budget or an interruption)"
    returns = info.episode_returns
    assert rows["episode return (raw)"] == f"mean {returns.mean():.2f}, min {returns.min():g}, max {returns.max():g}"
    assert rows["complete"] == "yes" and rows["shard"] == "0 of 1" and rows["target"] == "steps 200, total 200"
    assert rows["game (ale-py ROM id)"] == "`breakout`"
    assert rows["ROM sha256"] == f"`{sha256(roms.get_rom_path('breakout'))}`"
    assert rows["action set (ALE action ids)"] == "[0, 1, 3, 4]"
    assert rows["sticky actions (repeat_action_probability)"] == "0.0" and rows["frame skip"] == "4"
    assert rows["no-op starts (up to)"] == "30"
    assert rows["frames"] == "84x84 grayscale, max of the last two frames of each skip"
    assert rows["stacks"] == "4 frames, padded with zeros at an episode's start"
    assert rows["sha256 of the checkpoint file"] == f"`{sha256(SHIPPED_EXPERT)}`"
    assert rows["stored layer"] == "`fc` (512 units)"
    expert = load_checkpoint(SHIPPED_EXPERT).metadata  # the card quotes it exactly
    trained, score = expert.provenance, expert.evaluation["breakout"]
    assert rows["trained"] == f"amn train-dqn, {trained['agent_steps']:,} agent steps, preset {trained['preset']}"
    assert (
        rows["score (breakout)"]
        == f"{score['mean']:.2f} ± {score['std']:.2f} ({score['num_episodes']} episodes, epsilon 0.05)"
    )
    assert rows["acting policy"] == "expert" and rows["epsilon-greedy epsilon"] == "0.05"
    assert rows["round"] == "none (the expert's own play)"
    assert rows["format"] == f"Zarr v3 directory, schema `actor-mimic-teacher-store` version {SCHEMA_VERSION}"
    assert rows["lanes"] == "2"
    assert rows["chunks"] == "64 steps" and rows["compression"] == "`zstd` (lossless)"
    assert rows["Q-values"] == "float32 (4 per step)" and rows["activations"] == "float16 (512 per step)"
    data_bytes = bytes_on_disk(zarr_store) - len(card.encode())
    assert rows["size on disk"] == f"{data_bytes:,} bytes ({data_bytes / 200:.0f} per step)"
    assert rows["ale_py"] == f"`{info.attrs['versions']['ale_py']}`"
    assert "| `hidden` | float16 | (512,) | the expert's hidden activations |" in card
    assert 'dataset = TeacherDataset("breakout.zarr")' in card and 'lane = store["lanes/0"]' in card
    assert "- steps 0 to 200 (over all lanes), stopped by target" in card
    assert render_card(zarr_store) == card, "the same store gives the same card"


def test_amn_dataset_card_prints_it_and_the_store_still_reads(capsys, zarr_store):
    assert main(["dataset", "card", str(zarr_store)]) == 0
    out, err = capsys.readouterr()
    assert out == (zarr_store / "README.md").read_text() and err == ""
    assert main(["dataset", "verify", str(zarr_store)]) == 0, "a README.md inside the store is not damage"


def test_hdf5_card_lives_beside_the_file(capsys, hdf5_store):
    assert card_path(hdf5_store) == hdf5_store.with_name("breakout.h5.README.md")
    card = read_card(hdf5_store)
    rows = table_rows(card)
    assert front_matter(card) == FRONT
    assert rows["format"] == f"HDF5 file, schema `actor-mimic-teacher-store` version {SCHEMA_VERSION}"
    assert (
        rows["size on disk"] == f"{hdf5_store.stat().st_size:,} bytes ({hdf5_store.stat().st_size / 200:.0f} per step)"
    )
    assert 'store = h5py.File(path, "r")' in card
    assert main(["dataset", "card", str(hdf5_store)]) == 0
    assert capsys.readouterr().out == card


def test_license_is_set_with_write_and_kept_when_the_card_is_regenerated(capsys, tmp_path, zarr_store):
    store = tmp_path / "copy.zarr"
    shutil.copytree(zarr_store, store)
    assert main(["dataset", "card", str(store), "--write", "--license", "cc-by-4.0"]) == 0
    assert capsys.readouterr().out == f"wrote {store / 'README.md'}\n"
    assert front_matter(read_card(store))["license"] == "cc-by-4.0"
    write_card(store)  # what a later collection does
    assert front_matter(read_card(store)) == {**FRONT, "license": "cc-by-4.0"}
    assert main(["dataset", "card", str(store), "--write", "--license", "CC BY"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("amn dataset: error: license 'CC BY' is not a license id") and "\n" not in err
    assert main(["dataset", "card", str(store), "--license", "mit"]) == 2
    assert "pass them with --write" in capsys.readouterr().err
    (store / "README.md").unlink()
    assert main(["dataset", "card", str(store)]) == 0
    assert "has no card file yet" in capsys.readouterr().err


def test_a_hand_written_readme_is_never_replaced_without_overwrite(capsys, tmp_path, zarr_store):
    store = tmp_path / "mine.zarr"
    shutil.copytree(zarr_store, store)
    (store / "README.md").write_text("# my notes\n")
    assert main(["dataset", "card", str(store), "--write"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        f"amn dataset: error: {store / 'README.md'} exists and is not a dataset card written by "
        "actor-mimic: pass --overwrite to replace it with the generated card, or move it away"
    )
    assert (store / "README.md").read_text() == "# my notes\n"
    assert refresh_card(store) is None and (store / "README.md").read_text() == "# my notes\n"
    assert main(["dataset", "card", str(store), "--write", "--overwrite"]) == 0
    assert read_card(store) == render_card(store) and not list(tmp_path.rglob("*.partial"))


def test_a_missing_store_is_one_line(capsys, tmp_path):
    assert main(["dataset", "card", str(tmp_path / "none.zarr")]) == 2
    assert (
        capsys.readouterr().err.strip() == f"amn dataset: error: teacher store {tmp_path / 'none.zarr'} does not exist"
    )

"""Stores edited by hand or built to mislead: refused in one line naming what is wrong.

The rule under test: every key of the attribute document is checked for type, range and
agreement before use; every array must be the schema's (dtype, row shape, chunking, rows)
and stored inside the store; nothing is allocated from a number read from the file.
"""

import os

import h5py
import numpy as np
import pytest
import zarr

from actor_mimic.cli import main
from actor_mimic.datasets import TeacherDataset, make_loader
from actor_mimic.errors import UserError
from actor_mimic.store import open_backend
from tests.datasets.conftest import copy_store, edit_row, stored_chunk


def edit_attrs(path, **changes):
    backend = open_backend(path, "a")
    attrs = backend.read_attrs()
    attrs.update(changes)
    backend.write_attrs(attrs)
    backend.close()


def refused(capsys, path, *fragments):
    """`amn dataset info` and TeacherDataset both refuse `path` in one line holding `fragments`."""
    assert main(["dataset", "info", str(path)]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and "Traceback" not in err, err
    for fragment in (str(path), *fragments):
        assert fragment in lines[0], (fragment, lines[0])
    with pytest.raises(UserError) as caught:
        TeacherDataset(path)
    assert str(caught.value) in lines[0]


EDITS = {  # key: (value, words the message must hold)
    "num_steps": ("700", "a whole number in 0.."),
    "num_episodes": (10**9, "a whole number in 0..700"),
    "action_set": ([0, 1, 3, 99], "a list of whole numbers in 0..17"),
    "num_actions": (5, "a list of 5 whole numbers"),
    "hidden_size": (-1, "'hidden_size' must be a whole number in 1..65536"),
    "chunk_len": (10**9, "'chunk_len' must be a whole number in 1..65536"),
    "fields": (["frames", "../../outside", "rewards"], "'fields' must be the schema's per-step arrays"),
    "schema_version": ("2", "'schema_version' must be a whole number in 1..4"),
    "complete": ("yes", "'complete' must be true or false"),
    "q_dtype": ("float64", "'q_dtype' must be one of float32, float16"),
    "preprocessing": ({"screen_size": 10**6}, "'screen_size' must be a whole number in 1..1024"),
    "atari": ([1, 2], "'atari' must be a JSON object"),
}


@pytest.mark.parametrize("key", sorted(EDITS))
def test_hand_edited_attributes_are_refused_naming_the_key(capsys, tmp_path, breakout_zarr, key):
    path = copy_store(breakout_zarr, tmp_path / "edited.zarr")
    value, words = EDITS[key]
    edit_attrs(path, **{key: value})
    refused(capsys, path, words, "metadata was edited or damaged" if key != "num_actions" else "")


def test_a_huge_episode_count_is_refused_before_anything_is_allocated(capsys, tmp_path, breakout_h5):
    path = copy_store(breakout_h5, tmp_path / "huge.h5")
    lanes = [{"steps": 10**9, "episodes": 10**9, "complete": True}]
    edit_attrs(path, num_steps=10**9, num_episodes=10**9, lanes=lanes)
    refused(capsys, path, "array lanes/0/frames has 700 rows, fewer than the 1000000000 committed")
    edit_attrs(path, num_steps=700, num_episodes=10**9, lanes=[{**lanes[0], "steps": 700}])
    refused(capsys, path, "'num_episodes' must be a whole number in 0..700")


@pytest.mark.parametrize("store", ["zarr", "h5"])
def test_retyped_and_reshaped_arrays_are_refused_naming_the_array(capsys, tmp_path, breakout_zarr, breakout_h5, store):
    source = breakout_zarr if store == "zarr" else breakout_h5
    retyped = copy_store(source, tmp_path / f"retyped.{store}")
    reshaped = copy_store(source, tmp_path / f"reshaped.{store}")
    for path, name, convert in (
        (retyped, "lanes/0/frames", lambda rows: rows.astype(np.uint16)),
        (reshaped, "lanes/0/q_values", lambda rows: np.repeat(rows, 2, axis=1)),
    ):
        if store == "zarr":
            group = zarr.open_group(str(path), mode="r+")
            rows = convert(group[name][:])
            del group[name]
            group.create_array(name, data=rows, chunks=(64, *rows.shape[1:]))
        else:
            with h5py.File(path, "r+") as file:
                rows = convert(file[name][:])
                del file[name]
                file.create_dataset(name, data=rows, chunks=(64, *rows.shape[1:]), maxshape=(None, *rows.shape[1:]))
    refused(capsys, retyped, "array lanes/0/frames is uint16 (84, 84) per row, the schema says uint8 (84, 84)")
    refused(capsys, reshaped, "array lanes/0/q_values is float32 (8,) per row, the schema says float32 (4,)")


def test_a_symlinked_chunk_file_is_refused(capsys, tmp_path, breakout_zarr):
    path = copy_store(breakout_zarr, tmp_path / "linked.zarr")
    chunk = stored_chunk(path, "lanes/0/frames", 2)[0]
    outside = tmp_path / "elsewhere.bin"
    chunk.rename(outside)
    os.symlink(outside, chunk)
    refused(capsys, path, "lanes/0/frames/c/2/0/0 is a symbolic link", "must hold its own files")
    assert main(["dataset", "verify", str(path)]) == 2
    assert "is a symbolic link" in capsys.readouterr().err


def test_hdf5_external_links_and_virtual_datasets_are_refused(capsys, tmp_path, breakout_h5):
    linked = copy_store(breakout_h5, tmp_path / "linked.h5")
    virtual = copy_store(breakout_h5, tmp_path / "virtual.h5")
    outside = copy_store(breakout_h5, tmp_path / "outside.h5")
    with h5py.File(linked, "r+") as file:
        del file["lanes/0/hidden"]
        file["lanes/0/hidden"] = h5py.ExternalLink(str(outside), "lanes/0/hidden")
    refused(capsys, linked, "lanes/0/hidden is an external link to", "must hold its own data")
    with h5py.File(outside, "r") as source:
        actions = source["lanes/0/actions"]
        layout = h5py.VirtualLayout(shape=actions.shape, dtype=actions.dtype, maxshape=(None,))
        layout[:] = h5py.VirtualSource(actions)
    with h5py.File(virtual, "r+") as file:
        del file["lanes/0/actions"]
        file["lanes/0"].create_virtual_dataset("actions", layout)
    refused(capsys, virtual, "dataset lanes/0/actions keeps its rows in other files")


def test_actions_outside_the_action_set_are_never_served(tmp_path, breakout_zarr):
    path = copy_store(breakout_zarr, tmp_path / "actions.zarr")
    edit_row(path, "lanes/0/actions", 300, 7)  # Breakout has 4 actions: indices 0..3
    dataset = TeacherDataset(path)
    assert len(dataset[:200]["actions"]) == 200
    message = r"lane 0: the action at step 300 is 7, outside its action set \(0\.\.3\); the store is corrupt"
    with pytest.raises(UserError, match=message):
        dataset[280:320]
    with pytest.raises(UserError, match=message):
        list(make_loader(dataset, batch_size=64))

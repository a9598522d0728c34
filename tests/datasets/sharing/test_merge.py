"""`amn dataset merge`: every lane of every input, exactly, with its collection's provenance."""

from __future__ import annotations

import numpy as np
import pytest

from actor_mimic.cli import main
from actor_mimic.datasets import TeacherDataset
from actor_mimic.errors import UserError
from actor_mimic.store import (
    StoreWriter,
    checksum_name,
    chunks_of,
    copy_lane,
    crc32c,
    lane_sources,
    open_backend,
    open_store,
    read_card,
    stored_fields,
)
from tests.datasets.conftest import collect_store, copy_store, mark_incomplete


@pytest.fixture(scope="module")
def collections(tmp_path_factory, breakout_expert):
    """Three collections of one expert: its own play on two lanes (seed 0), a round with
    another epsilon (seed 1), and an HDF5 store of another chunk length (seed 2)."""
    folder = tmp_path_factory.mktemp("merge")
    return [
        collect_store(folder / "seed0.zarr", breakout_expert, 300, seed=0, num_envs=2),
        collect_store(folder / "round1.zarr", breakout_expert, 200, seed=1, epsilon=0.9, round="r1"),
        collect_store(folder / "seed2.h5", breakout_expert, 150, seed=2, chunk_len=32),
    ]


def lanes_of(path) -> list[dict]:
    """Per lane: every stored array's committed rows and its recorded checksums (checked
    against the bytes on disk on the way)."""
    backend, info = open_store(path, allow_incomplete=True)
    lanes = [{} for _ in info.attrs["lanes"]]
    for index, record in enumerate(info.attrs["lanes"]):
        prefix, rows = f"lanes/{index}/", record["steps"]
        for name in stored_fields(info.attrs):
            array = backend.array(prefix + name)
            recorded = np.asarray(backend.array(checksum_name(prefix + name))[: chunks_of(rows, array.chunks[0])])
            on_disk = [crc32c(backend.read_chunk(prefix + name, k)) for k in range(chunks_of(rows, array.chunks[0]))]
            assert recorded.tolist() == on_disk, f"{path}: checksums of {prefix + name}"
            lanes[index][name] = (np.asarray(array[:rows]), recorded)
    backend.close()
    return lanes


def assert_lanes_equal(merged: list[dict], inputs: list[list[dict]], same_bytes: list[bool]) -> None:
    expected = [lane for store in inputs for lane in store]
    assert len(merged) == len(expected)
    copied_bytes = [flag for store, flag in zip(inputs, same_bytes) for _ in store]
    for index, (got, want, byte_copy) in enumerate(zip(merged, expected, copied_bytes)):
        assert got.keys() == want.keys() and len(got) == 9  # 8 step fields and hidden_ref
        for name, (values, checksums) in want.items():
            assert got[name][0].dtype == values.dtype and got[name][0].tobytes() == values.tobytes(), (index, name)
            if byte_copy:  # chunks copied byte for byte: the checksums carried over
                assert got[name][1].tolist() == checksums.tolist(), (index, name)


def test_merge_keeps_every_lane_exactly_with_its_provenance(capsys, tmp_path, collections, monkeypatch):
    from actor_mimic.datasets.sharing import merge

    decoded = []  # lanes copied by value; the others' chunks were copied byte for byte
    monkeypatch.setattr(merge, "copy_lane", lambda *args: decoded.append(args[2]) or copy_lane(*args))
    out = tmp_path / "merged.zarr"
    assert main(["dataset", "merge", str(out), *map(str, collections)]) == 0
    assert decoded == ["lanes/0/"]  # the HDF5 store's one lane
    assert capsys.readouterr().out == f"wrote {out}\n"
    assert_lanes_equal(lanes_of(out), [lanes_of(path) for path in collections], [True, True, False])
    assert main(["dataset", "verify", str(out)]) == 0

    backend, info = open_store(out)
    backend.close()
    assert info.attrs["schema_version"] == 4 and info.complete
    provenance = [(record["name"], lane, record["seed"], record["behaviour"]["round"], record["behaviour"]["epsilon"])
                  for record, lane in lane_sources(info.attrs)]  # fmt: skip
    assert provenance == [
        ("seed0.zarr", 0, 0, None, 1.0), ("seed0.zarr", 1, 0, None, 1.0),
        ("round1.zarr", 0, 1, "r1", 0.9), ("seed2.h5", 0, 2, None, 1.0),
    ]  # fmt: skip
    assert "behaviour" not in info.attrs and "seed" not in info.attrs  # they differ: per lane only
    assert info.attrs["expert"] == open_store(collections[0])[1].attrs["expert"]
    inputs = [open_store(path)[1] for path in collections]
    assert info.num_steps == sum(i.num_steps for i in inputs) and info.num_episodes == sum(
        i.num_episodes for i in inputs
    )
    assert len(TeacherDataset(out)) == sum(len(TeacherDataset(path)) for path in collections)
    card = read_card(out)
    assert "| round1.zarr | 1 | 200 | expert | 0.9 | r1 | 1 | [0, 1] |" in card
    assert not list(tmp_path.glob("*.partial"))


def test_merge_writes_hdf5_and_merges_merged_stores(tmp_path, collections):
    first = tmp_path / "first.h5"
    assert main(["dataset", "merge", str(first), str(collections[0]), str(collections[1])]) == 0
    again = tmp_path / "again.zarr"
    assert main(["dataset", "merge", str(again), str(first), str(collections[2])]) == 0
    assert main(["dataset", "verify", str(first), str(again)]) == 0
    assert_lanes_equal(lanes_of(again), [lanes_of(path) for path in collections], [False, False, False])
    backend, info = open_store(again)
    backend.close()
    assert [(record["name"], record["seed"]) for record, _ in lane_sources(info.attrs)] == [
        ("seed0.zarr", 0), ("seed0.zarr", 0), ("round1.zarr", 1), ("seed2.h5", 2)
    ]  # fmt: skip
    assert info.attrs["merged"]["inputs"] == ["first.h5", "seed2.h5"]
    assert not [p for p in tmp_path.iterdir() if p.name not in ("first.h5", "first.h5.README.md", "again.zarr")]


def edited(source, target, edit):
    copy = copy_store(source, target)
    backend = open_backend(copy, "a")
    backend.write_attrs(edit(backend.read_attrs()))
    backend.close()
    return copy


EDITS = {
    "frame_skip": (
        lambda a: {
            **a,
            "atari": {**a["atari"], "frame_skip": 3},
            "preprocessing": {**a["preprocessing"], "frame_skip": 3},
        },
        "frame_skip (3 vs 4)",
    ),
    "sticky": (lambda a: {**a, "atari": {**a["atari"], "repeat_action_probability": 0.25}}, "sticky actions"),
    "noop": (lambda a: {**a, "atari": {**a["atari"], "noop_max": 30}}, "atari.noop_max"),
    # a preprocessing or action set its own settings do not give: refused on open (store/meaning.py)
    "screen": (lambda a: {**a, "preprocessing": {**a["preprocessing"], "stack_size": 2}}, "(stack_size 4 vs 2)"),
    "actions": (lambda a: {**a, "action_set": [0, 1, 3, 5]}, "not breakout's minimal action set"),
    "expert": (lambda a: {**a, "expert": {**a["expert"], "weights_sha256": "0" * 64}}, "differ in expert"),
    "layer": (lambda a: {**a, "expert": {**a["expert"], "hidden_layer": "conv"}}, "expert.hidden_layer"),
}


@pytest.mark.parametrize("field", EDITS)
def test_merge_refuses_other_settings_naming_the_field(capsys, tmp_path, collections, field):
    edit, message = EDITS[field]
    other = edited(collections[1], tmp_path / "other.zarr", edit)
    assert main(["dataset", "merge", str(tmp_path / "m.zarr"), str(collections[0]), str(other)]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1, error
    assert not (tmp_path / "m.zarr").exists() and not (tmp_path / "m.zarr.partial").exists()


def test_merge_refuses_repeats_and_incomplete_inputs(capsys, tmp_path, collections):
    out = str(tmp_path / "m.zarr")
    twin = copy_store(collections[0], tmp_path / "twin.zarr")
    assert main(["dataset", "merge", out, str(collections[0]), str(twin)]) == 2
    assert "hold the same collection (seed 0" in capsys.readouterr().err
    assert main(["dataset", "merge", out, str(collections[0]), str(collections[0])]) == 2
    assert "is given twice" in capsys.readouterr().err
    unfinished = copy_store(collections[1], tmp_path / "unfinished.zarr")
    mark_incomplete(unfinished)
    assert main(["dataset", "merge", out, str(collections[0]), str(unfinished)]) == 2
    assert "is incomplete" in capsys.readouterr().err
    assert main(["dataset", "merge", out, str(collections[0]), str(unfinished), "--allow-incomplete"]) == 0
    assert_lanes_equal(lanes_of(out), [lanes_of(collections[0]), lanes_of(unfinished)], [True, True])
    backend, info = open_store(out)
    backend.close()
    assert info.complete and lane_sources(info.attrs)[2][0]["complete"] is False


def test_an_existing_out_is_replaced_only_with_overwrite(capsys, tmp_path, collections):
    out = tmp_path / "m.zarr"
    inputs = [str(collections[0]), str(collections[1])]
    assert main(["dataset", "merge", str(out), *inputs]) == 0
    capsys.readouterr()
    assert main(["dataset", "merge", str(out), str(collections[0]), str(collections[2])]) == 2
    assert "already exists: pass --overwrite" in capsys.readouterr().err
    assert len(open_store(out)[1].attrs["lanes"]) == 3  # untouched
    assert main(["dataset", "merge", str(out), str(collections[0]), str(collections[2]), "--overwrite"]) == 0
    assert [r["name"] for r, _ in lane_sources(open_store(out)[1].attrs)] == ["seed0.zarr", "seed0.zarr", "seed2.h5"]
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "a.txt").write_text("someone's file\n")
    assert main(["dataset", "merge", str(foreign), *inputs, "--overwrite"]) == 2
    assert "is not a teacher store written by actor-mimic" in capsys.readouterr().err
    assert (foreign / "a.txt").exists()
    assert main(["dataset", "merge", str(collections[0] / "inside.zarr"), *inputs]) == 2
    assert "lies inside it" in capsys.readouterr().err


def test_verify_names_a_damaged_lane_source_and_merged_stores_are_not_resumed(capsys, tmp_path, collections):
    out = tmp_path / "m.zarr"
    assert main(["dataset", "merge", str(out), str(collections[0]), str(collections[1])]) == 0
    capsys.readouterr()
    edits = (({"source": 7}, "'source' must be a whole number in 0..1"),
             ({"source_lane": "x"}, "'source_lane' must be a whole number"))  # fmt: skip
    for index, (lane_edit, message) in enumerate(edits):
        damage = lambda a: {**a, "lanes": [{**a["lanes"][0], **lane_edit}, *a["lanes"][1:]]}  # noqa: E731, B023 - called in this iteration
        damaged = edited(out, tmp_path / f"damaged{index}.zarr", damage)
        assert main(["dataset", "verify", str(damaged)]) == 2
        assert message in capsys.readouterr().err
    with pytest.raises(UserError, match="merged from several collections"):
        StoreWriter.resume(out)

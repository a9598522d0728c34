"""Schema 3: each distinct activation row stored once per window, a reference per step.

Rows are built to repeat in known places (values from a small set, float16 edge cases among
them), written through StoreWriter with small chunks and windows, and read back through every
reader: exact values, references only inside their window, every chunk written once, a
resumed writer writing exactly what an uninterrupted one writes, a corrupt reference refused.
"""

import numpy as np
import pytest

from actor_mimic.datasets import TeacherDataset
from actor_mimic.datasets.inspection import verify_store
from actor_mimic.errors import UserError
from actor_mimic.store.backends import open_backend
from actor_mimic.store.checksums import record_checksums
from actor_mimic.store.dedup import WindowIndex, bad_reference, window_for
from actor_mimic.store.reader import read_field
from actor_mimic.store.writer import StoreWriter, open_store

CHUNK, WINDOW, HIDDEN = 16, 48, 6
# float16 values whose bits differ though some compare equal (signed zeros) or are extreme.
PALETTE = np.array([0.0, -0.0, 1.0, 65504.0, 6e-8, -2.5, 0.1], dtype=np.float16)


def steps(count: int, seed: int) -> dict:
    """`count` steps whose activation rows come from 5 distinct rows (so they repeat), the
    episode ending at its last step."""
    rng = np.random.default_rng(seed)
    distinct = PALETTE[rng.integers(0, len(PALETTE), (5, HIDDEN))]
    distinct[1] = -distinct[0] if np.any(distinct[0]) else distinct[1]  # same values, other bits
    pick = rng.integers(0, 5, count)
    terminated = np.zeros(count, bool)
    terminated[-1] = True
    return {
        "frames": np.full((count, 84, 84), seed, np.uint8),
        "actions": (pick % 4).astype(np.int16),
        "rewards": np.ones(count, np.float32),
        "terminated": terminated,
        "truncated": np.zeros(count, bool),
        "lives": np.full(count, 3, np.int16),
        "q_values": np.zeros((count, 4), np.float32),
        "hidden": distinct[pick],
    }


def new_store(path):
    return StoreWriter.create(
        path,
        metadata={"game": "breakout", "action_set": [0, 1, 3, 4]},
        num_actions=4,
        hidden_size=HIDDEN,
        chunk_len=CHUNK,
        hidden_window=WINDOW,
        hidden_dtype="float16",
    )


@pytest.fixture(params=["zarr", "h5"])
def path(request, tmp_path):
    return tmp_path / f"store.{request.param}"


def test_every_reader_gets_the_exact_rows_and_references_stay_in_their_window(path):
    data = steps(150, 1)
    writer = new_store(path)
    writer.append(0, data)
    writer.close(complete=True)
    backend, info = open_store(path)
    assert info.attrs["schema_version"] == 3 and info.attrs["hidden_window"] == WINDOW
    refs = read_field(backend, info.attrs, "lanes/0/", "hidden_ref", 0, 150)
    stored = read_field(backend, info.attrs, "lanes/0/", "hidden", 0, 150, gather=False)
    hidden = read_field(backend, info.attrs, "lanes/0/", "hidden", 0, 150)
    backend.close()
    assert hidden.tobytes() == data["hidden"].tobytes(), "bit for bit, signed zeros included"
    assert bad_reference(refs, 0, WINDOW) is None
    # each window stores each distinct row once: at most 5 per window, the rest of each chunk zeros
    for start in range(0, 150, WINDOW):
        used = np.unique(refs[start : start + WINDOW])
        assert len(used) == len({row.tobytes() for row in data["hidden"][start : start + WINDOW]})
        assert (stored[start : start + WINDOW][~np.isin(np.arange(start, min(start + WINDOW, 150)), used)] == 0).all()
    dataset = TeacherDataset(path)
    assert dataset[:150]["hidden"].tobytes() == data["hidden"].astype(np.float32).tobytes()
    assert verify_store(path) == []


def test_a_resumed_writer_writes_exactly_what_an_uninterrupted_one_writes(tmp_path):
    data = steps(200, 2)
    whole = new_store(tmp_path / "whole.zarr")
    whole.append(0, data)
    whole.close(complete=True)
    cut = new_store(tmp_path / "cut.zarr")
    cut.append(0, {name: values[:70] for name, values in data.items()})  # 64 rows committed: mid-window
    cut.close(complete=False)
    resumed = StoreWriter.resume(tmp_path / "cut.zarr")
    assert resumed.committed(0) == 64
    resumed.append(0, {name: values[64:] for name, values in data.items()})
    resumed.close(complete=True)
    for name in ("hidden", "hidden_ref", "frames"):
        got = [open_backend(tmp_path / f"{which}.zarr", "r").array(f"lanes/0/{name}")[:] for which in ("cut", "whole")]
        assert got[0].tobytes() == got[1].tobytes(), name


def test_a_reference_out_of_its_window_is_refused_by_readers_and_verify(tmp_path):
    path = tmp_path / "s.zarr"
    writer = new_store(path)
    writer.append(0, steps(100, 3))
    writer.close(complete=True)
    backend = open_backend(path, "a")
    backend.array("lanes/0/hidden_ref")[60] = 10  # step 60's window starts at 48
    record_checksums(backend, "lanes/0/hidden_ref", 3, 4)  # a faulty writer: checksums match
    backend.close()
    assert verify_store(path) == [
        f"rows: hidden_ref points outside its window of {WINDOW} steps, first at lane 0 step 60"
    ]
    with pytest.raises(UserError, match="hidden_ref of step 60 points outside its window of 48 steps"):
        TeacherDataset(path)[:100]


def test_window_index_restores_what_it_had_built():
    rows = np.array([[1, 2], [3, 4], [1, 2], [5, 6]], dtype=np.float16)
    index = WindowIndex(8)
    stored, refs = index.encode(0, rows)
    assert refs.tolist() == [0, 1, 0, 2] and stored.tolist() == [[1, 2], [3, 4], [5, 6], [0, 0]]
    again = WindowIndex(8)
    again.restore(0, refs, stored)
    assert again.rows == index.rows


def test_the_window_is_whole_chunks_and_bounded_for_wide_layers():
    assert window_for(1024, 1024) == 32768  # 512 float16 activations
    assert window_for(1024, 6272) == 5120  # 3136 float16 convolutional features: 32 MiB of rows
    assert window_for(4096, 6272) == 4096  # never less than one chunk
    with pytest.raises(UserError, match="whole number of chunks of 16"):
        StoreWriter.create("unused.zarr", metadata={"game": "breakout", "action_set": [0]}, num_actions=1,
                           hidden_size=2, chunk_len=16, hidden_window=40)  # fmt: skip


def as_schema_2(path) -> None:
    """Rewrite a Zarr store as store schema 2 wrote it: activations row by row, no references."""
    backend, info = open_store(path, allow_incomplete=True)
    rows = int(info.attrs["lanes"][0]["steps"])
    hidden = read_field(backend, info.attrs, "lanes/0/", "hidden", 0, rows)
    backend.close()
    backend = open_backend(path, "a")
    for name in ("lanes/0/hidden_ref", "lanes/0/checksums/hidden_ref"):
        del backend.group[name]
    backend.array("lanes/0/hidden")[:rows] = hidden
    record_checksums(backend, "lanes/0/hidden", 0, -(-rows // CHUNK))
    attrs = backend.read_attrs()
    del attrs["hidden_window"]
    backend.write_attrs({**attrs, "schema_version": 2})
    backend.close()


def test_schema_2_stores_are_read_verified_and_resumed_as_they_are(tmp_path):
    data = steps(100, 4)
    writer = new_store(tmp_path / "old.zarr")
    writer.append(0, {name: values[:70] for name, values in data.items()})
    writer.close(complete=False)
    as_schema_2(tmp_path / "old.zarr")
    resumed = StoreWriter.resume(tmp_path / "old.zarr")
    assert resumed.window is None and resumed.committed(0) == 64
    resumed.append(0, {name: values[64:] for name, values in data.items()})
    resumed.close(complete=True)
    backend, info = open_store(tmp_path / "old.zarr")
    assert info.attrs["schema_version"] == 2 and not backend.has_array("lanes/0/hidden_ref")
    assert read_field(backend, info.attrs, "lanes/0/", "hidden", 0, 100).tobytes() == data["hidden"].tobytes()
    backend.close()
    assert (
        TeacherDataset(tmp_path / "old.zarr")[:100]["hidden"].tobytes() == data["hidden"].astype(np.float32).tobytes()
    )
    assert verify_store(tmp_path / "old.zarr") == []

"""The teacher-store schema: lanes, commits, kills, resume and refusals, in both engines."""

import numpy as np
import pytest
import zarr

from actor_mimic.datasets import TeacherDataset
from actor_mimic.datasets.inspection import summarize, verify_store
from actor_mimic.errors import UserError
from actor_mimic.store.backends import open_backend
from actor_mimic.store.reader import read_field
from actor_mimic.store.writer import StoreWriter, open_store, partial_path

CHUNK = 64


def rows(length, value, num_actions=4, hidden_size=8, ends=True):
    """An episode (its head only, if not `ends`) whose every field is derived from `value`,
    so rows can be traced back."""
    terminated = np.zeros(length, bool)
    terminated[-1] = ends
    return {
        "frames": np.full((length, 84, 84), value, np.uint8),
        "actions": np.full(length, value % 4, np.int16),
        "rewards": np.arange(length, dtype=np.float32),
        "terminated": terminated,
        "truncated": np.zeros(length, bool),
        "lives": np.full(length, 3, np.int16),
        "q_values": np.full((length, num_actions), value / 10, np.float32),
        "hidden": np.full((length, hidden_size), value, np.float32),
    }


def new_store(path, lanes=1, **kwargs):
    return StoreWriter.create(path, metadata={"game": "breakout", "action_set": [0, 1, 3, 4]},
                              num_actions=4, hidden_size=8, chunk_len=CHUNK, lanes=lanes, **kwargs)  # fmt: skip


@pytest.fixture(params=["zarr", "h5"])
def path(request, tmp_path):
    return tmp_path / f"store.{request.param}"


def test_each_lane_commits_whole_chunks_and_reads_as_its_own_stream(path):
    writer = new_store(path, lanes=2)
    writer.append(0, rows(50, 1))
    writer.append(1, rows(70, 2))
    assert [lane["steps"] for lane in writer.lanes] == [0, 64], "nothing committed before a chunk fills"
    writer.append(0, rows(30, 3))
    assert [(lane["steps"], lane["episodes"]) for lane in writer.lanes] == [(64, 1), (64, 0)]
    writer.close(complete=True)
    assert path.exists() and not partial_path(path).exists()
    backend, info = open_store(path)
    assert (info.num_steps, info.num_episodes) == (150, 3)
    assert [lane.episode_lengths.tolist() for lane in info.lanes] == [[50, 30], [70]]
    assert info.episode_returns.tolist() == [sum(range(50)), sum(range(30)), sum(range(70))]
    assert np.array_equal(backend.array("lanes/0/frames")[48:52, 0, 0], [1, 1, 3, 3])
    backend.close()
    assert verify_store(path) == []
    dataset = TeacherDataset(path)
    assert len(dataset) == 150 and [shard.lane for shard in dataset.shards] == [0, 1]


def test_a_killed_writer_leaves_whole_chunks_that_resume_extends(path):
    writer = new_store(path, lanes=2)
    writer.append(0, rows(100, 1))  # one chunk committed, 36 rows buffered
    writer.append(1, rows(40, 2, ends=False))  # the head of a running episode, buffered
    writer.append(1, rows(30, 2, ends=False))  # 70 rows: one chunk of the running episode
    del writer  # killed: no close(), the buffered rows are gone

    with pytest.raises(UserError, match=r"incomplete.*--resume"):
        open_store(path)
    backend, info = open_store(path, allow_incomplete=True)
    assert [(lane.committed, lane.num_steps) for lane in info.lanes] == [(64, 0), (64, 0)]
    backend.close()
    assert verify_store(path, allow_incomplete=True) == []

    resumed = StoreWriter.resume(path)
    assert [lane["steps"] for lane in resumed.lanes] == [64, 64]
    np.testing.assert_array_equal(resumed.read_rows(1, "frames", 60, 64), np.full((4, 84, 84), 2, np.uint8))
    resumed.append(0, {name: values[64:] for name, values in rows(100, 1).items()})
    resumed.append(1, rows(6, 2))
    resumed.close(complete=True)
    backend, info = open_store(path)
    assert [lane.episode_lengths.tolist() for lane in info.lanes] == [[100], [70]]
    backend.close()
    assert verify_store(path) == []


def test_resume_drops_rows_past_the_commit_and_checks_the_last_chunk(tmp_path):
    path = tmp_path / "s.zarr"
    writer = new_store(path)
    writer.append(0, rows(200, 5, ends=False))  # 3 chunks committed
    backend = open_backend(path, "a")  # a killed writer's next chunk, written but not committed
    backend.resize("lanes/0/frames", 256)
    backend.array("lanes/0/frames")[192:256] = 9
    (path / "lanes" / "0" / "frames" / "zarr.0123456789abcdef0123456789abcdef.partial").write_text("{")
    backend.close()
    resumed = StoreWriter.resume(path)
    assert resumed.backend.array("lanes/0/frames").shape[0] == 192
    assert not list(path.rglob("*.partial"))
    resumed.close(complete=False)

    chunk = path / "lanes" / "0" / "actions" / "c" / "2"
    chunk.write_bytes(chunk.read_bytes()[:-1])  # the last committed chunk, damaged
    with pytest.raises(UserError, match=r"chunk 2 of lanes/0/actions .* does not match its checksum.*--overwrite"):
        StoreWriter.resume(path)


def test_an_hdf5_store_is_written_whole_when_complete(tmp_path):
    path = tmp_path / "s.h5"
    writer = new_store(path)
    writer.append(0, rows(100, 1))
    writer.close(complete=False)
    assert not path.exists() and partial_path(path).is_dir()
    backend, info = open_store(path, allow_incomplete=True)  # the partial store, by the HDF5 name
    assert info.lanes[0].committed == 64 and info.path == partial_path(path)
    backend.close()
    assert summarize(path)["backend"] == "hdf5" and summarize(path)["rows_at"] == str(partial_path(path))
    resumed = StoreWriter.resume(path)
    resumed.append(0, {name: values[64:] for name, values in rows(100, 1).items()})
    resumed.close(complete=True)
    assert path.is_file() and not partial_path(path).exists()
    assert not list(tmp_path.glob("*.writing"))
    backend, info = open_store(path)
    assert info.backend == "hdf5" and info.lanes[0].episode_lengths.tolist() == [100]
    backend.close()
    with pytest.raises(UserError, match="is complete: there is nothing to resume"):
        StoreWriter.resume(path)


def test_a_store_killed_while_being_created_says_overwrite(tmp_path):
    path = tmp_path / "s.zarr"
    new_store(path).close(complete=False)
    backend = open_backend(path, "a")
    backend.write_attrs({**backend.read_attrs(), "creating": True})
    backend.close()
    with pytest.raises(UserError, match="interrupted while being created .* again with --overwrite"):
        StoreWriter.resume(path)


def test_create_never_replaces_an_existing_store(path):
    """Replacing is `amn collect --overwrite`'s job (it sets the old store aside until the new
    one is complete); StoreWriter.create itself deletes nothing."""
    new_store(path).close(complete=True)
    before = sorted(p.name for p in path.parent.rglob("*"))
    with pytest.raises(UserError, match="already exists: pass --resume .* or --overwrite"):
        new_store(path)
    assert sorted(p.name for p in path.parent.rglob("*")) == before
    backend, info = open_store(path)
    backend.close()
    assert info.complete


def test_nan_q_values_are_refused_before_writing(path):
    writer = new_store(path)
    bad = rows(10, 1)
    bad["q_values"][4, 2] = np.nan
    with pytest.raises(UserError, match="lane 0: q_values holds NaN or infinite values .*first at step 4"):
        writer.append(0, bad)
    assert writer._buffered == [0]


def test_a_newer_schema_is_refused(path):
    new_store(path).close(complete=True)
    backend = open_backend(path, "a")
    attrs = backend.read_attrs()
    attrs["schema_version"] = 99
    backend.write_attrs(attrs)
    backend.close()
    with pytest.raises(UserError, match="schema version 99, newer .* upgrade actor-mimic"):
        open_store(path)


def write_schema1_store(path, episodes):
    """A store as actor-mimic wrote it before lanes and checksums (schema 1)."""
    group = zarr.open_group(str(path), mode="w")
    steps = {name: np.concatenate([e[name] for e in episodes]) for name in episodes[0]}
    for name, values in steps.items():
        group.create_array(name, data=values, chunks=(CHUNK, *values.shape[1:]))
    lengths = np.array([len(e["actions"]) for e in episodes], np.int64)
    table = {"episode_starts": np.cumsum(lengths) - lengths, "episode_lengths": lengths,
             "episode_returns": np.array([e["rewards"].sum(dtype=np.float64) for e in episodes])}  # fmt: skip
    for name, values in table.items():
        group.create_array(name, data=values, chunks=(4096,))
    group.attrs["actor_mimic"] = {
        "schema": "actor-mimic-teacher-store", "schema_version": 1, "game": "breakout", "action_set": [0, 1, 3, 4],
        "fields": list(steps), "num_actions": 4, "hidden_size": 8, "q_dtype": "float32", "hidden_dtype": "float32",
        "chunk_len": CHUNK, "compression": "zstd", "num_steps": int(lengths.sum()), "num_episodes": len(lengths),
        "complete": True,
    }  # fmt: skip


def test_schema_1_stores_stay_readable_but_not_resumable(tmp_path):
    path = tmp_path / "old.zarr"
    write_schema1_store(path, [rows(100, 1), rows(30, 2)])
    dataset = TeacherDataset(path)
    assert len(dataset) == 130 and dataset.episode_lengths.tolist() == [100, 30]
    assert np.array_equal(dataset[[0, 129]]["frames"][:, -1, 0, 0], [1, 2])
    assert verify_store(path) == []
    with pytest.raises(UserError, match=r"older actor-mimic \(store schema 1\) that cannot be resumed"):
        StoreWriter.resume(path)


def test_something_else_is_not_a_store(tmp_path):
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w")
    with pytest.raises(UserError, match="not an actor-mimic teacher store"):
        open_store(tmp_path / "other.zarr")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(UserError, match="neither a Zarr directory nor an HDF5 file"):
        open_store(tmp_path / "notes.txt")
    with pytest.raises(UserError, match="does not exist"):
        open_store(tmp_path / "missing.zarr")


@pytest.mark.parametrize("compression", ["zstd", "lz4:5", "gzip", "none"])
def test_every_compression_is_lossless(tmp_path, compression):
    writer = new_store(tmp_path / "c.zarr", compression=compression, hidden_dtype="float16")
    data = rows(70, 7)
    data["frames"] = np.random.default_rng(0).integers(0, 256, (70, 84, 84), dtype=np.uint8)
    data["hidden"] = data["hidden"].astype(np.float16)
    writer.append(0, data)
    writer.close(complete=True)
    backend, info = open_store(tmp_path / "c.zarr")
    assert np.array_equal(backend.array("lanes/0/frames")[:], data["frames"])
    assert backend.array("lanes/0/hidden").dtype == np.float16
    assert read_field(backend, info.attrs, "lanes/0/", "hidden", 0, 70).tobytes() == data["hidden"].tobytes()


def test_unknown_compression_is_refused(tmp_path):
    with pytest.raises(UserError, match="unknown compression 'brotli'"):
        new_store(tmp_path / "c.zarr", compression="brotli")

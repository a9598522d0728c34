"""The teacher-store schema: commits, interruption, resume and refusals, in both engines."""

import numpy as np
import pytest

from actor_mimic.common.store import StoreWriter, open_store
from actor_mimic.common.store_backends import open_backend
from actor_mimic.errors import UserError

CHUNK = 64


def episode(length, value, num_actions=4, hidden_size=8, terminated=True):
    """An episode whose every field is derived from `value`, so rows can be traced back."""
    ends = np.zeros(length, bool)
    ends[-1] = terminated
    return {
        "frames": np.full((length, 84, 84), value, np.uint8),
        "actions": np.full(length, value % 4, np.int16),
        "rewards": np.arange(length, dtype=np.float32),
        "terminated": ends,
        "truncated": ~ends & (np.arange(length) == length - 1),
        "lives": np.full(length, 3, np.int16),
        "q_values": np.full((length, num_actions), value / 10, np.float32),
        "hidden": np.full((length, hidden_size), value, np.float32),
    }


def new_store(path, **kwargs):
    return StoreWriter.create(path, metadata={"game": "breakout", "action_set": [0, 1, 3, 4]},
                              num_actions=4, hidden_size=8, chunk_len=CHUNK, **kwargs)


@pytest.fixture(params=["zarr", "h5"])
def path(request, tmp_path):
    return tmp_path / f"store.{request.param}"


def test_rows_are_committed_chunk_by_chunk(path):
    writer = new_store(path)
    writer.append_episode(episode(50, 1))
    assert (writer.num_steps, writer.num_episodes) == (0, 0), "nothing committed before a chunk fills"
    writer.append_episode(episode(30, 2))
    assert (writer.num_steps, writer.num_episodes) == (64, 1)
    writer.close(complete=True)
    backend, info = open_store(path)
    assert info.num_steps == 80 and info.num_episodes == 2
    assert info.episode_starts.tolist() == [0, 50] and info.episode_lengths.tolist() == [50, 30]
    assert info.episode_returns.tolist() == [sum(range(50)), sum(range(30))]
    assert np.array_equal(backend.array("frames")[48:52, 0, 0], [1, 1, 2, 2])


def test_a_killed_writer_leaves_a_readable_store_that_resumes_exactly(path):
    writer = new_store(path)
    for value, length in ((1, 100), (2, 40), (3, 70)):  # 210 steps: 3 chunks committed, 18 buffered
        writer.append_episode(episode(length, value))
    writer.backend.flush()
    del writer  # killed: no close(), the buffered rows are gone

    with pytest.raises(UserError, match=r"incomplete.*--resume"):
        open_store(path)
    backend, info = open_store(path, allow_incomplete=True)
    assert (info.num_steps, info.num_episodes) == (140, 2), "only committed episodes are served"
    backend.close()

    resumed = StoreWriter.resume(path)
    # The committed head of episode 3 (steps 140..191) becomes an episode marked truncated.
    assert (resumed.num_steps, resumed.num_episodes) == (192, 3)
    resumed.append_episode(episode(8, 4))
    resumed.close(complete=True)
    backend, info = open_store(path)
    assert info.episode_lengths.tolist() == [100, 40, 52, 8]
    truncated = backend.array("truncated")[:200]
    terminated = backend.array("terminated")[:200]
    assert truncated.nonzero()[0].tolist() == [191]
    assert terminated.nonzero()[0].tolist() == [99, 139, 199]
    assert np.array_equal(np.unique(backend.array("frames")[140:192]), [3])


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
    bad = episode(10, 1)
    bad["q_values"][4, 2] = np.nan
    with pytest.raises(UserError, match="q_values holds NaN or infinite values .*row 4"):
        writer.append_episode(bad)
    assert writer.total_steps == 0


def test_a_newer_schema_is_refused(path):
    new_store(path).close(complete=True)
    backend = open_backend(path, "a")
    attrs = backend.read_attrs()
    attrs["schema_version"] = 99
    backend.write_attrs(attrs)
    backend.close()
    with pytest.raises(UserError, match="schema version 99, newer .* upgrade actor-mimic"):
        open_store(path)


def test_something_else_is_not_a_store(tmp_path):
    import zarr

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
    data = episode(70, 7)
    data["frames"] = np.random.default_rng(0).integers(0, 256, (70, 84, 84), dtype=np.uint8)
    writer.append_episode(data)
    writer.close(complete=True)
    backend, _ = open_store(tmp_path / "c.zarr")
    assert np.array_equal(backend.array("frames")[:], data["frames"])
    assert backend.array("hidden").dtype == np.float16


def test_unknown_compression_is_refused(tmp_path):
    with pytest.raises(UserError, match="unknown compression 'brotli'"):
        new_store(tmp_path / "c.zarr", compression="brotli")

"""Damaged stores: verify names every bad chunk, and no reader serves one as data.

Damage is done to the bytes on disk, as a bad disk, a cut download or a careless hand would:
a flipped byte inside a compressed chunk, a deleted chunk file, a truncated file.
"""

import os

import pytest

from actor_mimic.cli import main
from actor_mimic.datasets import TeacherDataset, make_loader
from actor_mimic.store import DamagedChunk
from tests.datasets.conftest import copy_store, flip_byte, stored_chunk

CHANGED = "does not match its checksum: its bytes were changed after writing"
ADVICE = "; the store is damaged: `amn dataset verify` lists every bad chunk; re-download or recollect it"


def verify(capsys, *paths):
    status = main(["dataset", "verify", *map(str, paths)])
    out, err = capsys.readouterr()
    return status, out, err.strip().splitlines()


@pytest.fixture(params=["zarr", "h5"])
def store(request, tmp_path, breakout_zarr, breakout_h5):
    source = breakout_zarr if request.param == "zarr" else breakout_h5
    return copy_store(source, tmp_path / f"damaged.{request.param}")


def test_verify_names_the_array_and_chunk_of_every_flipped_byte(capsys, store):
    flip_byte(store, "lanes/0/frames", 3)
    flip_byte(store, "lanes/0/hidden", 10)
    flip_byte(store, "lanes/0/checksums/terminated", 0, at=0)  # the checksums themselves
    status, out, lines = verify(capsys, store)
    assert status == 2 and out == ""
    assert lines == [
        f"{store}: chunks: chunk 3 of lanes/0/frames (rows 192..255) {CHANGED}",
        f"{store}: chunks: chunk 0 of lanes/0/terminated (rows 0..63) {CHANGED}",
        f"{store}: chunks: chunk 10 of lanes/0/hidden (rows 640..703) {CHANGED}",
    ]


def test_verify_names_missing_and_truncated_chunk_files(capsys, tmp_path, breakout_zarr):
    store = copy_store(breakout_zarr, tmp_path / "files.zarr")
    stored_chunk(store, "lanes/0/q_values", 5)[0].unlink()
    truncated = stored_chunk(store, "lanes/0/actions", 2)[0]
    os.truncate(truncated, truncated.stat().st_size // 2)
    status, _, lines = verify(capsys, store)
    assert status == 2
    assert lines == [
        f"{store}: chunks: chunk 2 of lanes/0/actions (rows 128..191) {CHANGED}",
        f"{store}: chunks: chunk 5 of lanes/0/q_values (rows 320..383) is missing",
    ]


def test_verify_refuses_a_truncated_hdf5_file_in_one_line(capsys, tmp_path, breakout_h5):
    store = copy_store(breakout_h5, tmp_path / "cut.h5")
    os.truncate(store, os.path.getsize(store) * 6 // 10)
    status, _, lines = verify(capsys, store)
    assert status == 2 and len(lines) == 1 and "truncated file" in lines[0] and lines[0].startswith(str(store))


def test_readers_refuse_a_damaged_chunk_and_serve_the_rest(store):
    flip_byte(store, "lanes/0/frames", 3)
    dataset = TeacherDataset(store)
    assert len(dataset[0:150]["frames"]) == 150  # chunks 0..2 are sound
    message = f"^{store}: chunk 3 of lanes/0/frames \\(rows 192\\.\\.255\\) {CHANGED}{ADVICE}$".replace("`", "\\`")
    with pytest.raises(DamagedChunk, match=message):
        dataset[200]
    with pytest.raises(DamagedChunk, match=message):
        list(make_loader(dataset, batch_size=64))


def test_a_deleted_chunk_is_an_error_not_zeros(tmp_path, breakout_zarr):
    store = copy_store(breakout_zarr, tmp_path / "deleted.zarr")
    stored_chunk(store, "lanes/0/q_values", 4)[0].unlink()
    with pytest.raises(DamagedChunk, match=r"chunk 4 of lanes/0/q_values \(rows 256\.\.319\) is missing"):
        TeacherDataset(store)[300]
    with pytest.raises(DamagedChunk, match=r"chunk 4 of lanes/0/q_values \(rows 256\.\.319\) is missing"):
        list(make_loader(TeacherDataset(store), batch_size=64, shuffle=False))


def test_a_damaged_chunk_met_by_a_loader_worker_is_one_line(tmp_path, breakout_zarr):
    store = copy_store(breakout_zarr, tmp_path / "worker.zarr")
    flip_byte(store, "lanes/0/hidden", 6)
    with pytest.raises(DamagedChunk) as caught:
        list(make_loader(TeacherDataset(store), batch_size=64, num_workers=1))
    assert str(caught.value) == f"{store}: chunk 6 of lanes/0/hidden (rows 384..447) {CHANGED}{ADVICE}"

"""`amn dataset convert`: Zarr <-> HDF5, every array and checksum of every lane, provenance kept."""

from __future__ import annotations

import numpy as np
import pytest

from actor_mimic.cli import main
from actor_mimic.store import (
    checksum_name,
    chunks_of,
    crc32c,
    expected_arrays,
    open_backend,
    open_store,
    read_card,
    table_rows,
)
from tests.datasets.conftest import copy_store, flip_byte, mark_incomplete


def everything(path) -> tuple[dict, dict, dict, str]:
    """(every committed array of every lane, its recorded checksums, the document, the engine)."""
    backend, info = open_store(path)
    arrays, checksums = {}, {}
    for name, (_, _, _, rows) in expected_arrays(info.attrs).items():
        arrays[name] = np.asarray(backend.array(name)[:rows])
        chunk_len = backend.array(name).chunks[0]
        recorded = np.asarray(backend.array(checksum_name(name))[:])
        on_disk = [crc32c(backend.read_chunk(name, index)) for index in range(chunks_of(rows, chunk_len))]
        assert recorded.tolist() == on_disk, f"{path}: checksums of {name}"
        checksums[name] = recorded
    backend.close()
    return arrays, checksums, info.attrs, info.backend


def assert_same_values(converted, original) -> None:
    got, _, got_attrs, _ = everything(converted)
    expected, _, expected_attrs, _ = everything(original)
    assert got.keys() == expected.keys() and len(got) == 9 * 2  # 8 step fields and hidden_ref, 2 lanes
    for name, values in expected.items():
        assert got[name].dtype == values.dtype and got[name].tobytes() == values.tobytes(), name
    layout = ("backend", "chunk_len", "compression", "converted_from", "document_sha256")  # a new document
    assert {k: v for k, v in got_attrs.items() if k not in layout} == {
        k: v for k, v in expected_attrs.items() if k not in layout
    }


@pytest.fixture(scope="module")
def two_lanes(tmp_path_factory, breakout_expert):
    from tests.datasets.conftest import collect_store

    return collect_store(tmp_path_factory.mktemp("convert") / "b.zarr", breakout_expert, 500, num_envs=2)


def test_convert_is_exact_both_ways_and_verifies(capsys, tmp_path, two_lanes):
    h5, back = tmp_path / "b.h5", tmp_path / "back.zarr"
    assert main(["dataset", "convert", str(two_lanes), str(h5)]) == 0
    assert capsys.readouterr().out == f"wrote {h5}\n"
    assert main(["dataset", "convert", str(h5), str(back)]) == 0
    assert capsys.readouterr().out == f"wrote {back}\n"
    assert_same_values(h5, two_lanes)
    assert_same_values(back, two_lanes)
    _, checksums, attrs, engine = everything(back)
    assert engine == "zarr" and everything(h5)[3] == "hdf5"
    assert attrs["converted_from"]["name"] == "b.h5" and attrs["converted_from"]["backend"] == "hdf5"
    original = everything(two_lanes)[1]
    for name, values in original.items():  # same codecs, same chunks: the same bytes again
        assert checksums[name].tolist() == values.tolist(), name
    assert main(["dataset", "verify", str(h5), str(back)]) == 0
    assert capsys.readouterr().out == f"{h5}: ok\n{back}: ok\n"
    assert table_rows(read_card(h5))["steps"] == "500" and read_card(h5).count("HDF5 file") == 1
    assert table_rows(read_card(back))["format"].startswith("Zarr v3 directory")
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*.writing"))


def test_another_chunk_length_and_compression_keep_every_value(tmp_path, two_lanes):
    target = tmp_path / "c.zarr"
    assert main(["dataset", "convert", str(two_lanes), str(target), "--chunk-len", "128", "--compression", "lz4"]) == 0
    assert_same_values(target, two_lanes)
    _, _, attrs, _ = everything(target)
    assert (attrs["chunk_len"], attrs["compression"]) == (128, "lz4")
    assert attrs["converted_from"]["chunk_len"] == 64 and attrs["converted_from"]["compression"] == "zstd"
    assert main(["dataset", "verify", str(target)]) == 0


def test_a_damaged_source_is_named_and_nothing_is_written(capsys, tmp_path, two_lanes):
    source = copy_store(two_lanes, tmp_path / "damaged.zarr")
    flip_byte(source, "lanes/1/hidden", 1)
    assert main(["dataset", "convert", str(source), str(tmp_path / "out.h5")]) == 2
    err = capsys.readouterr().err.strip()
    assert "chunk 1 of lanes/1/hidden (rows 64..127) does not match its checksum" in err and "\n" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["damaged.zarr"]


def test_outputs_follow_the_output_rules(capsys, tmp_path, two_lanes):
    existing = tmp_path / "taken.h5"
    existing.write_bytes(b"mine")
    assert main(["dataset", "convert", str(two_lanes), str(existing), "--overwrite"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"amn dataset: error: {existing} exists and is not a teacher store written by actor-mimic: it is never "
        "replaced (--overwrite only replaces those); move it away or choose another TARGET"
    )
    assert existing.read_bytes() == b"mine"
    store = tmp_path / "s.h5"
    assert main(["dataset", "convert", str(two_lanes), str(store)]) == 0
    before = store.read_bytes()
    assert main(["dataset", "convert", str(two_lanes), str(store)]) == 2
    assert capsys.readouterr().err.strip().endswith(f"{store} already exists: pass --overwrite to replace it")
    assert store.read_bytes() == before
    assert main(["dataset", "convert", str(two_lanes), str(store), "--overwrite", "--compression", "gzip"]) == 0
    assert open_backend(store, "r").read_attrs()["compression"] == "gzip"
    interrupted = copy_store(two_lanes, tmp_path / "cut.zarr")
    mark_incomplete(interrupted)
    assert main(["dataset", "convert", str(interrupted), str(tmp_path / "cut.h5")]) == 2
    assert "is incomplete" in capsys.readouterr().err and not (tmp_path / "cut.h5").exists()
    assert main(["dataset", "convert", str(two_lanes), str(tmp_path / "x.zarr"), "--compression", "brotli"]) == 2
    assert "unknown compression 'brotli'" in capsys.readouterr().err and not (tmp_path / "x.zarr").exists()
    assert main(["dataset", "convert", str(two_lanes), str(two_lanes / "inner.zarr")]) == 2
    assert "is the source store or lies inside it" in capsys.readouterr().err

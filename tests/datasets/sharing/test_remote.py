"""Stores moved through fsspec (`amn dataset push` / `pull`) and read from URLs.

Real tiny stores (conftest.py), real filesystems: file:// URLs, fsspec's in-memory one and a
local HTTP server (http.server, 127.0.0.1 only). Every copy is compared array by array.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import fsspec
import numpy as np
import pytest

from actor_mimic.cli import main
from actor_mimic.datasets import TeacherDataset, make_loader
from actor_mimic.datasets.inspection import verify_store
from actor_mimic.datasets.sharing.transfer_files import safe_key, store_name
from actor_mimic.errors import UserError
from actor_mimic.store import ROOT_METADATA, StoreFile, open_backend, store_files
from tests.datasets.conftest import flip_byte, raw_arrays


def amn(*argv) -> int:
    return main(["dataset", *map(str, argv)])


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("amn dataset: error: "), lines
    return lines[0]


def assert_same_store(a, b) -> None:
    left, right = raw_arrays(a), raw_arrays(b)
    assert left.keys() == right.keys()
    for name in left:
        assert left[name].dtype == right[name].dtype and np.array_equal(left[name], right[name]), name


def data_chunks(store) -> int:
    backend = open_backend(store, "r")
    files = store_files(backend, backend.read_attrs())
    return sum(f.array is not None for f in files), len(files)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_folder(tmp_path):
    """(folder, base URL): a plain HTTP server on 127.0.0.1 serving `folder`."""
    folder = tmp_path / "served"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_push_to_a_file_url_then_pull_back_is_exact(breakout_zarr, tmp_path, capsys):
    url = f"file://{tmp_path}/remote/breakout.zarr"
    _chunks, files = data_chunks(breakout_zarr)
    assert amn("push", "--no-progress", breakout_zarr, url) == 0
    assert f"{files} file(s) uploaded, 0 already there" in capsys.readouterr().out
    assert amn("push", "--no-progress", breakout_zarr, url) == 0  # the same push again: nothing to do
    assert f"0 file(s) uploaded, {files} already there" in capsys.readouterr().out
    assert amn("pull", "--no-progress", url, tmp_path / "got") == 0
    pulled = tmp_path / "got" / "breakout.zarr"
    assert verify_store(pulled) == []
    assert_same_store(breakout_zarr, pulled)
    assert (pulled / "README.md").read_bytes() == (breakout_zarr / "README.md").read_bytes()
    assert not (tmp_path / "got" / "breakout.zarr.partial").exists()
    assert amn("pull", "--no-progress", url, tmp_path / "got") == 2
    assert "already exists: pass --overwrite to replace it" in one_error_line(capsys)
    assert amn("pull", "--no-progress", "--overwrite", url, tmp_path / "got") == 0
    assert_same_store(breakout_zarr, pulled)


def test_memory_round_trip(breakout_zarr, tmp_path):
    url = "memory://amn-test/stores/breakout.zarr"
    try:
        assert amn("push", "--no-progress", breakout_zarr, url) == 0
        assert amn("pull", "--no-progress", url, tmp_path) == 0
        assert_same_store(breakout_zarr, tmp_path / "breakout.zarr")
    finally:
        fsspec.filesystem("memory").rm("/amn-test", recursive=True)


def test_an_interrupted_pull_resumes_and_completes(breakout_zarr, tmp_path, capsys):
    url = f"file://{breakout_zarr}"
    # What a pull killed midway leaves: some chunks, one of them torn, one missing, no root document.
    partial = tmp_path / "breakout.zarr.partial"
    shutil.copytree(breakout_zarr, partial)
    (partial / ROOT_METADATA).unlink()
    (partial / "lanes/0/frames/c/3/0/0").unlink()
    flip_byte(breakout_zarr, "lanes/0/q_values", 2)  # damage the source copy's chunk, then take it
    damaged = (breakout_zarr / "lanes/0/q_values/c/2/0").read_bytes()
    flip_byte(breakout_zarr, "lanes/0/q_values", 2)  # (flipped back: the source is sound again)
    (partial / "lanes/0/q_values/c/2/0").write_bytes(damaged)
    assert amn("info", partial) == 2  # not a store yet
    assert "cannot open as a Zarr store" in one_error_line(capsys)
    chunks, files = data_chunks(breakout_zarr)
    assert amn("pull", "--no-progress", url, tmp_path) == 0
    # metadata and checksums are always fetched again; of the chunks, only the 2 bad ones
    fetched = files - chunks + 2
    assert f"{fetched} file(s) fetched, {chunks - 2} kept from before" in capsys.readouterr().out
    assert_same_store(breakout_zarr, tmp_path / "breakout.zarr")
    assert not partial.exists()


def test_a_damaged_remote_chunk_fails_the_pull_and_installs_nothing(breakout_zarr, tmp_path, capsys):
    remote = tmp_path / "remote" / "breakout.zarr"
    shutil.copytree(breakout_zarr, remote)
    flip_byte(remote, "lanes/0/frames", 4)
    assert amn("pull", "--no-progress", f"file://{remote}", tmp_path / "got") == 2
    line = one_error_line(capsys)
    assert f"file://{remote}: chunk 4 of lanes/0/frames does not match its recorded CRC-32C" in line
    assert "nothing was installed at" in line
    assert not (tmp_path / "got" / "breakout.zarr").exists()
    assert not (tmp_path / "got" / "breakout.zarr.partial" / ROOT_METADATA).exists()  # never a store


def test_info_and_verify_read_a_store_over_http(breakout_zarr, http_folder, capsys):
    folder, base = http_folder
    shutil.copytree(breakout_zarr, folder / "breakout.zarr")
    url = f"{base}/breakout.zarr"
    assert amn("info", "--json", url) == 0
    import json

    remote = json.loads(capsys.readouterr().out)["stores"][0]
    assert amn("info", "--json", breakout_zarr) == 0
    local = json.loads(capsys.readouterr().out)["stores"][0]
    card = (breakout_zarr / "README.md").stat().st_size
    assert remote["path"] == url and remote["bytes_on_disk"] == local["bytes_on_disk"] - card
    for key in ("game", "steps", "episodes", "return_mean", "raw_bytes", "complete", "expert_sha256"):
        assert remote[key] == local[key], key
    assert amn("verify", url) == 0
    assert capsys.readouterr().out == f"{url}: ok\n"
    flip_byte(folder / "breakout.zarr", "lanes/0/hidden", 1)
    assert amn("verify", url) == 2
    err = capsys.readouterr().err
    assert f"{url}: chunks: chunk 1 of lanes/0/hidden (rows 64..127) does not match its checksum" in err
    assert amn("info", f"{base}/nowhere.zarr") == 2
    assert f"teacher store {base}/nowhere.zarr does not exist" in one_error_line(capsys)


def test_pull_over_http_needs_no_directory_listing(breakout_zarr, http_folder, tmp_path):
    folder, base = http_folder
    shutil.copytree(breakout_zarr, folder / "breakout.zarr")
    # A server that lists nothing: every file is named from the store's metadata.
    (folder / "breakout.zarr" / "index.html").write_text("no listing here")
    assert amn("pull", "--no-progress", f"{base}/breakout.zarr", tmp_path) == 0
    assert_same_store(breakout_zarr, tmp_path / "breakout.zarr")
    assert not (tmp_path / "breakout.zarr" / "index.html").exists()


def test_the_loader_reads_a_store_by_url_exactly_as_by_path(breakout_zarr, http_folder):
    folder, base = http_folder
    shutil.copytree(breakout_zarr, folder / "breakout.zarr")
    options = {"batch_size": 64, "seed": 3, "block_chunks": 1, "shuffle_buffer": 128}
    by_url = list(make_loader(TeacherDataset(f"{base}/breakout.zarr"), **options))
    by_path = list(make_loader(TeacherDataset(breakout_zarr), **options))
    assert len(by_url) == len(by_path) > 1
    for remote, local in zip(by_url, by_path):
        assert remote.keys() == local.keys()
        for key in local:
            assert remote[key].dtype == local[key].dtype and bool((remote[key] == local[key]).all()), key


def test_file_names_that_leave_the_folder_are_refused(breakout_zarr, tmp_path, monkeypatch, capsys):
    for name in ("../x", "/etc/passwd", "a/../../x", "a\\..\\x", "C:x", "", ".", "a//b"):
        with pytest.raises(UserError, match="refusing the file name"):
            safe_key(name, "test")
    assert safe_key("lanes/0/frames/c/0/0", "test") == "lanes/0/frames/c/0/0"
    with pytest.raises(UserError, match="refusing the file name '..'"):
        store_name("http://127.0.0.1/a/..")
    # A remote store whose listing names a file outside the target folder.
    import actor_mimic.datasets.sharing.pull as pull_module

    monkeypatch.setattr(
        pull_module, "store_files", lambda backend, attrs: [StoreFile("../x"), StoreFile(ROOT_METADATA)]
    )
    assert amn("pull", "--no-progress", f"file://{breakout_zarr}", tmp_path / "got") == 2
    assert "refusing the file name '../x'" in one_error_line(capsys)
    assert not (tmp_path / "x").exists() and not (tmp_path / "got" / "breakout.zarr").exists()


def test_push_never_replaces_what_is_not_a_teacher_store(breakout_zarr, tmp_path, capsys):
    foreign = tmp_path / "remote" / "breakout.zarr"
    foreign.mkdir(parents=True)
    (foreign / "thesis.tex").write_text("mine")
    assert amn("push", "--no-progress", "--overwrite", breakout_zarr, f"file://{foreign}") == 2
    assert "holds files that are not part of this store (e.g. thesis.tex)" in one_error_line(capsys)
    assert sorted(p.name for p in foreign.iterdir()) == ["thesis.tex"]


def test_user_mistakes_are_one_line(breakout_zarr, tmp_path, capsys):
    assert amn("pull", "--no-progress", "nosuch://x/breakout.zarr", tmp_path) == 2
    assert "unknown protocol nosuch://" in one_error_line(capsys)
    assert amn("push", "--no-progress", breakout_zarr, "http://127.0.0.1:9/breakout.zarr") == 2
    assert "http(s) URLs are read-only" in one_error_line(capsys)
    assert amn("pull", "--no-progress", f"file://{tmp_path}/none.zarr", tmp_path / "got") == 2
    assert f"teacher store {tmp_path}/none.zarr does not exist" in one_error_line(capsys)


def test_hdf5_store_round_trip_with_its_card(breakout_h5, tmp_path, capsys):
    url = f"file://{tmp_path}/remote/breakout.h5"
    assert amn("push", "--no-progress", breakout_h5, url) == 0
    card = breakout_h5.with_name(breakout_h5.name + ".README.md")
    assert (tmp_path / "remote" / "breakout.h5.README.md").read_bytes() == card.read_bytes()
    assert amn("pull", "--no-progress", url, tmp_path / "got") == 0
    pulled = tmp_path / "got" / "breakout.h5"
    assert pulled.read_bytes() == breakout_h5.read_bytes()
    assert (tmp_path / "got" / "breakout.h5.README.md").read_bytes() == card.read_bytes()
    # an interrupted HDF5 pull continues from the bytes it has
    pulled.unlink()
    (tmp_path / "got" / "breakout.h5.partial").write_bytes(breakout_h5.read_bytes()[:4096])
    capsys.readouterr()
    assert amn("pull", "--no-progress", "--overwrite", url, tmp_path / "got") == 0
    assert pulled.read_bytes() == breakout_h5.read_bytes()

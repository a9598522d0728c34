"""`amn dataset ACTION --config FILE.yaml`: the file's options reach the action, flags win."""

from __future__ import annotations

import json

import pytest

from actor_mimic.cli import main
from actor_mimic.datasets.inspection import summarize
from tests.datasets.conftest import copy_store


def settings_file(tmp_path, text: str) -> str:
    path = tmp_path / "options.yaml"
    path.write_text(text)
    return str(path)


def test_convert_takes_compression_and_chunk_len_from_the_file(tmp_path, breakout_zarr, capsys):
    config = settings_file(tmp_path, "compression: lz4:3\nchunk_len: 64\n")
    assert main(["dataset", "convert", "--config", config, str(breakout_zarr), str(tmp_path / "a.h5")]) == 0
    converted = summarize(tmp_path / "a.h5")
    assert (converted["chunk_len"], converted["compression"]) == (64, "lz4:3")

    # A flag typed overrides the file's value, wherever it stands; the file's others stay.
    argv = ["dataset", "convert", str(breakout_zarr), str(tmp_path / "b.h5"), "--chunk-len", "32", "--config", config]
    assert main(argv) == 0
    converted = summarize(tmp_path / "b.h5")
    assert (converted["chunk_len"], converted["compression"]) == (32, "lz4:3")


def test_card_writes_with_the_license_of_the_file(tmp_path, breakout_zarr, capsys):
    store = copy_store(breakout_zarr, tmp_path / "breakout.zarr")
    config = settings_file(tmp_path, "write: true\nlicense: cc-by-4.0\n")
    assert main(["dataset", "card", str(store), "--config", config]) == 0
    assert "license: cc-by-4.0" in (store / "README.md").read_text()
    assert main(["dataset", "card", str(store), "--config", config, "--license", "mit"]) == 0
    assert "license: mit" in (store / "README.md").read_text()


def test_info_prints_json_when_the_file_says_so(tmp_path, breakout_zarr, capsys):
    config = settings_file(tmp_path, "json: true\n")
    capsys.readouterr()
    assert main(["dataset", "info", str(breakout_zarr), "--config", config]) == 0
    assert json.loads(capsys.readouterr().out)["stores"][0]["steps"] == summarize(breakout_zarr)["steps"]
    assert main(["dataset", "info", str(breakout_zarr), "--config", config, "--no-json"]) == 0
    assert capsys.readouterr().out.startswith(str(breakout_zarr))


def test_export_minari_takes_its_folder_and_author_from_the_file(tmp_path, breakout_zarr, capsys, monkeypatch):
    minari = pytest.importorskip("minari")
    root = tmp_path / "datasets"
    config = settings_file(tmp_path, f"data_path: {root}\nauthor: Ada\nauthor_email: ada@example.org\n")
    argv = ["dataset", "export-minari", str(breakout_zarr), "atari/breakout/options-v0", "--config", config]
    assert main([*argv, "--author", "Grace"]) == 0
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    metadata = minari.load_dataset("atari/breakout/options-v0").storage.metadata
    assert (metadata["author"], metadata["author_email"]) == ({"Grace"}, {"ada@example.org"})

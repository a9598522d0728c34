"""`amn dataset info` and `amn dataset verify` on real stores, sound and damaged."""

import json

import numpy as np

from actor_mimic.cli import main
from actor_mimic.datasets import TeacherDataset
from actor_mimic.store import bytes_on_disk, open_backend
from tests.datasets.conftest import copy_store, edit_row, mark_incomplete


def run(capsys, *argv):
    status = main(["dataset", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_info_reports_each_store_and_each_game(capsys, breakout_zarr, breakout_h5, pong_conv_zarr):
    status, out, _ = run(capsys, "info", "--json", str(breakout_zarr), str(breakout_h5), str(pong_conv_zarr))
    assert status == 0
    report = json.loads(out)
    breakout, breakout_hdf5, pong = report["stores"]
    ds = TeacherDataset(breakout_zarr)
    assert (breakout["game"], breakout["steps"], breakout["episodes"]) == ("breakout", 700, ds.num_episodes)
    assert breakout["return_mean"] == ds.episode_returns.mean() and breakout["return_max"] == ds.episode_returns.max()
    assert breakout["bytes_on_disk"] == bytes_on_disk(breakout_zarr)
    # raw: 700 rows of frames, actions, rewards, flags, lives, 4 float32 Q-values, 512 float16 activations.
    raw = 700 * (84 * 84 + 2 + 4 + 1 + 1 + 2 + 4 * 4 + 512 * 2)  # no stored episode table since schema 2
    assert breakout["raw_bytes"] == raw and breakout["compression_ratio"] == raw / breakout["bytes_on_disk"]
    assert (breakout["backend"], breakout_hdf5["backend"], breakout["chunk_len"]) == ("zarr", "hdf5", 64)
    assert breakout["q_dtype"] == "float32" and breakout["hidden_dtype"] == "float16" and breakout["complete"] is True
    assert breakout["expert_untrained"] is True and len(breakout["expert_sha256"]) == 12
    assert breakout["behaviour"] == "expert (epsilon 1.0)" and pong["hidden_size"] == 3136
    games = {game["game"]: game for game in report["games"]}
    assert games["breakout"]["stores"] == 2 and games["breakout"]["steps"] == 1400
    assert games["breakout"]["episodes"] == 2 * ds.num_episodes and games["pong"]["steps"] == 300

    status, out, _ = run(capsys, "info", str(breakout_zarr), str(pong_conv_zarr))
    assert status == 0 and "compression" in out and "random init, untrained" in out and "per game:" in out


def test_verify_passes_sound_stores(capsys, breakout_zarr, breakout_h5, pong_conv_zarr):
    status, out, err = run(capsys, "verify", str(breakout_zarr), str(breakout_h5), str(pong_conv_zarr))
    assert status == 0 and err == "" and out.count(": ok") == 3


def test_verify_names_every_problem_in_one_line_each(capsys, tmp_path, breakout_zarr, breakout_h5):
    nan_store = copy_store(breakout_h5, tmp_path / "nan.h5")
    q_values = open_backend(nan_store, "r").array("lanes/0/q_values")[123]
    q_values[1] = np.inf
    edit_row(nan_store, "lanes/0/q_values", 123, q_values)
    flagged = copy_store(breakout_zarr, tmp_path / "flagged.zarr")
    edit_row(flagged, "lanes/0/terminated", 10, True)  # an end flag inside the first episode
    cut = copy_store(breakout_zarr, tmp_path / "cut.zarr")
    mark_incomplete(cut)
    status, out, err = run(capsys, "verify", str(breakout_zarr), str(nan_store), str(flagged), str(cut),
                           str(tmp_path / "missing.zarr"))  # fmt: skip
    assert status == 2 and out.strip() == f"{breakout_zarr}: ok"
    lines = err.strip().splitlines()
    assert len(lines) == 4, lines
    assert lines[0] == f"{nan_store}: rows: q_values hold NaN or infinite values, first at lane 0 step 123"
    assert lines[1].startswith(f"{flagged}: lane 0 ends ") and "episodes in its flags but its commit says" in lines[1]
    assert lines[2].startswith(f"{cut}: incomplete") and "--resume" in lines[2]
    assert lines[3] == f"{tmp_path / 'missing.zarr'}: teacher store {tmp_path / 'missing.zarr'} does not exist"
    status, _, _ = run(capsys, "verify", "--allow-incomplete", str(cut))
    assert status == 0


def test_info_on_a_path_that_is_not_a_store_is_one_line_and_exit_2(capsys, tmp_path):
    (tmp_path / "notes.h5").write_text("not hdf5")
    status, out, err = run(capsys, "info", str(tmp_path / "notes.h5"))
    assert status == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "neither a Zarr directory nor an HDF5 file" in err

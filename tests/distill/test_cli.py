"""`amn distill` end to end: fit, logs, export, resume, validate, and clean refusals."""

from __future__ import annotations

import csv
import shutil

import pytest
import torch

from actor_mimic.cli import main
from actor_mimic.common.checkpoint import load_checkpoint, read_metadata
from actor_mimic.store import open_backend
from tests.distill.conftest import write_config


@pytest.fixture(scope="module")
def first_fit(tmp_path_factory, stores):
    """One `amn distill fit` of 6 steps; returns (its folder, its version folder)."""
    folder = tmp_path_factory.mktemp("cli")
    config = write_config(folder, stores, max_steps=6)
    assert main(["distill", "fit", "--config", config]) == 0
    return folder, folder / "runs" / "distill" / "version_0"


def test_fit_writes_logs_checkpoints_and_the_shared_export(first_fit):
    _, run = first_fit
    assert (run / "config.yaml").is_file()
    assert list(run.glob("events.out.tfevents.*"))  # TensorBoard
    assert (run / "checkpoints" / "last.ckpt").is_file()
    with open(run / "metrics.csv") as handle:  # CSV, in the same folder
        columns = next(csv.reader(handle))
    for game in ("pong", "breakout"):
        for name in ("policy_loss", "feature_loss", "kl", "agreement"):
            assert f"val/{game}/{name}" in columns
    metadata = read_metadata(run / "amn.safetensors")
    assert metadata.kind == "amn" and metadata.games == ["pong", "breakout"]
    assert metadata.provenance["global_step"] == 6


def test_export_from_the_lightning_checkpoint_matches_the_fit_export(first_fit, tmp_path):
    _, run = first_fit
    out = tmp_path / "exported.safetensors"
    assert main(["distill", "export", str(run / "checkpoints" / "last.ckpt"), "--out", str(out)]) == 0
    exported, at_fit_end = load_checkpoint(out), load_checkpoint(run / "amn.safetensors")
    for name, tensor in at_fit_end.network.state_dict().items():
        assert torch.equal(exported.network.state_dict()[name], tensor)
    assert exported.metadata.provenance["global_step"] == 6
    assert exported.metadata.action_sets == at_fit_end.metadata.action_sets
    # An existing checkpoint is replaced only with --overwrite; anything else never.
    export = ["distill", "export", str(run / "checkpoints" / "last.ckpt"), "--out"]
    assert main([*export, str(out)]) == 2
    assert main([*export, str(out), "--overwrite"]) == 0
    notes = tmp_path / "notes.safetensors"
    notes.write_text("my notes")
    assert main([*export, str(notes), "--overwrite"]) == 2 and notes.read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported.safetensors", "notes.safetensors"]


def test_resume_continues_from_the_checkpoint_and_validate_runs(first_fit, stores, capsys):
    folder, run = first_fit
    config = write_config(folder, stores, max_steps=9)
    last = str(run / "checkpoints" / "last.ckpt")
    assert main(["distill", "fit", "--config", config, "--ckpt_path", last]) == 0
    resumed = sorted((folder / "runs" / "distill").glob("version_*/amn.safetensors"))[-1]
    assert resumed.parent.name != "version_0"
    assert read_metadata(resumed).provenance["global_step"] == 9  # 6 restored + 3 more
    assert main(["distill", "validate", "--config", config, "--ckpt_path", last]) == 0
    # Resuming onto other games is refused before a trainer exists, in one line.
    pong_only = write_config(folder, stores, games=f'[{{game: pong, stores: ["{stores["pong"]}"]}}]', name="pong.yaml")
    capsys.readouterr()
    assert main(["distill", "fit", "--config", pong_only, "--ckpt_path", last]) == 2
    assert "last.ckpt does not fit the model of this config" in capsys.readouterr().err


def test_a_step_bounded_fit_prints_no_stray_lines(stores, tmp_path, capsys, recwarn):
    """What a newcomer reads: the bar counts epochs without Lightning's "/-2" for an unbounded
    epoch count, the model summary gives the AMN's real FLOPs, and no torch deprecation warning
    or advertisement is printed."""
    config = write_config(tmp_path, stores, max_steps=3)
    shown = ["--trainer.max_epochs", "-1", "--trainer.enable_progress_bar", "true",
             "--trainer.enable_model_summary", "true"]  # fmt: skip
    assert main(["distill", "fit", "--config", config, *shown]) == 0
    captured = capsys.readouterr()
    printed = captured.out + captured.err
    assert "Epoch 0" in printed and "/-2" not in printed
    assert "Total FLOPs: 18.7 M" in printed  # one 4x84x84 frame stack through the Nature network
    assert "Tip:" not in printed and "litlogger" not in printed
    assert not [w for w in recwarn if "LeafSpec" in str(w.message)]


def test_print_config_shows_the_resolved_settings(stores, tmp_path, capsys):
    config = write_config(tmp_path, stores)
    assert main(["distill", "fit", "--config", config, "--model.beta", "0", "--print_config"]) == 0
    printed = capsys.readouterr().out
    assert "beta: 0.0" in printed and "game: breakout" in printed


def _edited_copy(source, target, edit) -> str:
    """A copy of a real store whose attribute document `edit` changes."""
    shutil.copytree(source, target)
    backend = open_backend(target, "a")
    attrs = backend.read_attrs()
    edit(attrs)
    backend.write_attrs(attrs)
    return str(target)


def _bad_games(stores, tmp_path) -> dict:
    pong, breakout = str(stores["pong"]), str(stores["breakout"])

    def other_preprocessing(attrs):
        attrs["atari"]["frame_skip"] = attrs["preprocessing"]["frame_skip"] = 3

    def other_actions(attrs):
        attrs["action_set"] = list(range(18))

    return {
        "no games": ("[]", "no games configured"),
        "game without store": (
            f'[{{game: pong}}, {{game: breakout, stores: ["{breakout}"]}}]',
            "pong has no teacher store",
        ),
        "store of another game": (f'[{{game: pong, stores: ["{breakout}"]}}]', "holds breakout, not pong"),
        "missing store": (f'[{{game: pong, stores: ["{tmp_path}/nowhere.zarr"]}}]', "does not exist"),
        "unknown game": (f'[{{game: pongg, stores: ["{pong}"]}}]', "unknown Atari game"),
        "preprocessing differs": (
            f'[{{game: pong, stores: ["{pong}", "{_edited_copy(pong, tmp_path / "fs3.zarr", other_preprocessing)}"]}}]',
            "preprocessing",
        ),
        "action set differs": (
            f'[{{game: pong, stores: ["{_edited_copy(pong, tmp_path / "a18.zarr", other_actions)}"]}}]',
            "'action_set' must be a list of 6 whole numbers",  # inconsistent with its 6 Q-values
        ),
    }


def test_bad_configs_exit_2_with_one_line(stores, tmp_path, capsys):
    config = write_config(tmp_path, stores)
    cases = [
        ([config, "--model.bogus", "1"], "unrecognized arguments: --model.bogus"),
        ([config, "--torch_threads", "0"], "torch_threads must be between 1 and"),
        ([config, "--model.tau", "0"], "tau must be positive"),
        ([config, "--data.weighting", "uniform"], "data.weighting must be one of"),
    ]
    for index, (games, message) in enumerate(_bad_games(stores, tmp_path).values()):
        cases.append(([write_config(tmp_path, stores, games=games, name=f"bad{index}.yaml")], message))
    for extra, message in cases:
        assert main(["distill", "fit", "--config", *extra]) == 2, extra
        err = capsys.readouterr().err
        errors = [line for line in err.splitlines() if line.startswith("amn distill: error:")]
        assert len(errors) == 1 and message in errors[0], (extra, err)
        assert "Traceback" not in err


def test_a_damaged_chunk_met_in_training_is_one_line_naming_it(stores, tmp_path, capsys):
    from tests.datasets.conftest import flip_byte

    damaged = tmp_path / "damaged.zarr"
    shutil.copytree(stores["breakout"], damaged)
    for lane in (0, 1):  # 600 steps in 2 lanes of 300: every frames chunk (Zstandard)
        for index in range(300 // 64 + 1):
            flip_byte(damaged, f"lanes/{lane}/frames", index)
    games = f'[{{game: pong, stores: ["{stores["pong"]}"]}}, {{game: breakout, stores: ["{damaged}"]}}]'
    config = write_config(tmp_path, stores, games=games, name="damaged.yaml")
    assert main(["distill", "fit", "--config", config]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("amn distill: error:")]
    assert len(errors) == 1 and f"{damaged}: chunk " in errors[0] and "/frames (rows " in errors[0]
    assert "does not match its checksum" in errors[0]

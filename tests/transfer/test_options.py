"""`amn train-dqn` and `amn transfer` read --config FILE.yaml like their flags (common/settings.py)."""

from __future__ import annotations

import pytest

from actor_mimic.cli import main
from actor_mimic.common.arguments import ArgumentParser
from actor_mimic.common.atari import AtariConfig
from actor_mimic.common.settings import build, chosen, given_fields
from actor_mimic.transfer import train_dqn_cli as train_cli
from actor_mimic.transfer import transfer_cli
from actor_mimic.transfer.config import DQNConfig
from actor_mimic.transfer.options import TrainOptions, TransferOptions


def parse(command, argv: list[str]) -> dict:
    parser = ArgumentParser(prog="amn test")
    command.configure(parser)
    return chosen(parser.parse_args(argv))


def test_train_dqn_config_file_equals_the_flags_and_flags_override_it(tmp_path):
    config = tmp_path / "breakout.yaml"
    config.write_text("game: breakout\nrun_dir: runs/b\npreset: cheap\nsteps: 500000\nlearning_rate: 1e-4\n"
                      "double_dqn: false\nsticky_actions: 0.25\nprogress: false\n")  # fmt: skip
    flags = ["--game", "breakout", "--run-dir", "runs/b", "--preset", "cheap", "--steps", "500000",
             "--learning-rate", "1e-4", "--no-double-dqn", "--sticky-actions", "0.25", "--no-progress"]  # fmt: skip
    from_file = parse(train_cli, ["--config", str(config)])
    assert from_file == parse(train_cli, flags)
    assert given_fields(DQNConfig, from_file) == {"total_steps": 500000, "learning_rate": 1e-4, "double_dqn": False}
    assert given_fields(AtariConfig, from_file) == {"repeat_action_probability": 0.25}
    assert build(TrainOptions, from_file) == TrainOptions(
        game="breakout", run_dir="runs/b", preset="cheap", progress=False
    )
    overridden = parse(train_cli, ["--config", str(config), "--steps", "100", "--seed", "2"])
    assert given_fields(DQNConfig, overridden) == {
        "total_steps": 100,
        "learning_rate": 1e-4,
        "double_dqn": False,
        "seed": 2,
    }


def test_transfer_config_file_takes_lists_and_has_no_seed(tmp_path):
    config = tmp_path / "transfer.yaml"
    config.write_text("game: breakout\nout_dir: runs/t\namn: [p=a.safetensors, f=b.safetensors]\nseeds: [0, 1]\n")
    options = build(TransferOptions, parse(transfer_cli, ["--config", str(config), "--seeds", "5"]))
    assert (options.amn, options.seeds) == (["p=a.safetensors", "f=b.safetensors"], [5])
    config.write_text("game: breakout\nout_dir: runs/t\nseed: 3\n")
    with pytest.raises(Exception, match="unknown setting 'seed': did you mean seeds?"):
        parse(transfer_cli, ["--config", str(config)])


@pytest.mark.parametrize("command", ["train-dqn", "transfer"])
def test_an_unknown_key_is_one_line_naming_it(capsys, tmp_path, command):
    config = tmp_path / "settings.yaml"
    config.write_text("game: breakout\nlearning_rat: 0.001\n")
    assert main([command, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"amn {command}: error: --config {config}: unknown setting 'learning_rat'" in err
    assert "did you mean learning_rate?" in err


def test_a_required_setting_may_come_from_the_file(capsys, tmp_path):
    assert main(["transfer", "--game", "breakout"]) == 2
    assert "the following arguments are required: --out-dir" in capsys.readouterr().err
    config = tmp_path / "transfer.yaml"
    config.write_text(f"out_dir: {tmp_path / 'notes.txt'}\n")
    (tmp_path / "notes.txt").write_text("not a folder")
    assert main(["transfer", "--game", "breakout", "--config", str(config)]) == 2  # --out-dir from the file
    assert "is a file; it must name a folder" in capsys.readouterr().err

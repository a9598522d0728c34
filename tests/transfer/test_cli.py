"""`amn train-dqn`: one line and exit status 2 for bad input; a tiny run exports an expert."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time

import pytest
import torch

from actor_mimic.cli import main
from actor_mimic.common.checkpoint import load_checkpoint
from actor_mimic.transfer import run_state
from tests.transfer.test_initialisation import make_amn

TINY = ["--preset", "cheap", "--steps", "120", "--num-envs", "2", "--learning-starts", "60",
        "--replay-capacity", "200", "--batch-size", "4", "--eval-every", "1000000",
        "--final-eval-steps", "40", "--eval-num-envs", "2", "--no-progress"]  # fmt: skip


def run_cli(capsys, *argv):
    status = main(["train-dqn", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--game", "breakoot"], "unknown Atari game 'breakoot': did you mean breakout"),
        (["--game", "breakout", "--steps", "0"], "--steps must be between 1 and"),
        (["--game", "breakout", "--optimizer", "sgd"], "--optimizer must be one of"),
        (["--game", "breakout", "--fresh-head"], "--fresh-head only applies with --init"),
        (["--game", "breakout", "--export", "x.pt"], "must end in .safetensors"),
        (["--game", "breakout", "--init", "missing.safetensors"], "does not exist"),
        (["--game", "breakout", "--replay-capacity", "10"], "--replay-capacity 10 is too small"),
        (["--run-dir", "elsewhere"], "--game is required"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, argv, message):
    argv = ["--run-dir", str(tmp_path / "run"), *argv] if "--run-dir" not in argv else argv
    status, _out, err = run_cli(capsys, *argv)
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("amn train-dqn: error: ")
    assert message in err


def test_amn_with_other_preprocessing_exits_2(capsys, tmp_path):
    make_amn(tmp_path / "amn.safetensors", screen_size=64)
    status, _, err = run_cli(capsys, "--game", "breakout", "--run-dir", str(tmp_path / "r"),
                             "--init", str(tmp_path / "amn.safetensors"), *TINY)  # fmt: skip
    assert status == 2 and err.count("\n") == 1 and "preprocessing differs" in err


def test_tiny_run_exports_an_expert_and_refuses_to_overwrite_the_run(capsys, tmp_path):
    run_dir, export = tmp_path / "run", tmp_path / "experts" / "breakout.safetensors"
    status, out, err = run_cli(capsys, "--game", "breakout", "--run-dir", str(run_dir),
                               "--export", str(export), *TINY)  # fmt: skip
    assert status == 0, err
    expert = load_checkpoint(export)
    meta = expert.metadata
    assert (meta.kind, meta.num_actions, meta.games) == ("expert", 4, ["breakout"])
    assert meta.evaluation["breakout"]["epsilon"] == 0.05
    assert meta.provenance["agent_steps"] >= 120 and meta.provenance["init"] == "random"
    assert meta.provenance["dqn_config"]["n_step"] == 3
    scores = json.loads(export.with_suffix(".json").read_text())
    assert scores["random_policy"]["epsilon"] == 1.0 and scores["expert"]["steps"] >= 40
    # float16 on disk, the learner's weights up to float16 rounding.
    run_expert = load_checkpoint(run_dir / "expert.safetensors")
    assert torch.equal(run_expert.network.head.weight, expert.network.head.weight)
    # The run dir now holds a run: starting again without --resume is refused ...
    status, _, err = run_cli(capsys, "--game", "breakout", "--run-dir", str(run_dir), *TINY)
    assert status == 2 and "pass --resume" in err
    # ... and resuming with different settings too.
    status, _, err = run_cli(capsys, "--run-dir", str(run_dir), "--resume", "--n-step", "1")
    assert status == 2 and "n_step differ" in err
    # Re-exporting over the existing --export needs --overwrite, asked before anything runs.
    exported = export.read_bytes()
    status, out, err = run_cli(capsys, "--run-dir", str(run_dir), "--resume", "--export", str(export),
                               "--final-eval-steps", "40", "--no-progress")  # fmt: skip
    assert status == 2 and "breakout.safetensors already exists: pass --overwrite" in err and out == ""
    assert export.read_bytes() == exported
    # Session settings may change: the finished run is re-evaluated and re-exported.
    status, out, err = run_cli(
        capsys,
        "--run-dir",
        str(run_dir),
        "--resume",
        "--max-wall-minutes",
        "5",
        "--final-eval-steps",
        "40",
        "--no-progress",
        "--export",
        str(export),
        "--overwrite",
    )
    assert status == 0, err
    assert "resuming" in out and '"steps": ' in out
    assert load_checkpoint(export).metadata.provenance["agent_steps"] == meta.provenance["agent_steps"]
    assert sorted(p.name for p in export.parent.iterdir()) == ["breakout.json", "breakout.safetensors"]


def test_transfer_run_from_an_amn(capsys, tmp_path):
    make_amn(tmp_path / "amn.safetensors")
    status, _, err = run_cli(capsys, "--game", "breakout", "--run-dir", str(tmp_path / "r"),
                             "--init", str(tmp_path / "amn.safetensors"), *TINY)  # fmt: skip
    assert status == 0, err
    meta = load_checkpoint(tmp_path / "r" / "expert.safetensors").metadata
    assert meta.num_actions == 4 and meta.provenance["init"] == "amn"
    assert meta.provenance["amn_variant"] == "policy"


def test_init_expert_continues_the_expert_with_its_settings_and_history(capsys, tmp_path):
    first = tmp_path / "first.safetensors"
    status, _, err = run_cli(capsys, "--game", "breakout", "--run-dir", str(tmp_path / "r1"),
                             "--export", str(first), *TINY, "--eval-every", "60", "--eval-steps", "20")  # fmt: skip
    assert status == 0, err
    before = load_checkpoint(first).metadata.provenance
    # No --game, no --preset, no hyper-parameters: all come from the expert.
    second = tmp_path / "second.safetensors"
    status, _out, err = run_cli(capsys, "--init-expert", str(first), "--run-dir", str(tmp_path / "r2"),
                               "--steps", "80", "--final-eval-steps", "40", "--export", str(second),
                               "--no-progress")  # fmt: skip
    assert status == 0, err
    after = load_checkpoint(second).metadata.provenance
    assert after["init"] == "expert" and after["init_checkpoint"] == "first.safetensors"
    changed = {"seed": before["dqn_config"]["seed"] + 1, "total_steps": 80,
               "epsilon_start": before["dqn_config"]["epsilon_end"]}  # fmt: skip
    assert after["dqn_config"] == before["dqn_config"] | changed
    this_run = after["segments"][-1]
    assert after["segments"][:-1] == before["segments"] and this_run["init"] == "expert"
    assert after["agent_steps"] == before["agent_steps"] + this_run["agent_steps"]
    assert after["updates"] == before["updates"] + this_run["updates"]
    # The curve goes on from where the expert's ended.
    assert after["evaluation_curve"][: len(before["evaluation_curve"])] == before["evaluation_curve"]
    assert len(before["evaluation_curve"]) == 2 and before["evaluation_curve"][0][0] >= 60
    assert after["evaluation_curve"][-1][0] > before["agent_steps"]  # this run's, offset by the prior steps
    assert after["training_curve"][: len(before["training_curve"])] == before["training_curve"]
    assert sum(episodes for _, _, episodes in after["training_curve"]) == after["episodes"]


def test_init_expert_starts_from_the_experts_weights(tmp_path):
    from actor_mimic.common.atari import AtariConfig
    from actor_mimic.transfer.initialisation import network_from_expert

    path = tmp_path / "e.safetensors"
    status = main(["train-dqn", "--game", "breakout", "--run-dir", str(tmp_path / "r"), "--export", str(path), *TINY])
    assert status == 0
    expert = load_checkpoint(path)
    init = network_from_expert(expert, AtariConfig("breakout"))
    for name, tensor in expert.network.state_dict().items():
        assert torch.equal(init.network.state_dict()[name], tensor), name
    assert init.output_indices == [0, 1, 2, 3] and init.network.training
    assert init.provenance["prior_training"]["agent_steps"] == expert.metadata.provenance["agent_steps"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--game", "pong"], "plays breakout, not pong"),
        (["--init", "x.safetensors"], "cannot be combined with --init"),
        (["--noop-max", "0"], None),  # environment settings that keep the preprocessing are allowed
    ],
)
def test_init_expert_refuses_mismatches(capsys, tmp_path, extra, message):
    path = tmp_path / "e.safetensors"
    assert (
        main(["train-dqn", "--game", "breakout", "--run-dir", str(tmp_path / "r"), "--export", str(path), *TINY]) == 0
    )
    capsys.readouterr()
    status, _, err = run_cli(capsys, "--init-expert", str(path), "--run-dir", str(tmp_path / "r2"), *extra, *TINY)
    if message is None:
        assert status == 0, err
    else:
        assert status == 2 and err.count("\n") == 1 and message in err


def test_init_expert_refuses_an_amn(capsys, tmp_path):
    make_amn(tmp_path / "amn.safetensors")
    status, _, err = run_cli(capsys, "--init-expert", str(tmp_path / "amn.safetensors"),
                             "--run-dir", str(tmp_path / "r"), *TINY)  # fmt: skip
    assert status == 2 and "needs an expert checkpoint" in err and "use --init" in err


def test_training_curve_bins_the_logged_episodes(tmp_path):
    from actor_mimic.transfer.logs import training_curve

    (tmp_path / "episodes.csv").write_text(
        "step,env,return,length,wall_seconds\n5,0,1.0,5,0.1\n10,1,3.0,10,0.2\n11,0,-2.0,6,0.3\n30,1,4.0,20,0.4\n"
    )
    assert training_curve(tmp_path, bin_steps=10) == [[10, 2.0, 2], [20, -2.0, 1], [30, 4.0, 1]]
    assert training_curve(tmp_path / "missing") == []


def run_in_a_new_process(argv: list, stop_when=None, timeout: float = 300) -> tuple[int, str]:
    """`amn *argv` in a new Python process, sent SIGTERM once `stop_when()` holds: (status,
    stderr). Not forked from this process (tests/collect/forked.py): after the in-process runs
    of the tests above (ALE vector environments, torch), a forked train-dqn hung in CI,
    likely on a lock some thread held at the fork."""
    with tempfile.TemporaryFile("w+") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "actor_mimic", *map(str, argv)],
                                   stdout=subprocess.DEVNULL, stderr=stderr, text=True)  # fmt: skip
        started = time.monotonic()
        while process.poll() is None:
            if stop_when is not None and stop_when():
                process.send_signal(signal.SIGTERM)
                stop_when = None
            if time.monotonic() - started > timeout:
                process.kill()
                raise AssertionError(f"amn {' '.join(map(str, argv))} ran past {timeout} s")
            time.sleep(0.01)
        stderr.seek(0)
        return process.returncode, stderr.read()


def test_sigterm_saves_the_run_exits_143_and_resume_finishes_it(tmp_path):
    run_dir = tmp_path / "run"
    argv = ["train-dqn", "--game", "breakout", "--run-dir", run_dir, *TINY, "--steps", "3000",
            "--learning-starts", "3000", "--replay-capacity", "4000", "--eval-every", "500",
            "--eval-steps", "16"]  # fmt: skip
    evaluations = run_dir / "evaluations.csv"  # its header is written before training starts

    def evaluated_once() -> bool:
        return evaluations.is_file() and len(evaluations.read_text().splitlines()) > 1

    status, stderr = run_in_a_new_process(argv, stop_when=evaluated_once)
    assert status == 128 + signal.SIGTERM and "Traceback" not in stderr, stderr
    step = run_state.read_state(run_state.checkpoint_dir(run_dir))["step"]
    assert 0 < step < 3000, "saved part-way, at the step it reached"
    assert not (run_dir / "expert.safetensors").exists(), "a stopped run is not evaluated or exported"
    status, stderr = run_in_a_new_process([*argv, "--resume"])
    assert status == 0, stderr
    assert load_checkpoint(run_dir / "expert.safetensors").metadata.provenance["agent_steps"] >= 3000

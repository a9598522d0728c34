"""`amn transfer`: random-init and AMN-init runs with the same seeds, curves, plot and table."""

from __future__ import annotations

import csv
import json
import math
import shutil
import signal

import pytest

from actor_mimic.cli import main
from actor_mimic.transfer import run_state
from actor_mimic.transfer.experiment import table_markdown, transfer_table
from actor_mimic.transfer.logs import read_csv
from tests.collect.forked import run_amn
from tests.transfer.test_initialisation import make_amn


def test_transfer_table_averages_evaluations_per_block():
    curves = [
        {"variant": "random", "seed": 0, "step": s, "score": v}
        for s, v in [(50, 1.0), (100, 3.0), (150, 5.0), (200, 7.0)]
    ] + [{"variant": "random", "seed": 1, "step": 100, "score": 2.0}]
    table = transfer_table(curves, ["random"], block_size=100, total_steps=300)
    assert [(r["block"], r["evaluations"]) for r in table] == [(1, 3), (2, 2), (3, 0)]
    assert table[0]["mean"] == pytest.approx(2.0)  # (1 + 3 + 2) / 3: step 100 closes block 1
    assert table[1]["mean"] == pytest.approx(6.0)
    assert math.isnan(table[2]["mean"])
    assert table_markdown(table, ["random"], "breakout").splitlines()[2] == "| random | 2.00 | 6.00 | - |"


def test_an_evaluation_counts_in_the_block_its_schedule_closes():
    # Four environments step together, so the evaluations scheduled at 50 and 100 steps came
    # a few steps later; the last one is past the budget.
    curves = [{"variant": "random", "seed": 0, "step": s, "score": v} for s, v in [(51, 1.0), (103, 5.0)]]
    by_schedule = transfer_table(curves, ["random"], block_size=50, total_steps=100, eval_every=50)
    assert [(r["evaluations"], r["mean"]) for r in by_schedule] == [(1, 1.0), (1, 5.0)]
    by_step = transfer_table(curves, ["random"], block_size=50, total_steps=100)
    assert [r["evaluations"] for r in by_step] == [0, 1], "by their steps, the last one is lost"


def test_amn_transfer_runs_both_variants_with_the_same_seeds(tmp_path, capsys):
    make_amn(tmp_path / "policy.safetensors", provenance={"beta": 0.0})
    out = tmp_path / "exp"
    argv = [
        "transfer", "--game", "breakout", "--amn", str(tmp_path / "policy.safetensors"),
        "--out-dir", str(out), "--seeds", "0", "--steps", "120", "--block-size", "60",
        "--preset", "cheap", "--num-envs", "2", "--learning-starts", "40", "--replay-capacity", "200",
        "--batch-size", "4", "--eval-every", "40", "--eval-steps", "16", "--eval-num-envs", "2",
        "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "| amn-policy |" in printed and "| random |" in printed
    with open(out / "curves.csv", newline="") as handle:
        curves = list(csv.DictReader(handle))
    assert {row["variant"] for row in curves} == {"random", "amn-policy"}
    # Every evaluation of every run is in the curves, and the table is their block mean.
    for variant in ("random", "amn-policy"):
        evaluations = read_csv(out / variant / "seed0" / "evaluations.csv")
        assert [e["step"] for e in evaluations] == [float(r["step"]) for r in curves if r["variant"] == variant]
        first_block = [e["mean"] for e in evaluations if e["step"] <= 60]
        with open(out / "table.csv", newline="") as handle:
            row = next(r for r in csv.DictReader(handle) if r["variant"] == variant and r["block"] == "1")
        assert float(row["mean"]) == pytest.approx(sum(first_block) / len(first_block))
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Running it again skips the finished runs and rewrites the same table, also on a
    # machine that has only the small files (no learner checkpoints).
    table = (out / "table.md").read_text()
    assert main(argv) == 0
    assert (out / "table.md").read_text() == table
    for variant in ("random", "amn-policy"):
        finished = json.loads((out / variant / "seed0" / "finished.json").read_text())
        assert (finished["variant"], finished["seed"], finished["agent_steps"]) == (variant, 0, 120)
        shutil.rmtree(out / variant / "seed0" / "checkpoint")
    assert main(argv) == 0
    assert (out / "table.md").read_text() == table
    assert not (out / "random" / "seed0" / "checkpoint").exists()
    # A command that trains one more seed of one variant keeps every run in the tables.
    seeds_at = argv.index("--seeds") + 1
    assert main([*argv[:seeds_at], "1", *argv[seeds_at + 1 :], "--no-random"]) == 0
    with open(out / "curves.csv", newline="") as handle:
        runs = {(row["variant"], row["seed"]) for row in csv.DictReader(handle)}
    assert runs == {("random", "0"), ("amn-policy", "0"), ("amn-policy", "1")}
    assert [line.split(" |")[0] for line in (out / "table.md").read_text().splitlines()[2:]] == [
        "| random", "| amn-policy",
    ]  # fmt: skip


def test_wall_clock_limit_stops_the_experiment_and_the_same_command_continues(tmp_path, capsys):
    make_amn(tmp_path / "policy.safetensors", provenance={"beta": 0.0})
    out = tmp_path / "exp"
    argv = [
        "transfer", "--game", "breakout", "--amn", str(tmp_path / "policy.safetensors"),
        "--out-dir", str(out), "--seeds", "0", "1", "--steps", "80", "--block-size", "40",
        "--preset", "cheap", "--num-envs", "2", "--learning-starts", "40", "--replay-capacity", "200",
        "--batch-size", "4", "--eval-every", "40", "--eval-steps", "16", "--eval-num-envs", "2",
        "--no-progress",
    ]  # fmt: skip
    assert main([*argv, "--max-wall-minutes", "0.00001"]) == 0
    assert "run the same command again" in capsys.readouterr().out
    # Stopped inside the first run (seed 0, random): saved, not finished, nothing else started.
    assert (out / "random" / "seed0" / "checkpoint").is_dir()
    assert not (out / "random" / "seed0" / "finished.json").exists()
    assert not (out / "amn-policy").exists()
    assert main(argv) == 0
    assert "run the same command again" not in capsys.readouterr().out
    for variant in ("random", "amn-policy"):
        for seed in (0, 1):
            assert json.loads((out / variant / f"seed{seed}" / "finished.json").read_text())["agent_steps"] == 80


def test_transfer_refuses_repeated_seeds(tmp_path, capsys):
    make_amn(tmp_path / "a.safetensors")
    status = main(["transfer", "--game", "breakout", "--amn", str(tmp_path / "a.safetensors"),
                   "--out-dir", str(tmp_path / "o"), "--seeds", "1", "1"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "repeats a seed" in err


def test_sigterm_saves_the_running_dqn_and_the_same_command_continues(tmp_path):
    out = tmp_path / "exp"
    argv = [
        "transfer", "--game", "breakout", "--out-dir", out, "--seeds", "0", "1", "--steps", "100000",
        "--block-size", "50000", "--preset", "cheap", "--num-envs", "2", "--learning-starts", "100000",
        "--replay-capacity", "200000", "--eval-every", "100000", "--eval-steps", "16", "--eval-num-envs", "2",
        "--no-progress",
    ]  # fmt: skip
    episodes = out / "random" / "seed0" / "episodes.csv"
    status, stderr = run_amn(*argv, stop_when=lambda: episodes.is_file(), signal_number=signal.SIGTERM)
    assert status == 128 + signal.SIGTERM and "Traceback" not in stderr, stderr
    state = run_state.read_state(run_state.checkpoint_dir(out / "random" / "seed0"))
    assert 0 < state["step"] < 100_000, "saved part-way, at the step it reached"
    assert not (out / "random" / "seed0" / "finished.json").exists()
    assert not (out / "random" / "seed1").exists(), "no later run started after the stop"

"""results/report.py: the README's tables come from the files the commands wrote.

The transfer tests read a real (tiny) `amn transfer` experiment; the report is also run as a
command on an empty work folder, where every table says it has not run yet.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from actor_mimic.cli import main
from tests.transfer.test_initialisation import make_amn

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "results" / "report.py"


def load_report():
    spec = importlib.util.spec_from_file_location("report", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = load_report()


def evaluations(folder: Path) -> list[tuple[int, float]]:
    with open(folder / "evaluations.csv", newline="") as handle:
        return [(int(row["step"]), float(row["mean"])) for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory) -> Path:
    """A finished random-init and AMN-init run on seed 0, and an AMN-init run on seed 1 with
    no random-init partner."""
    folder = tmp_path_factory.mktemp("report")
    make_amn(folder / "policy.safetensors", provenance={"beta": 0.0})
    flags = [
        "transfer", "--game", "breakout", "--amn", f"amn-policy={folder / 'policy.safetensors'}",
        "--out-dir", str(folder / "exp"), "--steps", "120", "--block-size", "60", "--preset", "cheap",
        "--num-envs", "2", "--learning-starts", "40", "--replay-capacity", "200", "--batch-size", "4",
        "--eval-every", "40", "--eval-steps", "16", "--eval-num-envs", "2", "--no-progress",
    ]  # fmt: skip
    assert main([*flags, "--seeds", "0"]) == 0
    assert main([*flags, "--seeds", "1", "--no-random"]) == 0
    return folder / "exp"


def test_curves_hold_every_evaluation_of_every_run_folder(experiment):
    curves = report.evaluation_curves(experiment)
    for variant, seed in (("random", 0), ("amn-policy", 0), ("amn-policy", 1)):
        expected = evaluations(experiment / variant / f"seed{seed}")
        got = [(r["step"], r["score"]) for r in curves if (r["variant"], r["seed"]) == (variant, seed)]
        assert got == expected and len(got) == 3
    assert len(curves) == 9


def test_summary_compares_each_variant_on_the_seeds_it_shares_with_random_init(experiment):
    curves = report.evaluation_curves(experiment)
    rows = {row["variant"]: row for row in report.transfer_summary(experiment, curves)}
    random_runs = evaluations(experiment / "random" / "seed0")
    amn_runs = evaluations(experiment / "amn-policy" / "seed0")
    target_step, target = random_runs[-1]
    amn = rows["amn-policy"]
    assert amn["seeds"] == "0", "seed 1 has no random-init run to compare with"
    assert amn["random_final_score"] == target and amn["final_score"] == amn_runs[-1][1]
    assert amn["steps_trained"] == amn_runs[-1][0]
    reached = [step for step, score in amn_runs if score >= target]
    if reached:
        assert amn["steps_to_reach_it"] == reached[0]
        assert amn["percent_of_random_steps"] == pytest.approx(100 * reached[0] / target_step)
    else:
        assert amn["steps_to_reach_it"] is None and math.isnan(amn["percent_of_random_steps"])
    first = next(step for step, score in random_runs if score >= target)
    assert rows["random"]["steps_to_reach_it"] == first
    assert amn["mean_score_over_training"] == pytest.approx(sum(score for _, score in amn_runs) / 3)
    assert amn["random_mean_score_over_training"] == pytest.approx(sum(score for _, score in random_runs) / 3)
    assert math.isnan(amn["final_score_se"]), "no spread from one seed"


def round_rows(percents: dict[tuple[str, int], dict[str, float]]) -> list[dict]:
    """Rows of the rounds table: (regime label, seed) -> game -> AMN % of expert."""
    return [{"seed": seed, "variant": label, "game": game, "amn_percent_of_expert": percent}
            for (label, seed), games in percents.items() for game, percent in games.items()]  # fmt: skip


def test_rounds_are_summarised_over_seeds_and_compared_seed_by_seed():
    only, round_ = report.ROUNDS["round-none"], report.ROUNDS["round-r1"]
    rows = round_rows({
        (only, 0): {"boxing": 80.0, "pong": 60.0}, (round_, 0): {"boxing": 100.0, "pong": 80.0},
        (only, 1): {"boxing": 90.0, "pong": 90.0}, (round_, 1): {"boxing": 70.0, "pong": 70.0},
        (only, 2): {"boxing": 40.0, "pong": 40.0},  # the round of seed 2 has not run
    })  # fmt: skip
    summary = {row["variant"]: row for row in report.rounds_summary(rows)}
    # expert data only: seed means 70, 90, 40 -> mean 66.67, s.e. sqrt(633.3 / 3)
    assert summary[only]["seeds"] == "0 1 2" and summary[only]["mean_percent"] == pytest.approx(200 / 3)
    assert summary[only]["mean_percent_se"] == pytest.approx(math.sqrt(1900 / 6 / 3 * 2))
    assert summary[only]["min_percent"] == pytest.approx(190 / 3)  # pong: (60 + 90 + 40) / 3
    assert summary[round_]["mean_percent"] == 80.0 and summary[round_]["mean_percent_se"] == 10.0
    assert summary[round_]["min_percent"] == 75.0  # pong: (80 + 70) / 2
    assert summary[only]["seeds_won"] == summary[round_]["seeds_won"] == "1 of 2"  # seed 2 is unpaired
    # per-seed differences on the paired seeds: 90 - 70 = 20 and 70 - 90 = -20
    assert summary[round_]["paired_gain"] == 0.0 and summary[round_]["paired_gain_se"] == 20.0
    assert math.isnan(summary[only]["paired_gain"])
    by_game = {row["game"]: row for row in report.rounds_by_game(rows)}
    assert by_game["boxing"]["round-none_percent"] == 70.0 and by_game["boxing"]["round-r1_percent"] == 85.0
    assert by_game["boxing"]["gain"] == 15.0 and by_game["boxing"]["round-r1_se"] == 15.0


def test_round_runs_are_named_by_regime_and_seed(tmp_path):
    for name in ("round-r1", "round-none", "round-r1-seed2", "round-none-seed10", "round-r1-old", "policy-tau1"):
        (tmp_path / "eval" / name).mkdir(parents=True)
    only, round_ = report.ROUNDS["round-none"], report.ROUNDS["round-r1"]
    assert report.round_runs(tmp_path) == {
        "round-none": (only, 0), "round-none-seed10": (only, 10),
        "round-r1": (round_, 0), "round-r1-seed2": (round_, 2),
    }  # fmt: skip


def test_block_table_and_plot_take_the_finished_runs_of_a_variant_that_has_some(experiment, tmp_path):
    curves = report.evaluation_curves(experiment)
    assert report.finished_curves(experiment, curves) == curves, "every run of the experiment finished"
    # A copy whose amn-policy seed 1 is still training: only its finished seed 0 is kept.
    copy = tmp_path / "exp"
    shutil.copytree(experiment, copy, ignore=shutil.ignore_patterns("checkpoint"))
    (copy / "amn-policy" / "seed1" / "finished.json").unlink()
    kept = report.finished_curves(copy, report.evaluation_curves(copy))
    assert {(r["variant"], r["seed"]) for r in kept} == {("random", 0), ("amn-policy", 0)}
    # With no finished run, a variant keeps what it has, to show how far it got.
    (copy / "amn-policy" / "seed0" / "finished.json").unlink()
    kept = report.finished_curves(copy, report.evaluation_curves(copy))
    assert {(r["variant"], r["seed"]) for r in kept} == {("random", 0), ("amn-policy", 0), ("amn-policy", 1)}


def test_mean_and_standard_error_over_seeds():
    assert report.mean_and_se([1.0, 3.0]) == (2.0, 1.0)
    mean, se = report.mean_and_se([5.0])
    assert mean == 5.0 and math.isnan(se)


def test_standard_error_needs_two_episodes():
    assert report.standard_error(4.0, 16) == 1.0
    assert math.isnan(report.standard_error(0.0, 1)) and math.isnan(report.standard_error(5.0, 0))


def test_markdown_prints_missing_values_as_dashes_and_failures_in_bold():
    rows = [{"game": "pong", "score": float("nan"), "passed": False, "steps": None},
            {"game": "boxing", "score": 1234.5, "passed": True, "steps": 7}]  # fmt: skip
    text = report.markdown(rows, {"game": "game", "score": "score", "passed": "ok", "steps": "steps"})
    assert text.splitlines() == [
        "| game | score | ok | steps |", "|---|---|---|---|",
        "| pong | - | **no** | - |", "| boxing | 1,234 | yes | 7 |",
    ]  # fmt: skip
    assert report.markdown([], {"game": "game"}) == "_not run yet_\n"


def test_the_report_runs_before_anything_was_run(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--work", str(tmp_path / "work"), "--transfer", str(tmp_path / "none"),
         "--out", str(out), "--experts", str(ROOT / "experts"), "--mixed", str(tmp_path / "mixed")],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = (out / "README.md").read_text()
    assert "$" not in text.replace("$$", ""), "every placeholder of the template was filled"
    # every table but the zoo: datasets, two multitask tables, two mixed-teacher tables, three rounds tables,
    # two transfer tables, compute
    assert text.count("_not run yet_") == 11
    with open(out / "zoo.csv", newline="") as handle:
        zoo = list(csv.DictReader(handle))
    assert sorted(row["game"] for row in zoo) == sorted(p.stem for p in (ROOT / "experts").glob("*.json"))


def test_long_episode_games_come_from_their_own_evaluation(tmp_path):
    experts = [str(ROOT / "experts" / f"{game}.safetensors") for game in ("breakout", "boxing")]
    common = ["--steps", "60", "--seed", "0", "--no-progress"]
    assert main(["evaluate", "--experts", *experts, "--num-envs", "4", "--out", str(tmp_path / "eval/experts"),
                 *common]) == 0  # fmt: skip
    assert main(["evaluate", "--experts", *experts, "--games", "boxing", "--num-envs", "1",
                 "--out", str(tmp_path / "eval/experts/long-episodes"), *common]) == 0  # fmt: skip
    runs = report.evaluation_runs(tmp_path, "experts", ("boxing",))
    assert (runs["breakout"]["num_envs"], runs["boxing"]["num_envs"]) == (4, 1)
    assert report.evaluation_runs(tmp_path, "experts")["boxing"]["num_envs"] == 4
    assert report.evaluation_runs(tmp_path, "nothing", ("boxing",)) == {}


def test_the_mixed_teacher_table_names_each_teacher_and_compares_the_amn_with_it(tmp_path):
    """results/mixed/ as reproduce_mixed.sh leaves it: one evaluation per game and policy, the
    fit's metrics.csv; each game's teacher is read from its checkpoint in --experts."""
    import dataclasses
    import json

    from actor_mimic.common.atari import AtariConfig
    from actor_mimic.common.checkpoint import random_init_expert, save_checkpoint

    experts = tmp_path / "experts"
    for game, outputs, acting in (("breakout", "q_values", "greedy"), ("asterix", "logits", "sample")):
        expert = random_init_expert(AtariConfig(game))
        metadata = dataclasses.replace(expert.metadata, outputs=outputs, acting=acting)
        if outputs == "logits":
            metadata.provenance |= {"library": "stable-baselines3", "algorithm": "ppo"}
        save_checkpoint(experts / f"{game}.safetensors", expert.network, metadata)
    mixed = tmp_path / "mixed"
    scores = {("experts", "breakout"): (8.0, 4.0, 16), ("mixed", "breakout"): (6.0, 2.0, 9),
              ("experts", "asterix"): (500.0, 100.0, 25), ("mixed", "asterix"): (250.0, 50.0, 4)}  # fmt: skip
    for (name, game), (mean, std, episodes) in scores.items():
        folder = mixed / "eval" / name / game
        folder.mkdir(parents=True)
        run = {"role": "amn" if name == "mixed" else "expert", "game": game, "mean": mean, "std": std,
               "num_episodes": episodes}  # fmt: skip
        (folder / "evaluation.json").write_text(json.dumps({"table": [], "runs": [run]}))
    (mixed / "amn" / "mixed").mkdir(parents=True)
    (mixed / "amn" / "mixed" / "metrics.csv").write_text(
        "step,val/breakout/kl,val/breakout/agreement,val/asterix/kl,val/asterix/agreement\n"
        "4999,0.5,0.6,0.9,0.3\n19999,0.2,0.8,0.4,0.5\n"
    )
    rows = report.mixed_table(mixed, experts)
    assert [(r["teacher"], r["game"]) for r in rows] == [
        ("actor-mimic DQN (q-values)", "breakout"), ("stable-baselines3 PPO (logits)", "asterix")]  # fmt: skip
    assert [r["amn_percent_of_expert"] for r in rows] == [75.0, 50.0]
    assert [(r["held_out_kl"], r["held_out_agreement"]) for r in rows] == [(0.2, 0.8), (0.4, 0.5)]  # the last
    assert rows[0]["expert_se"] == 1.0 and rows[1]["amn_se"] == 25.0
    summary = report.mixed_summary(rows)
    assert [(s["variant"], s["mean_percent"]) for s in summary] == [
        ("Q-value teachers (DQN)", 75.0), ("logit teachers (PPO)", 50.0), ("every game", 62.5)]  # fmt: skip

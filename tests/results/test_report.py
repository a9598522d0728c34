"""results/report.py: the README's tables come from the files the commands wrote.

The transfer tests read a real (tiny) `amn transfer` experiment; the diagnosis tests the
`amn diagnose play` files kept in results/diagnosis/; the report is also run as a command on
an empty work folder, where every table says it has not run yet, and on the committed tables
alone, where it must give back the committed README.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from actor_mimic.cli import main
from actor_mimic.errors import UserError
from actor_mimic.transfer.experiment import evaluation_curves
from tests.transfer.test_initialisation import make_amn

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "results"
SCRIPT = RESULTS / "report.py"
sys.path.insert(0, str(RESULTS))  # report.py and its modules, as `python results/report.py` finds them
import report  # noqa: E402
import report_diagnosis  # noqa: E402
import report_transfer  # noqa: E402


def run_report(*args: str) -> subprocess.CompletedProcess:
    """The report as a command (its exit status and what it prints)."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False, cwd=ROOT)


def report_main(monkeypatch, capsys, *args: str) -> str:
    """report.main() in this process (faster: no new interpreter), from the repository's root;
    returns what it printed."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["report.py", *args])
    report.main()
    return capsys.readouterr().out


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
    curves = evaluation_curves(experiment)
    for variant, seed in (("random", 0), ("amn-policy", 0), ("amn-policy", 1)):
        expected = evaluations(experiment / variant / f"seed{seed}")
        got = [(r["step"], r["score"]) for r in curves if (r["variant"], r["seed"]) == (variant, seed)]
        assert got == expected and len(got) == 3
    assert len(curves) == 9


def test_summary_compares_each_variant_on_the_seeds_it_shares_with_random_init(experiment):
    curves = evaluation_curves(experiment)
    rows = {row["variant"]: row for row in report_transfer.transfer_summary(experiment, curves)}
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
    curves = evaluation_curves(experiment)
    assert report_transfer.finished_curves(experiment, curves) == curves, "every run of the experiment finished"
    # A copy whose amn-policy seed 1 is still training: only its finished seed 0 is kept.
    copy = tmp_path / "exp"
    shutil.copytree(experiment, copy, ignore=shutil.ignore_patterns("checkpoint"))
    (copy / "amn-policy" / "seed1" / "finished.json").unlink()
    kept = report_transfer.finished_curves(copy, evaluation_curves(copy))
    assert {(r["variant"], r["seed"]) for r in kept} == {("random", 0), ("amn-policy", 0)}
    # With no finished run, a variant keeps what it has, to show how far it got.
    (copy / "amn-policy" / "seed0" / "finished.json").unlink()
    kept = report_transfer.finished_curves(copy, evaluation_curves(copy))
    assert {(r["variant"], r["seed"]) for r in kept} == {("random", 0), ("amn-policy", 0), ("amn-policy", 1)}


def test_mean_and_standard_error_over_seeds():
    assert report_transfer.mean_and_se([1.0, 3.0]) == (2.0, 1.0)
    mean, se = report_transfer.mean_and_se([5.0])
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
    result = run_report("--work", str(tmp_path / "work"), "--transfer", str(tmp_path / "road_runner"),
                        "--out", str(out), "--experts", str(ROOT / "experts"), "--mixed", str(tmp_path / "mixed"),
                        "--diagnosis", str(tmp_path / "diagnosis"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = (out / "README.md").read_text()
    assert "$" not in text.replace("$$", ""), "every placeholder of the template was filled"
    # every table but the zoo: datasets, two multitask tables, the mixed-teacher tables (one line), three
    # rounds tables, two diagnosis tables, two transfer tables per target (road_runner, breakout), compute
    assert text.count("_not run yet") == 14
    assert report.MIXED_NOT_RUN in text
    assert "not run yet (nothing in" in result.stdout and "transfer to road_runner: 0 evaluations" in result.stdout
    with open(out / "zoo.csv", newline="") as handle:
        zoo = list(csv.DictReader(handle))
    assert sorted(row["game"] for row in zoo) == sorted(p.stem for p in (ROOT / "experts").glob("*.json"))


def test_a_fresh_clone_regenerates_the_committed_readme_from_the_committed_tables(tmp_path, monkeypatch, capsys):
    """No work folder (its runs are another session's): every table of results/README.md is read
    back from its committed CSV, the transfer and diagnosis sections from their committed runs."""
    out = tmp_path / "out"
    out.mkdir()
    for path in RESULTS.glob("*.csv"):
        shutil.copy(path, out)
    transfer = [str(RESULTS / "transfer" / game) for game in ("road_runner", "breakout")]
    said = report_main(monkeypatch, capsys, "--work", str(tmp_path / "work"), "--out", str(out),
                       "--transfer", *transfer)  # fmt: skip
    assert (out / "README.md").read_text() == (RESULTS / "README.md").read_text()
    for path in RESULTS.glob("*.csv"):
        assert (out / path.name).read_text() == path.read_text(), f"{path.name} is written back as it was"
    assert f"multitask: read back from {out / 'multitask.csv'} (24 rows" in said


def test_committed_cells_read_back_as_the_values_written(tmp_path):
    rows = [{"game": "pong", "steps": 100000, "mean": 16450.0, "se": float("nan"), "passed": True,
             "reached": None, "seeds": "0 1 2", "tiny": 9.96e-05}]  # fmt: skip
    report.write_csv(tmp_path / "t.csv", rows)
    (back,) = report.read_table(tmp_path / "t.csv")
    assert math.isnan(back.pop("se"))
    expected = {key: value for key, value in rows[0].items() if key != "se"}
    assert back == expected and [type(v) for v in back.values()] == [type(v) for v in expected.values()]
    assert report.read_table(tmp_path / "none.csv") == []


def test_work_rows_replace_their_committed_rows_and_the_others_are_kept(tmp_path, capsys):
    committed = [{"stage": name, "minutes": minutes} for name, minutes in (("collect", 5.0), ("distill", 30.0),
                                                                             ("evaluate", 12.0))]  # fmt: skip
    report.write_csv(tmp_path / "compute.csv", committed)
    rows = [{"stage": "distill", "minutes": 87.0}, {"stage": "transfer", "minutes": 200.0}]
    merged = report.with_committed("compute", rows, ("stage",), tmp_path / "work", tmp_path)
    assert merged == [{"stage": "collect", "minutes": 5.0}, {"stage": "distill", "minutes": 87.0},
                      {"stage": "evaluate", "minutes": 12.0}, {"stage": "transfer", "minutes": 200.0}]  # fmt: skip
    said = capsys.readouterr().out
    assert said == f"compute: 2 rows from {tmp_path / 'work'}, 2 read back from {tmp_path / 'compute.csv'}\n"
    assert report.with_committed("compute", [], ("stage",), tmp_path / "work", tmp_path) == committed
    assert report.with_committed("datasets", [], ("game",), tmp_path / "work", tmp_path) == []
    assert capsys.readouterr().out.splitlines()[-1] == f"datasets: not run yet (nothing in {tmp_path / 'work'})"


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


def test_an_amn_without_expert_runs_in_its_folder_is_compared_with_the_committed_experts(tmp_path):
    make_amn(tmp_path / "amn.safetensors")
    assert main(["evaluate", "--amn", str(tmp_path / "amn.safetensors"), "--games", "boxing", "--steps", "60",
                 "--num-envs", "2", "--seed", "0", "--no-progress",
                 "--out", str(tmp_path / "eval/new")]) == 0  # fmt: skip
    amn = report.evaluation_runs(tmp_path, "new")["boxing"]
    committed = [{"variant": "old", "game": "boxing", "expert_mean": 40.0, "expert_se": 2.5,
                  "expert_episodes": 6}]  # fmt: skip
    [row] = report.multitask_table(tmp_path, {"new": "the new AMN"}, (), committed)
    assert (row["variant"], row["game"], row["amn_mean"]) == ("the new AMN", "boxing", amn["mean"])
    assert (row["expert_mean"], row["expert_se"], row["expert_episodes"]) == (40.0, 2.5, 6)
    assert row["amn_percent_of_expert"] == 100 * amn["mean"] / 40.0
    # the work folder's own expert evaluation, when it has one, is the one compared with
    expert = str(ROOT / "experts" / "boxing.safetensors")
    assert main(["evaluate", "--experts", expert, "--steps", "60", "--num-envs", "2", "--seed", "0",
                 "--no-progress", "--out", str(tmp_path / "eval/experts")]) == 0  # fmt: skip
    played = report.evaluation_runs(tmp_path, "experts")["boxing"]
    [row] = report.multitask_table(tmp_path, {"new": "the new AMN"}, (), committed)
    assert (row["expert_mean"], row["expert_episodes"]) == (played["mean"], played["num_episodes"])
    assert report.multitask_table(tmp_path, {"new": "the new AMN"})[0]["expert_mean"] == played["mean"]


def test_the_mixed_teacher_table_names_each_teacher_and_compares_the_amn_with_it(tmp_path, monkeypatch, capsys):
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
    # the README's section: the table once the mixed AMN is evaluated (not-run text before: the test above)
    out = tmp_path / "out"
    report_main(monkeypatch, capsys, "--work", str(tmp_path / "work"), "--transfer", str(tmp_path / "none"),
                "--out", str(out), "--experts", str(experts), "--mixed", str(mixed),
                "--diagnosis", str(tmp_path / "none"))  # fmt: skip
    text = (out / "README.md").read_text()
    assert "| stable-baselines3 PPO (logits) | asterix | 500 | 20 | 25 | 250 | 25 | 4 | 50 | 0.5 | 0.4 |" in text
    assert "| logit teachers (PPO) | 50 | 50 | 1 |" in text and report.MIXED_NOT_RUN not in text


def test_each_transfer_target_has_its_section_plot_and_tables(experiment, tmp_path, monkeypatch, capsys):
    """Two targets (the template's Road Runner and Breakout sections), one with a run that has
    not finished: each its blocks, summary, runs line, plot and CSVs."""
    for game in ("road_runner", "breakout"):
        shutil.copytree(experiment, tmp_path / game, ignore=shutil.ignore_patterns("checkpoint"))
    (tmp_path / "breakout" / "amn-policy" / "seed1" / "finished.json").unlink()
    out = tmp_path / "out"
    report_main(monkeypatch, capsys, "--work", str(tmp_path / "work"), "--out", str(out),
                "--transfer", str(tmp_path / "road_runner"), str(tmp_path / "breakout"),
                "--transfer-steps", "120", "--transfer-block", "60",
                "--transfer-eval-every", "40", "--mixed", str(tmp_path / "mixed"))  # fmt: skip
    text = (out / "README.md").read_text()
    road_runner, breakout = text.split("### Road Runner")[1].split("### Breakout")
    assert "| road_runner | 0-60 | 60-120 |" in road_runner and "| breakout | 0-60 | 60-120 |" in breakout
    assert "![transfer to road_runner](transfer-road_runner.png)" in road_runner
    assert "![transfer to breakout](transfer-breakout.png)" in breakout
    assert "Runs: random: seed 0 finished; amn-policy: seeds 0 1 finished." in road_runner
    last = evaluations(experiment / "amn-policy" / "seed1")[-1][0]
    assert f"amn-policy: seed 0 finished, seed 1 not finished (last evaluation at {last:,} steps)." in breakout
    assert "not measurable yet: it needs 3 finished seeds of random init (1 so far)" in breakout
    for game in ("road_runner", "breakout"):
        assert (out / f"transfer-{game}.png").stat().st_size > 0
        summary = report.read_table(out / f"transfer_{game}_summary.csv")
        assert [(row["variant"], row["seeds"]) for row in summary] == [("random", 0), ("amn-policy", 0)]
        assert len(report.read_table(out / f"transfer_{game}_blocks.csv")) == 2 * 2  # two variants, two blocks
    # a target the template has no section for: its tables still go to CSV, and the report says so
    shutil.copytree(experiment, tmp_path / "pong", ignore=shutil.ignore_patterns("checkpoint"))
    said = report_main(monkeypatch, capsys, "--work", str(tmp_path / "work"), "--out", str(out),
                       "--transfer", str(tmp_path / "pong"), "--mixed", str(tmp_path / "mixed"))  # fmt: skip
    assert "no $transfer_pong_blocks in README.template.md: transfer_pong_blocks.csv only" in said
    assert (out / "transfer_pong_summary.csv").exists() and "pong" not in (out / "README.md").read_text()


def summary_row(variant: str, seeds: str, percent: float, final: float = 1.0) -> dict:
    return {"variant": variant, "seeds": seeds, "final_score": final, "percent_of_random_steps": percent,
            "steps_to_reach_it": None if math.isnan(percent) else 1000}  # fmt: skip


def test_the_transfer_goal_needs_three_finished_seeds_and_at_most_60_percent_of_the_steps():
    nan = float("nan")
    random_init = summary_row("random", "0 1 2", 100.0)
    verdict = report_transfer.transfer_goal([random_init, summary_row("amn-policy", "0 1 2", 60.0),
                                             summary_row("amn-fresh-head", "0 1 2", 61.0)])  # fmt: skip
    assert verdict.endswith("met by amn-policy (60%).")
    verdict = report_transfer.transfer_goal([random_init, summary_row("amn-policy", "0 1 2", nan),
                                             summary_row("amn-fresh-head", "0 1 2", 75.0)])  # fmt: skip
    assert verdict.endswith("not met (amn-policy never reached it; amn-fresh-head needed 75%).")
    # two seeds, or a third still training (no final score), do not count
    verdict = report_transfer.transfer_goal([summary_row("random", "0 1", 100.0),
                                             summary_row("amn-policy", "0 1", 40.0),
                                             summary_row("amn-fresh-head", "0 1 2", 40.0, final=nan)])  # fmt: skip
    assert verdict.endswith("not measurable yet: it needs 3 finished seeds of random init (2 so far) and of an AMN "
                            "arm on the same seeds.")  # fmt: skip


DIAGNOSIS = RESULTS / "diagnosis"


def test_the_diagnosis_table_counts_steps_and_lives_in_the_score_range():
    """The Crazy Climber runs kept in results/diagnosis/: the AMN's 1,000-point bins and the
    expert's 5,000-point bins both split at 15,000 and 20,000."""
    rows = {row["policy"]: row for row in report_diagnosis.diagnosis_table(DIAGNOSIS)}
    assert set(rows) == {"amn-policy", "amn-policy-more-data", "expert"}
    amn, expert = rows["amn-policy"], rows["expert"]
    # by_score.csv of the AMN: bins 15-16k .. 19-20k hold 6386 + 43155 + 30 + 435 + 51 steps, 6 + 1 + 0 + 0 + 1 lives
    assert amn["percent_of_steps_in_range"] == pytest.approx(100 * 50057 / 57782)
    assert amn["lives_lost_in_range"] == 8 and amn["lives_lost"] == 18
    assert amn["lives_per_1000_steps_in_range"] == pytest.approx(8000 / 50057)
    assert amn["lives_per_1000_steps_elsewhere"] == pytest.approx(10_000 / (57782 - 50057))
    assert amn["returns"] == "15,800 15,900 19,300 16,000" and amn["mean_return"] == 16750.0
    assert amn["episodes_past_range"] == 0 and amn["agreement"] == pytest.approx(0.9118, abs=1e-4)
    # the expert's one 15-20k bin: 45219 steps, 2 lives; it labels nothing (it is the expert)
    assert expert["percent_of_steps_in_range"] == pytest.approx(100 * 45219 / 56398)
    assert expert["lives_lost_in_range"] == 2 and expert["episodes_past_range"] == 4
    assert expert["agreement"] is None and expert["kl"] is None
    # the AMN fitted with both Crazy Climber stores: 893 + 23741 steps and 2 + 0 lives in 15-17k, no bin past it
    more = rows["amn-policy-more-data"]
    assert more["percent_of_steps_in_range"] == pytest.approx(100 * 24634 / 35863)
    assert (more["lives_lost_in_range"], more["lives_lost"], more["episodes_past_range"]) == (2, 19, 0)
    assert more["lives_per_1000_steps_elsewhere"] == pytest.approx(17_000 / (35863 - 24634))
    # the store table is the first policy's lookup (amn-policy: the first store alone)
    (store,) = report_diagnosis.store_table(DIAGNOSIS)
    # the AMN's lookup: 13067 + 61019 + 141 + 194 + 168 stored steps in 15-20k; 8133 above its last bin (20k)
    assert (store["steps_in_range"], store["steps_past_range"]) == (74589, 8133)
    assert (store["episodes"], store["episodes_ending_in_range"], store["episodes_past_range"]) == (14, 8, 6)
    expert_lookup = json.loads((DIAGNOSIS / "crazy_climber" / "expert" / "store_lookup.json").read_text())
    assert sum(b["store_steps"] for b in expert_lookup["by_score"] if b["low"] >= 20_000) == 8133, "the same store"


def test_the_diagnosis_refuses_a_range_its_bins_cannot_split(tmp_path, monkeypatch):
    folder = tmp_path / "crazy_climber" / "amn-policy"
    shutil.copytree(DIAGNOSIS / "crazy_climber" / "amn-policy", folder)
    monkeypatch.setitem(report_diagnosis.RANGES, "crazy_climber", (15_500.0, 20_000.0))
    with pytest.raises(UserError, match="the score bin 15,000-16,000 crosses the range 15,500-20,000"):
        report_diagnosis.diagnosis_table(tmp_path)
    shutil.copytree(folder, tmp_path / "pong" / "amn")
    result = run_report("--work", str(tmp_path / "work"), "--out", str(tmp_path / "out"), "--transfer",
                        str(tmp_path / "none"), "--diagnosis", str(tmp_path))  # fmt: skip
    assert result.returncode == 2 and not (tmp_path / "out" / "README.md").exists()
    assert result.stderr == (
        "report.py: error: no score range for pong in RANGES (results/report_diagnosis.py): add the one to compare\n"
    )
